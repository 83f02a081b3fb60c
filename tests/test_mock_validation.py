"""Every bad input gets its 4xx in the operation's error shape, naming the field and the rule.

Parameters, content type, UTF-8, JSON, multipart, body schema and size, against a real mock; the
expected bounds and shapes are read from the spec, never restated.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import spec
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, path_of

CONTRACT = spec.load()
SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
KEY = {"X-API-Key": ALICE_KEY}


def assert_declared(operation_id: str, response: httpx.Response) -> None:
    """The status is one the operation declares and the body matches that response's schema."""
    op = CONTRACT.operations[operation_id]
    declared = op.response(response.status_code)
    assert declared is not None, f"{operation_id} does not declare {response.status_code}"
    media = declared.media(response.headers["content-type"].split(";")[0])
    assert media is not None and media.schema is not None
    body = response.json() if media.name == "application/json" else response.text
    assert media.schema.is_valid(body), f"{operation_id} {response.status_code}: {body}"


def error_message(response: httpx.Response) -> str:
    """The message of any of the five error shapes."""
    if not response.headers["content-type"].startswith("application/json"):
        return response.text
    error = response.json()["error"]
    return error["message"] if isinstance(error, dict) else error


@pytest.fixture
def client(mock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        yield client


def test_query_value_above_maximum_names_parameter_and_bound(client) -> None:
    limit = CONTRACT.operations["get_predictions"].parameter("limit", "query")
    assert limit is not None
    maximum = limit.raw_schema["maximum"]
    response = client.get(path_of("get_predictions", jobId=DEMO_JOB), params={"limit": maximum + 1}, headers=KEY)
    assert response.status_code == 400
    assert error_message(response) == f"limit: must be <= {maximum}"
    assert_declared("get_predictions", response)


def test_query_value_of_wrong_type_names_parameter_and_type(client) -> None:
    response = client.get(path_of("get_predictions", jobId=DEMO_JOB), params={"offset": "ten"}, headers=KEY)
    assert response.status_code == 400
    assert error_message(response) == "offset: must be of type integer"


def test_query_value_outside_enum_lists_the_allowed_values(client) -> None:
    status = CONTRACT.operations["list_local_jobs"].parameter("status", "query")
    assert status is not None
    response = client.get(path_of("list_local_jobs"), params={"status": "exploded"}, headers=KEY)
    assert response.status_code == 400
    assert error_message(response).startswith("status: must be one of: ")
    assert all(value in error_message(response) for value in status.raw_schema["enum"])


def test_missing_required_query_parameter_is_named(client) -> None:
    required = [p.name for p in CONTRACT.operations["list_baselines"].parameters_in("query") if p.required]
    response = client.get(path_of("list_baselines"), headers=SESSION)
    assert response.status_code == 400
    assert all(f"{name}:" in error_message(response) for name in required)
    assert_declared("list_baselines", response)


def test_invalid_percent_encoded_utf8_in_query_is_rejected(client) -> None:
    response = client.get(f"{path_of('list_baselines')}?modelName=%FF%FE", headers=SESSION)
    assert response.status_code == 400
    assert "UTF-8" in error_message(response)


def test_malformed_json_is_400_naming_the_body(client) -> None:
    response = client.post(
        path_of("create_job"), content=b'{"job_id": "x",', headers={**KEY, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_message(response).startswith("body: must be valid JSON")
    assert_declared("create_job", response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_400_naming_the_expected_type(client, content_type) -> None:
    headers = {**KEY, **({"content-type": content_type} if content_type else {})}
    response = client.post(path_of("create_job"), content=b'{"job_id": "x"}', headers=headers)
    assert response.status_code == 400
    assert error_message(response).startswith("Content-Type: must be application/json")


def test_invalid_utf8_body_is_400_with_the_offending_offset(client) -> None:
    body = b'{"job_id": "caf\xe9"}'
    response = client.post(path_of("create_job"), content=body, headers={**KEY, "content-type": "application/json"})
    assert response.status_code == 400
    assert error_message(response) == f"body: must be valid UTF-8 (byte 0xe9 at offset {body.index(0xE9)})"


def test_missing_required_body_is_400(client) -> None:
    response = client.post(path_of("create_job"), headers={**KEY, "content-type": "application/json"})
    assert response.status_code == 400
    assert error_message(response) == "body: is required"


@pytest.mark.parametrize("body", [b"null", b"[]", b'"job"', b'{"job_id": NaN}'])
def test_body_that_is_json_but_not_the_schema_is_400(client, body) -> None:
    response = client.post(path_of("create_job"), content=body, headers={**KEY, "content-type": "application/json"})
    assert response.status_code == 400
    assert error_message(response).startswith("body")


def test_body_schema_violation_names_the_json_path(client) -> None:
    item = {"job_id": DEMO_JOB, "user_id": "u", "epoch": "one", "step": 1, "sample_index": 0, "prompt": "p"}
    response = client.post(
        path_of("create_predictions"), json={"job_id": DEMO_JOB, "predictions": [item]}, headers=SESSION
    )
    assert response.status_code == 400
    message = error_message(response)
    assert "body.predictions[0].epoch: must be of type integer" in message
    assert "body.predictions[0].prediction: is required" in message


def test_validation_runs_before_authentication(client) -> None:
    response = client.post(path_of("control_job", jobId=DEMO_JOB), json={"action": "explode"})
    assert response.status_code == 400
    assert_declared("control_job", response)


def test_error_bodies_follow_the_operation_shape(client) -> None:
    predict = client.post(path_of("predict"), json={"model": 7}, headers=KEY)
    assert predict.status_code == 400
    assert predict.json()["error"]["type"] == "invalid_request_error"
    assert_declared("predict", predict)
    control = client.post(path_of("control_job", jobId=DEMO_JOB), json={}, headers=SESSION)
    assert control.status_code == 400
    assert control.json()["success"] is False
    assert "body.action: is required" in control.json()["error"]
    assert_declared("control_job", control)


def test_multipart_file_field_sent_as_text_is_rejected(client) -> None:
    response = client.post(
        path_of("upload_dataset"),
        data={"file": "not a file", "name": "d", "format": "jsonl"},
        files={"attachment": ("a.txt", b"")},  # forces multipart/form-data
        headers=SESSION,
    )
    assert response.status_code == 400
    assert error_message(response) == "body.file: must be a file part (with a filename)"


def test_multipart_missing_fields_are_named(client) -> None:
    response = client.post(path_of("upload_dataset"), files={"file": ("a.jsonl", b'{"text": "x"}\n')}, headers=SESSION)
    assert response.status_code == 400
    assert "body.name: is required" in error_message(response)
    assert "body.format: is required" in error_message(response)


def test_multipart_without_boundary_is_400(client) -> None:
    headers = {**SESSION, "content-type": "multipart/form-data"}
    response = client.post(path_of("upload_dataset"), content=b"--x\r\n", headers=headers)
    assert response.status_code == 400
    assert "multipart/form-data" in error_message(response)
    assert_declared("upload_dataset", response)


def test_valid_multipart_upload_passes_validation(client) -> None:
    response = client.post(
        path_of("upload_dataset"),
        files={"file": ("a.jsonl", b'{"messages": [{"role": "user", "content": "hi"}]}\n')},
        data={"name": "tiny", "format": "chatml"},
        headers=SESSION,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def small_mock(mock_factory):
    return mock_factory("--body-limit", "1KiB")


def test_body_over_the_limit_is_413_by_content_length(small_mock) -> None:
    response = httpx.post(
        f"{small_mock.url}{path_of('create_job')}",
        content=b"x" * 1025,
        headers={**KEY, "content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert error_message(response) == "body: must be at most 1024 bytes"
    assert_declared("create_job", response)


def test_chunked_body_over_the_limit_is_413(small_mock) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"x" * 512

    response = httpx.post(
        f"{small_mock.url}{path_of('create_predictions')}",
        content=chunks(),
        headers={**KEY, "content-type": "application/json"},
        timeout=10,
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert_declared("create_predictions", response)


def test_body_at_the_limit_is_read(small_mock) -> None:
    body = b'{"job_id": "' + b"j" * (1024 - 14) + b'"}'
    assert len(body) == 1024
    response = httpx.post(
        f"{small_mock.url}{path_of('create_job')}",
        content=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 401  # read, parsed, valid: only the missing credential remains


def test_operations_requiring_a_length_refuse_chunked_bodies(client) -> None:
    op = next(op for op in CONTRACT.operations.values() if op.extensions.get("x-requires-content-length"))

    def chunks() -> Iterator[bytes]:
        yield b'{"job_id": "job_chunked"}'

    response = client.post(op.path, content=chunks(), headers={**KEY, "content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == op.bad_input_status
    assert error_message(response).startswith("Content-Length: is required")
    assert_declared(op.operation_id, response)
