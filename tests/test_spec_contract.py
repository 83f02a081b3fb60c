"""The contract document: complete, indexed, and its SSE item schemas strict."""

from __future__ import annotations

import json

import pytest
import yaml

import spec

# Written from the reference's endpoint index (§15 plus the two public loader routes),
# independently of spec/openapi.yaml.
REFERENCE_ENDPOINTS = {
    ("GET", "/api/training/predictions/{jobId}"),
    ("GET", "/api/training/predictions/{jobId}/epochs"),
    ("GET", "/api/training/predictions/{jobId}/trends"),
    ("GET", "/api/training/predictions/{jobId}/stream"),
    ("POST", "/api/training/local/predictions"),
    ("GET", "/api/training/jobs"),
    ("GET", "/api/training/{id}"),
    ("PUT", "/api/training/{id}"),
    ("DELETE", "/api/training/{id}"),
    ("GET", "/api/training"),
    ("POST", "/api/training"),
    ("POST", "/api/training/local/jobs"),
    ("GET", "/api/training/local/jobs"),
    ("GET", "/api/training/local/{jobId}/status"),
    ("PATCH", "/api/training/local/{jobId}/status"),
    ("GET", "/api/training/local/{jobId}/metrics"),
    ("PUT", "/api/training/local/{jobId}/metrics"),
    ("GET", "/api/training/local/{jobId}/logs"),
    ("POST", "/api/training/local/{jobId}/logs"),
    ("GET", "/api/training/local/{jobId}/errors"),
    ("POST", "/api/training/jobs/{jobId}/metrics"),
    ("POST", "/api/training/local/metrics"),
    ("GET", "/api/training/local/metrics"),
    ("POST", "/api/training/local/{jobId}/control"),
    ("POST", "/api/training/local/{jobId}/resume"),
    ("PATCH", "/api/training/local/{jobId}/update-params"),
    ("GET", "/api/training/dataset"),
    ("POST", "/api/training/dataset"),
    ("GET", "/api/training/dataset/{id}"),
    ("DELETE", "/api/training/dataset/{id}"),
    ("GET", "/api/training/dataset/available"),
    *(
        (method, f"/api/training/deploy/{provider}")
        for provider in ("runpod", "lambda", "hf-spaces", "google-colab", "kaggle", "sagemaker")
        for method in ("POST", "GET", "DELETE")
    ),
    ("GET", "/api/training/baselines"),
    ("POST", "/api/training/baselines"),
    ("PUT", "/api/training/baselines"),
    ("DELETE", "/api/training/baselines"),
    ("POST", "/api/v1/predict"),
    ("GET", "/api/v1/predict"),
    ("POST", "/api/batch-testing/run"),
    ("GET", "/api/batch-testing/status/{id}"),
    ("POST", "/api/batch-testing/cancel"),
    ("GET", "/api/analytics/traces"),
    ("POST", "/api/analytics/traces"),
    ("GET", "/api/analytics/data"),
    ("GET", "/api/training/public/{id}"),
    ("GET", "/api/training/public/{id}/dataset"),
}

# Operations an SDK calls keep the SDK's method name (reference §12).
SDK_OPERATION_IDS = {"list_jobs", "get_metrics", "get_logs", "get_errors", "create_job", "predict", "create_trace"}


@pytest.fixture(scope="module")
def contract() -> spec.Contract:
    return spec.load()


def test_reference_index_has_63_endpoints() -> None:
    assert len(REFERENCE_ENDPOINTS) == 63


def test_every_reference_endpoint_is_an_operation(contract: spec.Contract) -> None:
    declared = set(contract.by_route)
    assert REFERENCE_ENDPOINTS - declared == set(), "missing from the spec"
    assert declared - REFERENCE_ENDPOINTS == set(), "in the spec but not in the reference"


def test_operation_ids_are_snake_case_and_sdk_named(contract: spec.Contract) -> None:
    for op_id in contract.operations:
        assert op_id.isidentifier() and op_id == op_id.lower(), op_id
    assert set(contract.operations) >= SDK_OPERATION_IDS


