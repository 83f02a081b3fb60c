"""Authentication per operation as the platform does it (patterns A-E), ownership and rate limiting.

Each failure must have a status the operation declares and a body in its error shape.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import spec
from tests.conftest import (
    ALICE,
    ALICE_KEY,
    ALICE_PRODUCTION_KEY,
    ALICE_REVOKED_KEY,
    ALICE_SESSION_TOKEN,
    ALICE_TESTING_KEY,
    ALICE_TRAINING_KEY,
    ALICE_WORKER_KEY,
    BOB_KEY,
    BOB_SESSION_TOKEN,
    DEMO_JOB,
    DEMO_JOB_TOKEN,
    path_of,
)

CONTRACT = spec.load()


def declared(operation_id: str, response: httpx.Response) -> httpx.Response:
    """The response, after checking its status is declared and its body matches that response's schema."""
    op = CONTRACT.operations[operation_id]
    assert str(response.status_code) in op.responses, f"{operation_id} does not declare {response.status_code}"
    media = op.responses[str(response.status_code)].media(response.headers["content-type"].split(";")[0])
    assert media is not None and media.schema is not None
    body = response.json() if media.name == "application/json" else response.text
    assert media.schema.is_valid(body), f"{operation_id} {response.status_code}: {body}"
    return response


def message(response: httpx.Response) -> str:
    error = response.json()["error"]
    return error["message"] if isinstance(error, dict) else error


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def credential_of_last_request(mock) -> str | None:
    return httpx.get(f"{mock.admin}/journal", params={"limit": 1}, timeout=10).json()["entries"][0]["credential"]


@pytest.fixture
def client(mock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        yield client


# --- pattern A: key with scope, then session JWT; 401 only ----------------------------------------

PREDICTIONS = path_of("get_predictions", jobId=DEMO_JOB)


@pytest.mark.parametrize(
    ("headers", "scheme"),
    [
        ({"X-API-Key": ALICE_KEY}, "apiKey"),
        ({"X-Workspace-API-Key": ALICE_TRAINING_KEY}, "workspaceApiKey"),
        (bearer(ALICE_TRAINING_KEY), "bearerApiKey"),
        (bearer(ALICE_SESSION_TOKEN), "sessionJwt"),
    ],
)
def test_pattern_a_admits_keys_and_sessions_and_records_the_scheme(mock, client, headers, scheme) -> None:
    declared("get_predictions", client.get(PREDICTIONS, headers=headers))
    assert client.get(PREDICTIONS, headers=headers).status_code == 200
    assert credential_of_last_request(mock) == scheme
    assert scheme in CONTRACT.operations["get_predictions"].scheme_names


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": ALICE_WORKER_KEY}, {"X-API-Key": "wak_short"}, {"X-API-Key": ALICE_REVOKED_KEY}, bearer("nope")],
)
def test_pattern_a_answers_every_failure_with_401(client, headers) -> None:
    response = declared("get_predictions", client.get(PREDICTIONS, headers=headers))
    assert response.status_code == 401


def test_pattern_a_falls_back_to_the_session_when_the_key_fails(mock, client) -> None:
    headers = {"X-API-Key": ALICE_WORKER_KEY, **bearer(ALICE_SESSION_TOKEN)}
    assert client.get(PREDICTIONS, headers=headers).status_code == 200
    assert credential_of_last_request(mock) == "sessionJwt"


def test_pattern_a_route_specific_missing_message(client) -> None:
    response = declared("get_metrics", client.get(path_of("get_metrics", jobId=DEMO_JOB)))
    assert message(response) == "Unauthorized: Missing authentication"


# --- pattern B: the key path is exclusive once a key is presented ----------------------------------

LOCAL_JOBS = path_of("list_local_jobs")


def test_pattern_b_scope_less_key_gets_403_naming_the_scope(client) -> None:
    response = declared("list_local_jobs", client.get(LOCAL_JOBS, headers={"X-API-Key": ALICE_WORKER_KEY}))
    assert response.status_code == 403
    assert message(response) == "API key does not have 'training' scope. Key scopes: worker"


