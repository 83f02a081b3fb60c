"""The gate against a double of the hosted platform (tests/platform_double.py): green as the platform behaves today,
with every listed divergence of its operations confirmed by its probe, red with `--strict`, and red naming the
right check for one defect of each class.

The double serves the stream at a real 1.5 s heartbeat; the gate is told so with `--time-scale 0.1`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from platform_double import (
    ALICE,
    ALICE_JWT,
    ALICE_KEY,
    ALICE_WORKER_KEY,
    BOB_JWT,
    BOB_KEY,
    DEFECT_OPERATION,
    KAGGLE_RUN,
    RUNPOD_POD,
    PlatformDouble,
)
from servers import ProcessServer

import spec
from contracts.cli import main
from contracts.divergences import DEFAULT_FILE, load
from contracts.gate import check_names
from contracts.provisioning import PLACEHOLDERS

CONTRACT = spec.load()
HEARTBEAT_S = 1.5
SCALE = str(HEARTBEAT_S / (CONTRACT.stream.heartbeat_interval_ms / 1000))
OPERATIONS = PlatformDouble().operations
CHECKS = check_names(CONTRACT)
CREDENTIALS = ["--api-key", ALICE_KEY, "--bearer", ALICE_JWT, "--other-api-key", BOB_KEY, "--other-bearer", BOB_JWT]
# The gate creates no billed deployment on a target: it is given the pod and the notebook run Alice has.
EXISTING = ["--existing", f"runpod={RUNPOD_POD},kaggle={KAGGLE_RUN}"]
# The ownership holes of §1.5 and §8 the double has, by operation: the entries that list them.
HOLES = {
    "create_job": {"job-upsert-takes-over", "job-upsert-takeover-by-body-user"},
    "create_predictions": {"predictions-item-other-job", "predictions-item-other-owner"},
    "get_runpod_deployment": {"runpod-status-any-owner"},
    "delete_runpod_deployment": {"runpod-delete-any-owner"},
    "get_kaggle_deployment": {"kaggle-status-any-owner"},
}
# The check that must catch each defect class of the double.
CAUGHT_BY = {
    "status": "status_code_conformance",
    "schema": "response_schema_conformance",
    "content_type": "content_type_conformance",
    "auth_bypass": "ignored_auth",
    "server_error": "not_a_server_error",
    "lost_event": "live_prediction_delivery",
}


def serve(defect: str | None = None) -> ProcessServer:
    return ProcessServer(lambda: PlatformDouble(heartbeat_s=HEARTBEAT_S, defect=defect))


@pytest.fixture(scope="module")
def double() -> Iterator[str]:
    with serve() as server:
        yield server.url


def gate(url: str, tmp_path: Path, *args: str) -> tuple[int, dict[tuple[str, str], ET.Element]]:
    """Run ftl-gate against the double: exit code and the JUnit test cases by (classname, name)."""
    junit = tmp_path / "gate.xml"
    argv = ["--base-url", url, *CREDENTIALS, *EXISTING, "--time-scale", SCALE, "--seed", "1", "--quiet"]
    code = main([*argv, "--junit-xml", str(junit), *args], {})
    return code, {(c.get("classname", ""), c.get("name", "")): c for c in ET.parse(junit).iter("testcase")}


def failures(cases: dict[tuple[str, str], ET.Element]) -> set[tuple[str, str]]:
    return {key for key, case in cases.items() if case.find("failure") is not None}


# --- the double behaves as the reference says ----------------------------------------------------------


def path(operation_id: str, **params: str) -> str:
    return CONTRACT.operation(operation_id).path.format(**params)


def test_double_has_no_admin_api_and_answers_unknown_paths_like_nextjs(double: str) -> None:
    answer = httpx.get(f"{double}/__mock/health")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")


def test_double_shows_the_documented_quirks(double: str) -> None:
    with httpx.Client(base_url=double, timeout=10) as client:
        # A body user_id is trusted with no credentials at all (§4.4).
        created = client.post(path("create_job"), json={"job_id": "double-quirks", "user_id": ALICE})
        assert created.status_code == 200
        token = created.json()["job_token"]
        key = {"X-API-Key": ALICE_KEY}
        # A NaN epoch is a 500 (§2.1); limit has no bounds.
        assert (
            client.get(path("get_predictions", jobId="double-quirks"), params={"epoch": "x"}, headers=key).status_code
            == 500
        )
        assert (
            client.get(path("get_predictions", jobId="double-quirks"), params={"limit": 5000}, headers=key).status_code
            == 200
        )
        # Items are not checked: a missing user_id fails in the database (§2.5).
        item = {"job_id": "double-quirks", "epoch": 1, "step": 1, "sample_index": 0, "prompt": "p", "prediction": "q"}
        upload = client.post(
            path("create_predictions"),
            json={"job_id": "double-quirks", "predictions": [item]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (upload.status_code, upload.json()["error"]) == (500, "Failed to persist predictions")
        # No training server: logs without stored lines and every error report are 503 (§5.2, §5.3).
        assert client.get(path("get_logs", jobId="double-quirks"), headers=key).status_code == 503
        assert client.get(path("get_errors", jobId="double-quirks"), headers=key).status_code == 503
        # Pattern B: a key without the training scope is a 403; pattern A never answers 403 (§1.4).
        worker = {"X-API-Key": ALICE_WORKER_KEY}
        assert client.get(path("get_job_status", jobId="double-quirks"), headers=worker).status_code == 403
        assert client.get(path("get_metrics", jobId="double-quirks"), headers=worker).status_code == 401


def test_double_streams_with_a_charset_and_a_real_heartbeat(double: str) -> None:
    with httpx.Client(base_url=double, timeout=10) as client:
        client.post(path("create_job"), json={"job_id": "double-stream", "user_id": ALICE})
        stream_path = path(CONTRACT.stream.operation.operation_id, jobId="double-stream")
        with client.stream("GET", stream_path, headers={"X-API-Key": ALICE_KEY}) as response:
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            events = []
            for line in response.iter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                if len(events) == 2:
                    break
    assert events == [CONTRACT.stream.first_event, CONTRACT.stream.heartbeat_event]


# --- the gate on the double ---------------------------------------------------------------------------


@pytest.mark.slow
def test_gate_passes_the_platform_as_it_is_with_every_divergence_confirmed(double: str, tmp_path: Path) -> None:
    report = tmp_path / "gate.md"
    code, cases = gate(double, tmp_path, "--include", ",".join(OPERATIONS), "--report", str(report))
    assert (code, failures(cases)) == (0, set())
    entries = [e for e in load(DEFAULT_FILE, CONTRACT, CHECKS, PLACEHOLDERS) if e.operation in OPERATIONS]
    assert len(entries) >= 10
    # A confirmed probe is a passing test case; not reproduced or not probed would be a skip with the reason.
    unconfirmed = {e.id: skip_reason(cases[(e.operation, e.id)]) for e in entries}
    assert {name: why for name, why in unconfirmed.items() if why is not None} == {}
    text = report.read_text(encoding="utf-8")
    assert "## Declared server errors" in text
    assert "| `get_errors` | 503 |" in text
    reasons = {key: skip_reason(case) or "" for key, case in cases.items()}
    assert reasons[("create_predictions", "not_a_server_error")].startswith("known divergence predictions-")


def skip_reason(case: ET.Element) -> str | None:
    skipped = case.find("skipped")
    return skipped.get("message", "") if skipped is not None else None


def test_the_ownership_holes_are_known_divergences_confirmed_by_their_probes(double: str, tmp_path: Path) -> None:
    only = ["--include", ",".join(HOLES), "--max-examples", "3", "--no-stateful"]
    report = tmp_path / "gate.md"
    code, cases = gate(double, tmp_path, *only, "--report", str(report))
    assert (code, failures(cases)) == (0, set())
    text = report.read_text(encoding="utf-8")
    for operation, entries in HOLES.items():
        reason = skip_reason(cases[(operation, "cross_user_access")]) or ""
        assert reason.startswith("known divergence"), (operation, reason)
        for name in entries:
            # Each hole excused by its own entry, and its probe confirmed (a passing test case of its own).
            assert f"| `{operation}` | `cross_user_access` | `{name}` |" in text, name
            assert skip_reason(cases[(operation, name)]) is None and cases[(operation, name)].find("failure") is None
    code, cases = gate(double, tmp_path, *only, "--strict")
    assert code == 1
    assert {(operation, "cross_user_access") for operation in HOLES} <= failures(cases)


def test_strict_fails_on_the_known_divergences(double: str, tmp_path: Path) -> None:
    code, cases = gate(double, tmp_path, "--include", "get_predictions", "--strict")
    assert code == 1
    assert ("get_predictions", "not_a_server_error") in failures(cases)


def test_declared_server_errors_fail_when_asked(double: str, tmp_path: Path) -> None:
    code, cases = gate(double, tmp_path, "--include", "get_errors")
    assert (code, failures(cases)) == (0, set())
    code, cases = gate(double, tmp_path, "--include", "get_errors", "--declared-server-errors", "fail")
    assert code == 1
    assert ("get_errors", "not_a_server_error") in failures(cases)


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY))
def test_one_defect_of_each_class_fails_the_gate_naming_its_check(defect: str, tmp_path: Path) -> None:
    operation = DEFECT_OPERATION[defect]
    with serve(defect) as server:
        code, cases = gate(server.url, tmp_path, "--include", operation)
    assert code == 1
    assert (operation, CAUGHT_BY[defect]) in failures(cases), sorted(failures(cases))


def test_the_divergence_list_names_the_double_by_no_special_case() -> None:
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    assert "double" not in text.lower()
    assert json.dumps(ALICE_KEY) not in text
