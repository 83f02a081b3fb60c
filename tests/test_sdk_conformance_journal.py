"""The journal check on requests a real ftl-mock recorded: each broken rule is reported with its field.

Every request here is sent over HTTP to the mock; the check reads it back from `GET /__mock/journal`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.sdk.findings import Finding, Severity
from contracts.sdk.journal_check import (
    CheckedRequest,
    JournalChecker,
    JournalEntry,
    KnownCredentials,
    SdkAdmin,
    declared_parameters,
    undeclared_properties,
)
from spec import Contract, load
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN, MockProcess


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load()


@pytest.fixture
def admin(mock: MockProcess) -> Iterator[SdkAdmin]:
    handle = SdkAdmin(mock.url)
    yield handle
    handle.close()


def sent(
    mock: MockProcess, admin: SdkAdmin, contract: Contract, method: str, path: str, **kwargs: Any
) -> CheckedRequest:
    """Send one request to the mock and check what its journal recorded."""
    admin.clear_journal()
    httpx.request(method, f"{mock.url}{path}", timeout=10, **kwargs)
    entries = admin.journal()
    assert len(entries) == 1, entries
    return JournalChecker(contract, admin.known_credentials()).check(entries[0])


def failures(checked: CheckedRequest) -> list[Finding]:
    return [f for f in checked.findings if f.severity is Severity.FAILURE]


KEY = {"X-API-Key": ALICE_KEY}


def test_a_conforming_request_has_no_findings(mock: MockProcess, admin: SdkAdmin, contract: Contract) -> None:
    checked = sent(
        mock, admin, contract, "GET", f"/api/training/predictions/{DEMO_JOB}", params={"limit": 2}, headers=KEY
    )
    assert checked.operation_id == "get_predictions"
    assert checked.findings == ()


def test_body_field_of_the_wrong_type_is_reported_with_its_field(
    mock: MockProcess, admin: SdkAdmin, contract: Contract
) -> None:
    checked = sent(mock, admin, contract, "POST", "/api/training/local/jobs", json={"job_id": 42}, headers=KEY)
    [finding] = failures(checked)
    assert finding.check == "body_conforms"
    assert finding.field == "body.job_id"
    assert "string" in finding.message


def test_wrong_method_is_reported_with_the_allowed_ones(mock: MockProcess, admin: SdkAdmin, contract: Contract) -> None:
    checked = sent(mock, admin, contract, "DELETE", "/api/training/jobs", headers=KEY)
    [finding] = failures(checked)
    assert finding.check == "operation_exists"
    assert "DELETE" in finding.message and "allowed: GET" in finding.message
    assert checked.operation_id is None


def test_api_key_where_only_a_session_is_accepted_is_reported(
    mock: MockProcess, admin: SdkAdmin, contract: Contract
) -> None:
    path = f"/api/training/local/{DEMO_JOB}/control"
    checked = sent(mock, admin, contract, "POST", path, json={"action": "pause"}, headers=KEY)
    [finding] = failures(checked)
    assert finding.check == "credentials_accepted"
    assert "apiKey" in finding.message and "sessionJwt" in finding.message


def test_job_token_where_keys_and_sessions_are_accepted_is_reported(
    mock: MockProcess, admin: SdkAdmin, contract: Contract
) -> None:
    headers = {"Authorization": f"Bearer {DEMO_JOB_TOKEN}"}
    checked = sent(mock, admin, contract, "GET", f"/api/training/predictions/{DEMO_JOB}/epochs", headers=headers)
    [finding] = failures(checked)
    assert finding.check == "credentials_accepted"
    assert "jobToken" in finding.message


def test_session_token_where_it_is_accepted_passes(mock: MockProcess, admin: SdkAdmin, contract: Contract) -> None:
    headers = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
    path = f"/api/training/local/{DEMO_JOB}/control"
    checked = sent(mock, admin, contract, "POST", path, json={"action": "pause"}, headers=headers)
    assert not failures(checked)


def test_missing_credentials_are_reported(mock: MockProcess, admin: SdkAdmin, contract: Contract) -> None:
    checked = sent(mock, admin, contract, "GET", "/api/training/jobs")
    [finding] = failures(checked)
    assert finding.check == "credentials_accepted"
    assert "no credentials" in finding.message


def test_undeclared_path_is_reported(mock: MockProcess, admin: SdkAdmin, contract: Contract) -> None:
    checked = sent(mock, admin, contract, "GET", "/api/v2/training/jobs", headers=KEY)
    [finding] = failures(checked)
    assert finding.check == "operation_exists"
    assert "no operation" in finding.message and finding.field == "/api/v2/training/jobs"


def test_missing_required_query_parameter_names_it(mock: MockProcess, admin: SdkAdmin, contract: Contract) -> None:
    checked = sent(mock, admin, contract, "GET", "/api/analytics/data", params={"granularity": "day"}, headers=KEY)
    assert {(f.check, f.field) for f in failures(checked)} == {
        ("parameters_conform", "startDate"),
        ("parameters_conform", "endDate"),
    }


def test_body_with_the_wrong_content_type_is_reported(mock: MockProcess, admin: SdkAdmin, contract: Contract) -> None:
    headers = {**KEY, "Content-Type": "text/plain"}
    checked = sent(
        mock, admin, contract, "POST", "/api/batch-testing/cancel", content=b'{"test_run_id":"x"}', headers=headers
    )
    assert [f.check for f in failures(checked)] == ["content_type_right"]


def test_undeclared_query_parameters_and_headers_only_warn(
    mock: MockProcess, admin: SdkAdmin, contract: Contract
) -> None:
    headers = {**KEY, "X-Trace-Me": "1"}
    checked = sent(mock, admin, contract, "GET", "/api/training/jobs", params={"page": 2}, headers=headers)
    assert not failures(checked)
    assert {(f.check, f.field) for f in checked.findings} == {
        ("query_declared", "page"),
        ("headers_used", "x-trace-me"),
    }


def test_body_members_the_schema_does_not_declare_only_warn(
    mock: MockProcess, admin: SdkAdmin, contract: Contract
) -> None:
    body = {"test_run_id": "x", "test_id": "x"}
    checked = sent(mock, admin, contract, "POST", "/api/batch-testing/cancel", json=body, headers=KEY)
    assert not failures(checked)
    assert [(f.check, f.field) for f in checked.findings] == [("body_conforms", "body.test_id")]


def test_bearer_scheme_is_told_apart_by_the_tokens_the_mock_holds(contract: Contract) -> None:
    known = KnownCredentials({DEMO_JOB_TOKEN: "jobToken", ALICE_SESSION_TOKEN: "sessionJwt"})
    entry = JournalEntry.from_json(
        {
            "method": "GET",
            "path": f"/api/training/predictions/{DEMO_JOB}",
            "headers": {"authorization": f"Bearer {ALICE_SESSION_TOKEN[:8]}…"},
        }
    )
    assert JournalChecker(contract, known).check(entry).findings == ()
    unknown = JournalChecker(contract, KnownCredentials()).check(entry)
    # Without the mock's tokens an opaque bearer may be either; the operation accepts one of them.
    assert unknown.findings == ()


def test_undeclared_properties_follow_nested_objects_and_arrays() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"type": "object", "properties": {"b": {}}}}},
        "anyOf": [{"properties": {"c": {}}}],
    }
    assert undeclared_properties(schema, {"a": [{"b": 1, "x": 2}], "c": 3, "d": 4}, "body") == ["body.a[0].x", "body.d"]
    closed = {"type": "object", "properties": {"a": {}}, "additionalProperties": False}
    assert undeclared_properties(closed, {"z": 1}, "body") == []


def test_a_parameter_the_platform_ignores_is_warned_not_failed(
    mock: MockProcess, admin: SdkAdmin, contract: Contract
) -> None:
    checked = sent(mock, admin, contract, "GET", "/api/training/jobs", params={"limit": 5, "offset": 5}, headers=KEY)
    assert failures(checked) == []
    assert [(f.check, f.field) for f in checked.findings] == [
        ("parameters_used", "limit"),
        ("parameters_used", "offset"),
    ]
    assert all("ignores it (x-ignored-by-platform)" in f.message for f in checked.findings)
    assert not sent(mock, admin, contract, "GET", "/api/training/jobs", headers=KEY).findings


def test_the_contract_marks_the_ignored_parameters_machine_readably(contract: Contract) -> None:
    marked = {
        (op.operation_id, str(p["name"]))
        for op in contract.operations.values()
        for p in declared_parameters(contract, op)
        if p.get("x-ignored-by-platform")
    }
    assert marked == {("list_jobs", "limit"), ("list_jobs", "offset")}
    assert all(p.get("deprecated") is True for p in declared_parameters(contract, contract.operation("list_jobs")))
