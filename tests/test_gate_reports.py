"""The gate's reports: console summary, JUnit XML (one case per operation and check) and Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from contracts.divergences import Divergence, classify, matcher
from contracts.exchange import Exchange
from contracts.gate import GateRun
from contracts.probes import ProbeOutcome, ProbeState
from contracts.reports import junit_xml, markdown, print_summary, write_junit, write_markdown
from contracts.results import DeclaredServerError, Results, Violation

CURL = "curl -X GET -H 'X-API-Key: [Filtered]' 'http://127.0.0.1:1/api/training/jobs?limit=0'"
KNOWN = Divergence(
    "logs-limit",
    "get_logs",
    checks=("negative_data_rejection",),
    statuses=(200,),
    platform="no bounds on limit",
    contract="limit >= 1",
    reference="§5.2",
)
STALE = Divergence(
    "old-quirk", "list_jobs", ("not_a_server_error",), (500,), platform="p", contract="c", reference="§4.1"
)


def gate_run(*, strict: bool = False) -> GateRun:
    results = Results(matcher([KNOWN]))
    results.passed("list_jobs", "status_code_conformance", 3)
    broken = Violation("list_jobs", "response_schema_conformance", "success: not a boolean", CURL, "HTTP 200\n{}")
    results.failed(broken)
    answered = Exchange("GET", "/api/training/local/j/logs", query={"limit": "-1"}, status=200)
    results.failed(Violation("get_logs", "negative_data_rejection", "limit=-1 accepted", exchange=answered))
    results.skipped("stream_predictions", "stream_counter", "no prediction event arrived")
    rows = classify(results, strict=strict)
    probes = [
        ProbeOutcome(KNOWN, ProbeState.CONFIRMED, "HTTP 200"),
        ProbeOutcome(STALE, ProbeState.NOT_REPRODUCED, "answered HTTP 400", "curl http://127.0.0.1:1/x"),
    ]
    declared = [DeclaredServerError("get_errors", 503, "no training server is attached", 4)]
    return GateRun(
        rows,
        requests=42,
        duration=1.5,
        target="http://127.0.0.1:1",
        operations=["list_jobs", "get_logs"],
        probes=probes,
        declared=declared,
        successes={"list_jobs": 3, "get_logs": 0},
        strict=strict,
    )


def test_exit_code_and_reason_name_the_broken_check() -> None:
    run = gate_run()
    assert run.exit_code == 1
    assert run.reason.startswith("failed: 1 check(s) broken on 1 operation(s) (response_schema_conformance)")
    assert "42 requests" in run.reason
    assert "--seed" not in run.reason  # no seed known, no advice
    run.seed = 1234
    assert run.reason.endswith("; repeat with --seed 1234")


def test_junit_has_one_case_per_operation_and_check_with_failures_and_skips() -> None:
    root = junit_xml(gate_run()).getroot()
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {
        ("list_jobs", "status_code_conformance"),
        ("list_jobs", "response_schema_conformance"),
        ("get_logs", "negative_data_rejection"),
        ("stream_predictions", "stream_counter"),
        ("get_logs", "logs-limit"),
        ("list_jobs", "old-quirk"),
    }
    failure = cases[("list_jobs", "response_schema_conformance")].find("failure")
    assert failure is not None and CURL in (failure.text or "")
    known = cases[("get_logs", "negative_data_rejection")].find("skipped")
    assert known is not None and "known divergence logs-limit (§5.2)" in known.get("message", "")
    skipped = cases[("stream_predictions", "stream_counter")].find("skipped")
    assert skipped is not None and skipped.get("message") == "no prediction event arrived"
    assert cases[("get_logs", "logs-limit")].find("skipped") is None
    stale = cases[("list_jobs", "old-quirk")].find("skipped")
    assert stale is not None and "remove the entry" in stale.get("message", "")
    assert (root.get("tests"), root.get("failures")) == ("6", "1")


def test_strict_fails_a_divergence_that_no_longer_reproduces() -> None:
    run = gate_run(strict=True)
    root = junit_xml(run).getroot()
    stale = next(c for c in root.iter("testcase") if c.get("name") == "old-quirk")
    assert stale.find("failure") is not None
    assert root.get("failures") == "3"  # the broken check, the known divergence (strict) and the stale entry


def test_markdown_lists_failures_with_curl_known_divergences_and_skips() -> None:
    text = markdown(gate_run())
    assert "**FAILED**" in text
    assert "### `list_jobs` · `response_schema_conformance`" in text
    assert f"```sh\n{CURL}\n```" in text
    assert (
        "| `get_logs` | `negative_data_rejection` | `logs-limit` | 1 | no bounds on limit | limit >= 1 | §5.2 |" in text
    )
    assert "| `stream_predictions` | `stream_counter` | no prediction event arrived |" in text
    assert (
        "| `old-quirk` | `list_jobs` | not reproduced | answered HTTP 400: fixed upstream? remove the entry |" in text
    )
    assert "| `get_errors` | 503 | 4 | no training server is attached |" in text
    assert "| `list_jobs` | 3 | 1 | 1 | 0 | 0 | `response_schema_conformance` |" in text


def test_console_summary_shows_table_failure_and_skip_reason() -> None:
    console = Console(record=True, width=200)
    print_summary(console, gate_run())
    text = console.export_text()
    assert "list_jobs" in text and "response_schema_conformance" in text
    assert CURL in text
    assert "no prediction event arrived" in text
    assert "1 confirmed, 1 not reproduced, 0 not probed" in text
    assert "old-quirk (list_jobs): not reproduced, answered HTTP 400: fixed upstream? remove the entry" in text
    assert "get_errors · HTTP 503 x4: no training server is attached" in text


def test_reports_are_written_to_new_directories(tmp_path: Path) -> None:
    write_junit(tmp_path / "a" / "gate.xml", gate_run())
    write_markdown(tmp_path / "b" / "gate.md", gate_run())
    assert ET.parse(tmp_path / "a" / "gate.xml").getroot().tag == "testsuites"
    assert (tmp_path / "b" / "gate.md").read_text(encoding="utf-8").startswith("# ftl-gate report")
