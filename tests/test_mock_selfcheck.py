"""Self-check: every operation's success path against a real mock validates against the spec.

Each operation gets a request built from the demo data with the credentials its security asks
for; the answer must have the declared success status, body schema and required headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import (
    ALICE,
    ALICE_KEY,
    ALICE_PRODUCTION_KEY,
    ALICE_SESSION_TOKEN,
    DEMO_JOB,
    DEMO_JOB_TOKEN,
    MockProcess,
)

import spec

CONTRACT = spec.load()
JSON = "application/json"
FAILED_JOB = "job_demo_failed"
FAILED_JOB_TOKEN = "GS0zMNulLsTJ-pL6e7G_HaXgcvLnvQdr-N0DF507Wl8"
CONFIG = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
PUBLIC_ID = "sft-support-bot-demo"
DATASET = "5b0e7c3a-2f41-4d8e-9c61-7a3d2e9f0b14"
BASELINE = "6f1c2d4e-8a3b-4c5d-9e7f-0a1b2c3d4e5f"
SUITE = "3b9e1f42-7c6d-4a58-9f0e-2d1c4b6a8e90"
RUN = "8d2f6a1c-4b3e-4f7a-9c0d-5e6f7a8b9c0d"
DEPLOYMENTS = {
    "runpod": "7a1e3c5b-9d2f-4e68-8b04-6c3f1a9d5e27",
    "hf-spaces": "alice-demo/support-bot-sft",
    "google-colab": "colab-1782810000000-k3j9x2",
    "kaggle": "alice-demo/support-bot-kaggle",
}
SAGEMAKER_JOB = "ftl-support-bot-sft-1782800000000"

Case = Callable[[httpx.Client], httpx.Response]


def auth(op_id: str, job_token: str = DEMO_JOB_TOKEN) -> dict[str, str]:
    """Alice's credentials in the form the operation's security asks for first."""
    schemes = CONTRACT.operations[op_id].scheme_names
    if "apiKey" in schemes:
        scopes = {role for req in CONTRACT.operations[op_id].security for role in req.schemes.get("apiKey", ())}
        return {"X-API-Key": ALICE_PRODUCTION_KEY if scopes == {"production"} else ALICE_KEY}
    if "sessionJwt" in schemes:
        return {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
    if "jobToken" in schemes:
        return {"Authorization": f"Bearer {job_token}"}
    return {}


def call(client: httpx.Client, op_id: str, path_params: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    """Send the operation's method to its path with alice's credentials."""
    op = CONTRACT.operations[op_id]
    path = op.path_for(**(path_params or {}))
    headers = {**auth(op_id, kwargs.pop("job_token", DEMO_JOB_TOKEN)), **kwargs.pop("headers", {})}
    return client.request(op.method, path, headers=headers, **kwargs)


def prediction_item(job_id: str, epoch: int, index: int) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "user_id": ALICE,
        "epoch": epoch,
        "step": epoch * 100,
        "sample_index": index,
        "prompt": f"prompt {index}",
        "prediction": "answer",
        "char_error_rate": 0.1,
    }


def read_first_event(client: httpx.Client) -> httpx.Response:
    """Open the stream, read its first message and keep it on the response as `first_event`."""
    op_id = "stream_predictions"
    headers = {**auth(op_id), "Accept": "text/event-stream"}
    with client.stream("GET", f"/api/training/predictions/{DEMO_JOB}/stream", headers=headers) as response:
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                break
            name, _, value = line.partition(": ")
            fields[name] = value
        response.extensions["first_event"] = fields
        return response


def start_run(client: httpx.Client) -> str:
    body = {"config": {"model_id": "qwen3-1.7b-support", "test_suite_id": SUITE, "delay_ms": 60_000}}
    response = call(client, "run_batch_test", json=body)
    response.raise_for_status()
    return str(response.json()["test_run_id"])


CASES: dict[str, Case] = {
    "stream_predictions": read_first_event,
    "get_predictions": lambda c: call(c, "get_predictions", {"jobId": DEMO_JOB}, params={"limit": 10}),
    "get_prediction_epochs": lambda c: call(c, "get_prediction_epochs", {"jobId": DEMO_JOB}),
    "get_prediction_trends": lambda c: call(c, "get_prediction_trends", {"jobId": DEMO_JOB}),
    "create_predictions": lambda c: call(
        c,
        "create_predictions",
        json={"job_id": DEMO_JOB, "predictions": [prediction_item(DEMO_JOB, 4, i) for i in range(2)]},
    ),
    "list_jobs": lambda c: call(c, "list_jobs", params={"limit": 5, "offset": 0}),
    "list_configs": lambda c: call(c, "list_configs"),
    "create_config": lambda c: call(
        c,
        "create_config",
        json={"name": "selfcheck", "template_type": "sft", "config_json": {"model": {"name": "m"}, "training": {}}},
    ),
    "get_config": lambda c: call(c, "get_config", {"id": CONFIG}),
    "update_config": lambda c: call(c, "update_config", {"id": CONFIG}, json={"description": "changed"}),
    "delete_config": lambda c: call(c, "delete_config", {"id": CONFIG}),
    "list_local_jobs": lambda c: call(c, "list_local_jobs", params={"limit": 2}),
    "create_job": lambda c: call(
        c, "create_job", json={"job_id": "selfcheck_job", "model_name": "m", "status": "running"}
    ),
    "get_job_status": lambda c: call(c, "get_job_status", {"jobId": DEMO_JOB}),
    "update_job_status": lambda c: call(c, "update_job_status", {"jobId": DEMO_JOB}, json={"status": "running"}),
    "get_metrics": lambda c: call(c, "get_metrics", {"jobId": DEMO_JOB}),
    "record_metric": lambda c: call(
        c, "record_metric", {"jobId": DEMO_JOB}, json={"step": 330, "epoch": 3, "train_loss": 0.8}
    ),
    "get_logs": lambda c: call(c, "get_logs", {"jobId": DEMO_JOB}, params={"limit": 3, "offset": 1}),
    "append_logs": lambda c: call(c, "append_logs", {"jobId": DEMO_JOB}, json={"logs": ["one", "two"]}),
    "get_errors": lambda c: call(c, "get_errors", {"jobId": FAILED_JOB}),
    "create_job_metric": lambda c: call(
        c, "create_job_metric", {"jobId": DEMO_JOB}, json={"step": 340, "epoch": 3.4, "loss": 0.79}
    ),
    "list_local_metrics": lambda c: call(c, "list_local_metrics", params={"job_id": DEMO_JOB, "limit": 5}),
    "create_metrics_batch": lambda c: call(
        c, "create_metrics_batch", json={"job_id": DEMO_JOB, "metrics": [{"step": 350, "epoch": 3, "train_loss": 0.78}]}
    ),
    "control_job": lambda c: call(c, "control_job", {"jobId": DEMO_JOB}, json={"action": "pause"}),
    "resume_job": lambda c: call(c, "resume_job", {"jobId": FAILED_JOB}, json={"resume_from_best": True}),
    "update_job_params": lambda c: call(c, "update_job_params", {"jobId": DEMO_JOB}, json={"learning_rate": 0.0001}),
    "list_datasets": lambda c: call(c, "list_datasets"),
    "upload_dataset": lambda c: call(
        c,
        "upload_dataset",
        data={"name": "selfcheck set", "format": "alpaca"},
        files={"file": ("train.jsonl", b'{"instruction": "Say hi", "output": "hi"}\n', "application/x-ndjson")},
    ),
    "list_available_datasets": lambda c: call(c, "list_available_datasets"),
    "preview_dataset": lambda c: call(c, "preview_dataset", {"id": DATASET}, params={"limit": 2}),
    "delete_dataset": lambda c: call(c, "delete_dataset", {"id": DATASET}),
    "get_runpod_deployment": lambda c: call(
        c, "get_runpod_deployment", params={"deployment_id": DEPLOYMENTS["runpod"]}
    ),
    "create_runpod_deployment": lambda c: call(
        c,
        "create_runpod_deployment",
        json={"training_config_id": CONFIG, "gpu_type": "NVIDIA A100 80GB", "budget_limit": 25},
    ),
    "delete_runpod_deployment": lambda c: call(
        c, "delete_runpod_deployment", params={"deployment_id": DEPLOYMENTS["runpod"]}
    ),
    "get_lambda_deployment": lambda c: call(c, "get_lambda_deployment"),
    "create_lambda_deployment": lambda c: call(c, "create_lambda_deployment", json={"anything": 1}),
    "delete_lambda_deployment": lambda c: call(c, "delete_lambda_deployment"),
    "get_hf_spaces_deployment": lambda c: call(
        c, "get_hf_spaces_deployment", params={"deployment_id": DEPLOYMENTS["hf-spaces"]}
    ),
    "create_hf_spaces_deployment": lambda c: call(
        c,
        "create_hf_spaces_deployment",
        json={"training_config_id": CONFIG, "gpu_tier": "a10g-small", "budget_limit": 20},
    ),
    "delete_hf_spaces_deployment": lambda c: call(
        c, "delete_hf_spaces_deployment", params={"deployment_id": DEPLOYMENTS["hf-spaces"]}
    ),
    "get_google_colab_deployment": lambda c: call(
        c, "get_google_colab_deployment", params={"deployment_id": DEPLOYMENTS["google-colab"]}
    ),
    "create_google_colab_deployment": lambda c: call(
        c, "create_google_colab_deployment", json={"training_config_id": CONFIG, "notebook_name": "selfcheck"}
    ),
    "delete_google_colab_deployment": lambda c: call(
        c, "delete_google_colab_deployment", params={"deployment_id": DEPLOYMENTS["google-colab"]}
    ),
    "get_kaggle_deployment": lambda c: call(
        c, "get_kaggle_deployment", params={"deployment_id": DEPLOYMENTS["kaggle"]}
    ),
    "create_kaggle_deployment": lambda c: call(
        c, "create_kaggle_deployment", json={"training_config_id": CONFIG, "notebook_title": "Self check"}
    ),
    "delete_kaggle_deployment": lambda c: call(
        c, "delete_kaggle_deployment", params={"deployment_id": DEPLOYMENTS["kaggle"]}
    ),
    "get_sagemaker_deployment": lambda c: call(c, "get_sagemaker_deployment", params={"job_name": SAGEMAKER_JOB}),
    "create_sagemaker_deployment": lambda c: call(
        c, "create_sagemaker_deployment", json={"training_config_id": CONFIG, "instance_type": "ml.g5.2xlarge"}
    ),
    "delete_sagemaker_deployment": lambda c: call(c, "delete_sagemaker_deployment", params={"job_name": SAGEMAKER_JOB}),
    "list_baselines": lambda c: call(c, "list_baselines", params={"modelName": "qwen3-1.7b-support", "version": "v1"}),
    "update_baseline": lambda c: call(c, "update_baseline", params={"id": BASELINE}, json={"thresholdValue": 0.8}),
    "create_baseline": lambda c: call(
        c,
        "create_baseline",
        json={
            "modelName": "qwen3-1.7b-support",
            "metricName": "word_overlap",
            "baselineValue": 0.7,
            "thresholdType": "min",
            "thresholdValue": 0.65,
            "severity": "info",
        },
    ),
    "delete_baseline": lambda c: call(c, "delete_baseline", params={"id": BASELINE}),
    "get_predict_info": lambda c: call(c, "get_predict_info"),
    "predict": lambda c: call(
        c, "predict", json={"model": "qwen3-1.7b-support", "messages": [{"role": "user", "content": "Hello"}]}
    ),
    "run_batch_test": lambda c: call(
        c, "run_batch_test", json={"config": {"model_id": "qwen3-1.7b-support", "test_suite_id": SUITE}}
    ),
    "get_batch_test_status": lambda c: call(c, "get_batch_test_status", {"id": RUN}),
    "cancel_batch_test": lambda c: call(c, "cancel_batch_test", json={"test_run_id": start_run(c)}),
    "list_traces": lambda c: call(c, "list_traces", params={"trace_id": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"}),
    "create_trace": lambda c: call(
        c,
        "create_trace",
        json={
            "trace_id": "t-selfcheck",
            "span_id": "s-selfcheck",
            "span_name": "llm.completion",
            "operation_type": "completion",
        },
    ),
    "get_analytics_data": lambda c: call(
        c, "get_analytics_data", params={"startDate": "2026-06-01T00:00:00Z", "endDate": "2026-07-01T00:00:00Z"}
    ),
    "get_public_config": lambda c: call(c, "get_public_config", {"id": PUBLIC_ID}),
    "get_public_datasets": lambda c: call(c, "get_public_datasets", {"id": PUBLIC_ID}),
}

# Operations whose success path cannot be run against the mock, with the reason. Keep it empty if possible.
NO_SUCCESS_PATH: dict[str, str] = {}


def _header_problems(op: spec.Operation, response: httpx.Response) -> Iterator[str]:
    declared = op.response(response.status_code)
    for name, header in (declared.headers if declared else {}).items():
        # HTTP/1.1 hop-by-hop headers are the server's business, not the handler's.
        if not header.get("required") or name.lower() == "content-type":
            continue
        if name not in response.headers:
            yield f"header {name}: is required"
            continue
        schema = spec.Schema(header.get("schema") or {})
        for violation in schema.violations(response.headers[name], name):
            yield str(violation)


def problems(op: spec.Operation, response: httpx.Response) -> list[str]:
    """Every way the response breaks the operation's declared success response."""
    found = list(_header_problems(op, response))
    declared = op.response(response.status_code)
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if op.operation_id == "stream_predictions":
        event = response.extensions["first_event"]
        violations = CONTRACT.stream.check_event(event.get("event", ""), event.get("data", ""))
        return found + [str(v) for v in violations]
    media = declared.media(media_type) if declared else None
    if media is None or media.schema is None:
        return [*found, f"content-type {media_type!r} is not declared for {response.status_code}"]
    body = response.json() if media_type == JSON else response.text
    return found + [str(v) for v in media.schema.violations(body, "body")]