@pytest.mark.parametrize(
    ("headers", "text"),
    [
        ({"X-API-Key": "wak_tooShort"}, "Invalid API key format"),
        ({"X-API-Key": ALICE_REVOKED_KEY}, "Invalid API key"),
        ({"X-API-Key": ALICE_REVOKED_KEY, **bearer(ALICE_SESSION_TOKEN)}, "Invalid API key"),
        (bearer("wak_" + "0" * 32), "Invalid API key"),
        ({}, "Missing authorization header"),
        (bearer("not-a-session"), "Authentication failed"),
    ],
)
def test_pattern_b_failures_are_401_with_the_validator_message(client, headers, text) -> None:
    response = declared("list_local_jobs", client.get(LOCAL_JOBS, headers=headers))
    assert response.status_code == 401
    assert message(response) == text


def test_pattern_b_admits_a_training_key_and_a_session(client) -> None:
    assert client.get(LOCAL_JOBS, headers={"X-API-Key": ALICE_TRAINING_KEY}).status_code == 200
    assert client.get(LOCAL_JOBS, headers=bearer(ALICE_SESSION_TOKEN)).status_code == 200


# --- pattern C: session JWT only -----------------------------------------------------------------


@pytest.mark.parametrize("headers", [{"X-API-Key": ALICE_KEY}, bearer(ALICE_KEY), {}])
def test_pattern_c_refuses_api_keys(client, headers) -> None:
    response = declared("list_datasets", client.get(path_of("list_datasets"), headers=headers))
    assert response.status_code == 401


def test_pattern_c_admits_a_session(mock, client) -> None:
    assert client.get(path_of("list_datasets"), headers=bearer(ALICE_SESSION_TOKEN)).status_code == 200
    assert credential_of_last_request(mock) == "sessionJwt"


# --- pattern D: the job token of the job named in the path or body ---------------------------------

STATUS = path_of("update_job_status", jobId=DEMO_JOB)


def test_pattern_d_admits_the_jobs_own_token(mock, client) -> None:
    response = declared(
        "update_job_status", client.patch(STATUS, json={"status": "running"}, headers=bearer(DEMO_JOB_TOKEN))
    )
    assert response.status_code == 200
    assert credential_of_last_request(mock) == "jobToken"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (STATUS, {}, 401),
        (STATUS, {"X-API-Key": ALICE_KEY}, 401),
        (STATUS, bearer("wrong-token"), 401),
        (STATUS, bearer(ALICE_SESSION_TOKEN), 401),
        (path_of("update_job_status", jobId="job_that_does_not_exist"), bearer(DEMO_JOB_TOKEN), 404),
    ],
)
def test_pattern_d_failures(client, path, headers, status) -> None:
    response = declared("update_job_status", client.patch(path, json={"status": "running"}, headers=headers))
    assert response.status_code == status


def test_pattern_d_reads_the_job_from_the_body(client) -> None:
    item = {
        "job_id": "job_unknown",
        "user_id": ALICE,
        "epoch": 1,
        "step": 1,
        "sample_index": 0,
        "prompt": "p",
        "prediction": "q",
    }
    body = {"job_id": "job_unknown", "predictions": [item]}
    unknown = client.post(path_of("create_predictions"), json=body, headers=bearer(DEMO_JOB_TOKEN))
    assert declared("create_predictions", unknown).status_code == 404
    body["job_id"] = DEMO_JOB
    mismatch = client.post(path_of("create_predictions"), json=body, headers=bearer("not-the-token"))
    assert declared("create_predictions", mismatch).status_code == 401


def test_a_token_only_opens_its_own_job(client) -> None:
    created = client.post(path_of("create_job"), json={"job_id": "job_bob_tok"}, headers=bearer(BOB_SESSION_TOKEN))
    assert created.status_code == 200, created.text
    bob_token = created.json()["job_token"]
    response = client.patch(STATUS, json={"status": "running"}, headers=bearer(bob_token))
    assert declared("update_job_status", response).status_code == 401


# --- pattern E: scoped key with 403; sessions too, except predict ----------------------------------


