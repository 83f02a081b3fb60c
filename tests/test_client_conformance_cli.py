"""`ftl-gate client` as a user runs it: the reference clients through every case, the naive hook's exact failures,
a scenario file added to a folder as a new case, reports and exit codes.

Each test starts the real command line as a subprocess, which starts its own mock. The expected verdicts of the
naive client below are the test's knowledge of what that client does wrong (reference §3.2), not the tool's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

TIMEOUT_S = 240
ADAPTERS = ROOT / "contracts" / "client" / "adapters"
HTTPX_SSE = f"{sys.executable} -m contracts.client.adapters.httpx_sse_client"
NODE = shutil.which("node")
NEEDS_NODE = pytest.mark.skipif(NODE is None, reason="node is not installed: the Node reference clients need it")
SCENARIOS = ROOT / "spec" / "scenarios"

# What the platform's hook does wrong, case by case (failed checks; warnings apart). Every other case passes.
NAIVE_FAILURES = {
    "chunk-split": {"events_exact"},  # state reset on every read
    "every-byte-split": {"events_exact"},
    "crlf": {"events_exact"},  # splits on \n only: the blank line is a lone \r
    "cr-line-endings": {"events_exact"},
    "multiline-data": {"events_exact"},  # a later data: line replaces an earlier one
    "data-only": {"events_exact"},  # needs both event: and data:
    "odd-frames": {"events_exact"},  # its data-only message
    "flaky": {"reconnects_after_end"},  # no reconnect on a clean end
    "server-close": {"reconnects_after_end"},
    "reconnect-pacing": {"reconnects_after_end"},
    "unauthorized": {"no_retry_on_give_up_status"},  # every error is retried, 1 s x 2^n
    "forbidden": {"no_retry_on_give_up_status"},
    "job-not-found": {"no_retry_on_give_up_status"},
}
NAIVE_WARNINGS = {
    "stall": {"detects_stall"},  # no read timeout
    "malformed-json": {"undeliverable_data_reported"},  # JSON.parse failures are only logged
    "odd-frames": {"undeliverable_data_reported"},
}
# httpx-sse 0.4 used as it comes (--plain): what the library itself breaks.
PLAIN_FAILURES = {
    "cr-line-endings": {"events_exact"},  # a CR at the end of a chunk waits for the next chunk
    "comments-id-retry": {"events_exact"},  # a retry-only message is dispatched as an empty event
    "odd-frames": {"events_exact"},  # and so is an event-only message
    "training-run": set(),
}


def gate_client(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run `python -m contracts client ...` (what `ftl-gate client` runs)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FTL_GATE_CLIENT_")}
    return subprocess.run(
        [sys.executable, "-m", "contracts", "client", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**environ, **(env or {})},
    )


def verdicts(report: dict[str, Any], verdict: str) -> dict[str, set[str]]:
    """Case -> the checks that got `verdict`, for the cases with any."""
    found = {
        case["case"]: {name for name, outcome in case["checks"].items() if outcome["verdict"] == verdict}
        for case in report["cases"]
    }
    return {case: checks for case, checks in found.items() if checks}


def run_json(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp_path / "client.json"
    result = gate_client(*args, "--json", str(report))
    assert report.is_file(), result.stdout + result.stderr
    return result, json.loads(report.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_httpx_sse_client_passes_every_case(tmp_path: Path) -> None:
    result, report = run_json(tmp_path, "--run", HTTPX_SSE)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert {case["case"] for case in report["cases"]} == {path.stem for path in SCENARIOS.glob("*.yaml")}
    assert verdicts(report, "failed") == {}
    assert verdicts(report, "warned") == {}
    assert "ftl-gate client: passed:" in result.stdout


@pytest.mark.slow
@NEEDS_NODE
def test_the_node_fetch_client_passes_every_case(tmp_path: Path) -> None:
    result, report = run_json(tmp_path, "--run", f"node {ADAPTERS / 'fetch_client.mjs'}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert verdicts(report, "failed") == {}
    assert verdicts(report, "warned") == {}


@pytest.mark.slow
@NEEDS_NODE
def test_the_naive_hook_fails_exactly_the_cases_its_behaviour_breaks(tmp_path: Path) -> None:
    junit, markdown = tmp_path / "client.xml", tmp_path / "client.md"
    command = f"node {ADAPTERS / 'naive_hook_client.mjs'}"
    result, report = run_json(tmp_path, "--run", command, "--junit-xml", str(junit), "--report", str(markdown))
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr
    assert verdicts(report, "failed") == NAIVE_FAILURES
    assert verdicts(report, "warned") == NAIVE_WARNINGS
    training = next(case for case in report["cases"] if case["case"] == "training-run")
    assert training["events"]["delivered"] == training["events"]["expected"] > 0
    assert result.stdout.strip().splitlines()[-1].startswith("ftl-gate client: failed:")
    # The reports say the same: a JUnit failure per failed check, the Markdown table and its findings.
    failures = ET.parse(junit).getroot().iter("failure")
    assert sum(1 for _ in failures) == sum(len(checks) for checks in NAIVE_FAILURES.values())
    text = markdown.read_text(encoding="utf-8")
    assert "| `crlf` |" in text
    assert "### `unauthorized` · `no_retry_on_give_up_status`" in text


def test_httpx_sse_as_it_comes_breaks_two_whatwg_rules(tmp_path: Path) -> None:
    cases = ",".join(PLAIN_FAILURES)
    result, report = run_json(tmp_path, "--run", f"{HTTPX_SSE} --plain", "--case", cases)
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr
    assert verdicts(report, "failed") == {case: checks for case, checks in PLAIN_FAILURES.items() if checks}


def test_a_scenario_file_added_to_the_folder_is_a_new_case(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "two-beats-and-a-message.yaml").write_text(
        "description: connected, a data-only message, two heartbeats\n"
        "steps:\n  - emit: connected\n  - malformed: data-only\n  - emit: heartbeat\n  - emit: heartbeat\n",
        encoding="utf-8",
    )
    result, report = run_json(tmp_path, "--run", HTTPX_SSE, "--scenarios", str(folder))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    (case,) = report["cases"]
    assert case["case"] == "two-beats-and-a-message"
    assert case["events"] == {"expected": 4, "delivered": 4}
    assert case["checks"]["events_exact"]["verdict"] == "passed"


def test_the_run_command_can_come_from_the_environment(tmp_path: Path) -> None:
    result = gate_client(env={"FTL_GATE_CLIENT_RUN": HTTPX_SSE, "FTL_GATE_CLIENT_CASE": "data-only"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "1 cases" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --run COMMAND"),
        (("--run", "x", "--scenarios", "no/such/folder"), "--scenarios: must be a folder of scenario files"),
        (("--run", "x", "--case", "no-such-case"), "--case: no scenario no-such-case in"),
        (("--run", "x", "--time-scale", "fast"), "--time-scale: must be a number > 0"),
        (("--run", "no-such-command-ftl"), "--run: the command could not be started"),
        (("--run", "true", "--case", "data-only", "--connect-timeout", "1"), "never requested the stream"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = gate_client(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ftl-gate client: error: ")
    assert message in lines[0]


def test_a_folder_without_scenarios_is_a_setup_error(tmp_path: Path) -> None:
    result = gate_client("--run", HTTPX_SSE, "--scenarios", str(tmp_path))
    assert result.returncode == 2
    assert "holds no scenario file" in result.stderr


def test_a_broken_scenario_file_names_the_file_and_step(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("steps:\n  - fly: 1\n", encoding="utf-8")
    result = gate_client("--run", HTTPX_SSE, "--scenarios", str(tmp_path))
    assert result.returncode == 2
    assert "broken.yaml: steps[0]: unknown step 'fly'" in result.stderr


def test_version_and_help_name_the_subcommand() -> None:
    assert gate_client("--version").stdout.startswith("ftl-gate client ")
    shown = gate_client("--help").stdout
    assert "FTL_GATE_CLIENT_RUN" in shown
    assert "FTL_GATE_CLIENT_SCENARIOS" in shown