def test_every_operation_has_tag_summary_and_auth_pattern(contract: spec.Contract) -> None:
    for op in contract.operations.values():
        assert op.tags and op.tags[0] in contract.tags, op.operation_id
        assert op.summary and "\n" not in op.summary, op.operation_id
        assert op.auth_pattern in {"A", "B", "C", "D", "E", "none"}, op.operation_id


def test_security_follows_auth_pattern(contract: spec.Contract) -> None:
    schemes_by_pattern = {
        "A": {"apiKey", "workspaceApiKey", "bearerApiKey", "sessionJwt"},
        "B": {"apiKey", "workspaceApiKey", "bearerApiKey", "sessionJwt"},
        "C": {"sessionJwt"},
        "D": {"jobToken"},
        "none": set(),
    }
    for op in contract.operations.values():
        expected = schemes_by_pattern.get(op.auth_pattern)
        if expected is not None:
            assert op.scheme_names == expected, op.operation_id
        if op.auth_pattern in {"A", "B"}:
            assert all(
                roles == ("training",)
                for req in op.security
                for name, roles in req.schemes.items()
                if name != "sessionJwt"
            ), op.operation_id


def test_every_secured_operation_declares_401(contract: spec.Contract) -> None:
    for op in contract.operations.values():
        if op.requires_auth:
            assert "401" in op.responses, op.operation_id


def test_operations_with_input_declare_400(contract: spec.Contract) -> None:
    for op in contract.operations.values():
        if op.request_body or op.parameters_in("query"):
            assert "400" in op.responses, op.operation_id


def test_every_success_response_has_an_example(contract: spec.Contract) -> None:
    for op in contract.operations.values():
        media = next(iter(op.success.content.values()))
        assert media.example is not None or media.raw.get("examples"), op.operation_id


def test_error_responses_declare_their_shape(contract: spec.Contract) -> None:
    for op in contract.operations.values():
        for status, response in op.responses.items():
            if status.startswith(("4", "5")) and status != "410":
                assert response.error_shape in {"E1", "E2", "E3", "E4", "E5"}, (op.operation_id, status)


def test_stream_errors_are_plain_text_and_predict_errors_openai_style(contract: spec.Contract) -> None:
    stream = contract.operation("stream_predictions")
    assert {stream.error_shape(s) for s in (401, 404, 500)} == {"E5"}
    assert "text/plain" in stream.responses["401"].content
    predict = contract.operation("predict")
    assert predict.error_shape(400) == "E3"
    assert contract.operation("control_job").error_shape(400) == "E4"


def test_links_cover_the_main_flows(contract: spec.Contract) -> None:
    def targets(op_id: str) -> set[str]:
        op = contract.operation(op_id)
        return {link["operationId"] for r in op.responses.values() for link in r.links.values()}

    assert {
        "get_job_status",
        "get_metrics",
        "get_logs",
        "get_errors",
        "get_predictions",
        "stream_predictions",
    } <= targets("create_job")
    assert "get_predictions" in targets("create_predictions")
    assert {"preview_dataset", "delete_dataset"} <= targets("upload_dataset")
    assert {"update_baseline", "delete_baseline"} <= targets("create_baseline")
    assert "get_job_status" in targets("resume_job")


def test_paths_match_literal_before_template(contract: spec.Contract) -> None:
    assert contract.match("GET", "/api/training/dataset/available")[0].operation_id == "list_available_datasets"
    assert contract.match("GET", "/api/training/dataset/abc")[0].operation_id == "preview_dataset"
    assert contract.match("GET", "/api/training/jobs")[0].operation_id == "list_jobs"
    op, params = contract.match("PUT", "/api/training/cfg-1")
    assert (op.operation_id, params) == ("update_config", {"id": "cfg-1"})
    assert contract.match("GET", "/api/training/nope/deeper/still") is None
    assert contract.allowed_methods("/api/training/baselines") == ["DELETE", "GET", "POST", "PUT"]