def test_predict_refuses_a_key_without_production_scope_with_403(client) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    response = declared(
        "predict", client.post(path_of("predict"), json=body, headers={"X-API-Key": ALICE_TRAINING_KEY})
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "insufficient_scope"
    assert "'production' scope" in message(response)


def test_predict_takes_api_keys_only(client) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    response = declared("predict", client.post(path_of("predict"), json=body, headers=bearer(ALICE_SESSION_TOKEN)))
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_api_key"
    missing = declared("predict", client.post(path_of("predict"), json=body))
    assert message(missing).startswith("Missing API key")
    ok = client.post(path_of("predict"), json=body, headers={"X-API-Key": ALICE_PRODUCTION_KEY})
    assert ok.status_code not in (401, 403)


def test_batch_testing_takes_a_testing_key_or_a_session(client) -> None:
    path = path_of("get_batch_test_status", id="run_x")
    refused = declared("get_batch_test_status", client.get(path, headers={"X-API-Key": ALICE_TRAINING_KEY}))
    assert refused.status_code == 403
    for headers in ({"X-API-Key": ALICE_TESTING_KEY}, bearer(ALICE_SESSION_TOKEN)):
        assert client.get(path, headers=headers).status_code not in (401, 403)


# --- ownership ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation_id", "method", "body"),
    [
        ("get_predictions", "GET", None),
        ("get_prediction_trends", "GET", None),
        ("get_job_status", "GET", None),
        ("get_metrics", "GET", None),
        ("control_job", "POST", {"action": "pause"}),
    ],
)
def test_another_users_job_is_not_found(client, operation_id, method, body) -> None:
    path = path_of(operation_id, jobId=DEMO_JOB)
    response = client.request(method, path, json=body, headers=bearer(BOB_SESSION_TOKEN))
    assert declared(operation_id, response).status_code == 404
    if CONTRACT.operations[operation_id].scheme_names & {"apiKey"}:
        with_key = client.request(method, path, json=body, headers={"X-API-Key": BOB_KEY})
        assert with_key.status_code == 404


# --- rate limiting --------------------------------------------------------------------------------


@pytest.fixture
def limited(mock_factory):
    return mock_factory("--rate-limit", "2/60s")


def test_rate_limit_gives_429_where_declared_and_401_elsewhere(limited) -> None:
    with httpx.Client(base_url=limited.url, timeout=10) as client:
        key = {"X-API-Key": ALICE_KEY}
        assert [client.get(LOCAL_JOBS, headers=key).status_code for _ in range(2)] == [200, 200]
        limited_b = declared("list_local_jobs", client.get(LOCAL_JOBS, headers=key))
        assert limited_b.status_code == 429
        assert message(limited_b) == "Rate limit exceeded. Try again later."
        # pattern A never answers 429: the spent key falls through to the (absent) session
        assert declared("get_predictions", client.get(PREDICTIONS, headers=key)).status_code == 401
        assert client.get(PREDICTIONS, headers={**key, **bearer(ALICE_SESSION_TOKEN)}).status_code == 200
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        production = {"X-API-Key": ALICE_PRODUCTION_KEY}
        for _ in range(2):
            client.post(path_of("predict"), json=body, headers=production)
        spent = declared("predict", client.post(path_of("predict"), json=body, headers=production))
        assert spent.status_code == 401
        assert message(spent) == "Rate limit exceeded. Try again later."
        # other keys keep their own window
        assert client.get(LOCAL_JOBS, headers={"X-API-Key": ALICE_TRAINING_KEY}).status_code == 200


def test_reset_clears_rate_limit_windows(limited) -> None:
    key = {"X-API-Key": ALICE_KEY}
    with httpx.Client(base_url=limited.url, timeout=10) as client:
        statuses = [client.get(LOCAL_JOBS, headers=key).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited.reset()
        assert client.get(LOCAL_JOBS, headers=key).status_code == 200


def test_no_rate_limit_by_default(client) -> None:
    statuses = {client.get(LOCAL_JOBS, headers={"X-API-Key": ALICE_KEY}).status_code for _ in range(120)}
    assert statuses == {200}