@pytest.fixture
def client(mock: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as session:
        yield session


def test_every_operation_has_a_success_case_or_a_reason() -> None:
    missing = set(CONTRACT.operations) - set(CASES) - set(NO_SUCCESS_PATH)
    stale = (set(CASES) | set(NO_SUCCESS_PATH)) - set(CONTRACT.operations)
    assert not missing, f"operations without a self-check case: {sorted(missing)}"
    assert not stale, f"self-check cases for operations the spec no longer has: {sorted(stale)}"


@pytest.mark.parametrize("op_id", sorted(CASES))
def test_success_path_conforms_to_the_spec(client: httpx.Client, op_id: str) -> None:
    op = CONTRACT.operations[op_id]
    response = CASES[op_id](client)
    assert response.status_code == op.success_status, f"{op_id}: {response.status_code} {response.text[:300]}"
    found = problems(op, response)
    assert not found, f"{op_id} answer breaks the spec: {found}\n{json.dumps(response.json(), indent=1)[:2000]}"


def test_the_conformance_check_catches_a_drifted_body() -> None:
    op = CONTRACT.operations["get_prediction_epochs"]
    drifted = httpx.Response(200, json={"job_id": DEMO_JOB, "epochs": [{"epoch": "one"}]})
    assert any("epochs[0]" in problem for problem in problems(op, drifted))


def test_the_conformance_check_catches_a_missing_required_header() -> None:
    op = CONTRACT.operations["get_lambda_deployment"]
    example = op.success.media().example
    bare = httpx.Response(410, json=example)
    assert any("X-Deprecated-At" in problem for problem in problems(op, bare))