def test_parameter_violations_name_the_field_and_rule(contract: spec.Contract) -> None:
    op = contract.operation("list_local_jobs")
    violations = op.check_parameters({}, [("limit", "101")], {})
    assert [str(v) for v in violations] == ["limit: must be <= 100"]
    violations = op.check_parameters({}, [("limit", "ten")], {})
    assert [str(v) for v in violations] == ["limit: must be of type integer"]


def test_body_violations_name_the_json_path(contract: spec.Contract) -> None:
    op = contract.operation("create_predictions")
    body = {"job_id": "j", "predictions": [{"job_id": "j", "epoch": 1}]}
    messages = {str(v) for v in op.check_json_body(body)}
    assert "body.predictions[0].user_id: is required" in messages


def test_divergences_name_declared_operations(contract: spec.Contract) -> None:
    entries = yaml.safe_load((spec.SPEC_DIR / "divergences.yaml").read_text())["divergences"]
    assert entries
    for entry in entries:
        assert entry["operation"] in contract.operations, entry
        assert entry["platform"]
        assert entry["contract"]
        assert entry["reference"].startswith("§")


# --- the SSE item schemas -------------------------------------------------------------------

PREDICTION_ROW = {
    "id": "7d0e5c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
    "job_id": "job_abc",
    "user_id": "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60",
    "epoch": 2,
    "step": 100,
    "sample_index": 0,
    "prompt": "q",
    "prediction": "a",
    "created_at": "2025-12-17T12:00:17.000Z",
}
TRANSCRIPT = [
    ("connected", {"jobId": "job_abc", "timestamp": "2025-12-17T12:00:00.000Z"}),
    ("heartbeat", {"timestamp": "2025-12-17T12:00:15.002Z"}),
    ("prediction", {"prediction": PREDICTION_ROW, "total_count": 16, "timestamp": "2025-12-17T12:00:17.410Z"}),
    ("error", {"error": "Subscription failed", "status": "CHANNEL_ERROR", "timestamp": "2025-12-17T12:00:20.000Z"}),
]


@pytest.mark.parametrize(("event", "data"), TRANSCRIPT, ids=[e for e, _ in TRANSCRIPT])
def test_stream_item_schema_accepts_reference_events(contract: spec.Contract, event: str, data: dict) -> None:
    assert contract.stream.check_event(event, json.dumps(data, separators=(",", ":"))) == []


def test_connected_with_snake_case_job_id_is_rejected(contract: spec.Contract) -> None:
    data = json.dumps({"job_id": "job_abc", "timestamp": "2025-12-17T12:00:00.000Z"})
    assert [str(v) for v in contract.stream.check_event("connected", data)] == ["connected.data.jobId: is required"]


def test_prediction_without_total_count_is_rejected(contract: spec.Contract) -> None:
    data = json.dumps({"prediction": PREDICTION_ROW, "timestamp": "2025-12-17T12:00:17.410Z"})
    assert "prediction.data.total_count: is required" in [
        str(v) for v in contract.stream.check_event("prediction", data)
    ]


def test_unknown_event_name_is_rejected(contract: spec.Contract) -> None:
    data = json.dumps({"timestamp": "2025-12-17T12:00:15.002Z"})
    violations = contract.stream.check_event("ping", data)
    assert violations
    assert not contract.stream.item_schema.is_valid({"event": "ping", "data": data})


def test_stream_rules_come_from_the_extension(contract: spec.Contract) -> None:
    stream = contract.stream
    assert stream.operation.operation_id == "stream_predictions"
    assert stream.event_names == ("connected", "prediction", "heartbeat", "error")
    assert (stream.first_event, stream.heartbeat_event, stream.heartbeat_interval_ms) == (
        "connected",
        "heartbeat",
        15000,
    )
    assert stream.counter["pointer"] == "/total_count"
    assert stream.trigger["operation_id"] in contract.operations
    assert stream.rules["ends"] == "never"
