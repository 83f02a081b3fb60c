"""The ownership check (`cross_user_access`): which parameters name whose resource, what it tries as the other
user, how it judges, and when it cannot judge (no second user, a credential the target rejects, a shared kind).

That it catches a takeover, a cross-job write and a delete without an owner check is `test_gate_defects.py`; that
it reports the platform's own holes as known divergences confirmed by probes is `test_gate_platform_double.py`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_KEY, BOB_SESSION_TOKEN, MockProcess

import spec
from contracts.cli import main
from contracts.exchange import Exchange
from contracts.ownership import CROSS_USER_ACCESS, Attempt, Read, cross_user_access, free_text, resource_slots

CONTRACT = spec.load()
OWNER = ["--api-key", ALICE_KEY, "--bearer", ALICE_SESSION_TOKEN]
OTHER = ["--other-api-key", BOB_KEY, "--other-bearer", BOB_SESSION_TOKEN]


def gate(url: str, tmp_path: Path, *args: str) -> tuple[int, dict[str, ET.Element]]:
    """Run a lean gate: its exit code and the `cross_user_access` test case of each operation."""
    junit = tmp_path / "gate.xml"
    argv = ["--base-url", url, "--max-examples", "1", "--no-stateful", "--no-live", "--seed", "1", "--quiet"]
    code = main([*argv, "--junit-xml", str(junit), *args], {})
    cases = ET.parse(junit).iter("testcase")
    return code, {c.get("classname", ""): c for c in cases if c.get("name") == CROSS_USER_ACCESS}


def skipped(case: ET.Element) -> str | None:
    found = case.find("skipped")
    return found.get("message", "") if found is not None else None


def test_the_parameters_that_name_a_resource_come_from_the_spec() -> None:
    slots = {op: {(s.location, s.pattern, s.name) for s in found} for op, found in resource_slots(CONTRACT).items()}
    assert slots["get_predictions"] == {("path", "/jobId", "job")}
    assert slots["create_predictions"] == {
        ("body", "/job_id", "job"),
        ("body", "/predictions/*/job_id", "job"),
        ("body", "/predictions/*/user_id", "job_user"),
    }
    # An upsert chooses its own id, which may be someone else's; a creator's reference to another kind.
    assert slots["create_job"] == {("body", "/job_id", "job")}
    assert slots["upload_dataset"] == {("body", "/config_id", "config")}
    assert slots["create_runpod_deployment"] == {("body", "/training_config_id", "config")}
    assert slots["get_runpod_deployment"] == {("query", "/deployment_id", "runpod")}
    assert slots["delete_baseline"] == {("query", "/id", "baseline")}
    assert "list_jobs" not in slots and "create_config" not in slots


def test_the_clean_mock_refuses_every_attempt(mock: MockProcess, tmp_path: Path) -> None:
    operations = "create_job,create_predictions,update_job_status,delete_config,stream_predictions,preview_dataset"
    code, cases = gate(mock.url, tmp_path, *OWNER, *OTHER, "--include", operations)
    assert code == 0
    assert {op: skipped(case) for op, case in cases.items()} == {op: None for op in operations.split(",")}
    # The job upsert is tried twice: with the other user's key, and with no credentials but its id in the body.
    assert cases["create_job"].find("failure") is None


def test_without_a_second_user_it_is_skipped_and_says_why(mock: MockProcess, tmp_path: Path) -> None:
    code, cases = gate(mock.url, tmp_path, *OWNER, "--include", "get_job_status,delete_baseline,list_jobs")
    assert code == 0
    assert skipped(cases["get_job_status"]) == "no credentials of another user for it (--other-api-key, --other-bearer)"
    assert skipped(cases["delete_baseline"]) == (
        "does not apply: baselines are shared by every user (§9: the contract keeps them unscoped)"
    )
    assert skipped(cases["list_jobs"]) == "does not apply: the operation names no resource another user could own"


def test_a_rejected_credential_of_the_other_user_judges_nothing(mock: MockProcess, tmp_path: Path) -> None:
    stranger = ["--other-api-key", BOB_KEY, "--other-bearer", "no-such-session"]
    code, cases = gate(mock.url, tmp_path, *OWNER, *stranger, "--include", "get_config,get_job_status")
    assert code == 0
    assert skipped(cases["get_config"]) == (
        "no credentials of another user for it (--other-api-key, --other-bearer); "
        "the other user's bearer was rejected (HTTP 401)"
    )
    assert skipped(cases["get_job_status"]) is None


def test_a_success_without_a_declared_refusal_is_judged_by_what_the_owner_reads() -> None:
    delete = CONTRACT.operation("delete_config")  # the contract answers 200 whatever matched
    sent = Exchange("DELETE", "/api/training/c1", {"id": "c1"}, status=200, text='{"success":true}')
    kept = Attempt(
        delete, "config", "/path/id", "c1", sent, (Read("get_config", 200, "{}"),), (Read("get_config", 200, "{}"),)
    )
    assert cross_user_access(kept) == []
    lost = Attempt(
        delete, "config", "/path/id", "c1", sent, (Read("get_config", 200, "{}"),), (Read("get_config", 404, ""),)
    )
    assert cross_user_access(lost) == [
        "afterwards the owner's get_config answered HTTP 404 for it (HTTP 200 before): the owner lost it"
    ]
    read = CONTRACT.operation("get_config")  # declares 404: a success is the finding itself
    shown = Attempt(read, "config", "/path/id", "c1", Exchange("GET", "/api/training/c1", status=200))
    assert cross_user_access(shown) == [
        "with the other user's credentials, HTTP 200 for the first user's config 'c1' at /path/id: "
        "another user's resource must be refused as an unknown one is"
    ]


def test_the_other_users_writes_are_marked_in_free_text_only() -> None:
    operation = CONTRACT.operation("create_predictions")
    schema = operation.request_body.content["application/json"].schema.raw  # type: ignore[union-attr]
    body = {
        "job_id": "j",
        "predictions": [{"job_id": "j", "user_id": "u", "epoch": 1, "prompt": "p", "ground_truth": "g"}],
    }
    marked = free_text(body, schema, "MARK", skip=["/job_id", "/predictions/0/job_id", "/predictions/0/user_id"])
    assert marked["predictions"][0] == {
        "job_id": "j",
        "user_id": "u",
        "epoch": 1,
        "prompt": "MARK",
        "ground_truth": "MARK",
    }
