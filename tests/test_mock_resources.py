"""The other stateful resources of the mock: configs, datasets, baselines, deployments, batch tests, traces."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import (
    ALICE,
    ALICE_KEY,
    ALICE_PRODUCTION_KEY,
    ALICE_SESSION_TOKEN,
    ALICE_TESTING_KEY,
    BOB_SESSION_TOKEN,
    MockProcess,
    path_of,
)

from mockserver import resources
from mockserver.errors import MockError

SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
BOB = {"Authorization": f"Bearer {BOB_SESSION_TOKEN}"}
CONFIG = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
BOB_CONFIG = "9c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
DATASET = "5b0e7c3a-2f41-4d8e-9c61-7a3d2e9f0b14"
BOB_DATASET = "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
SUITE = "3b9e1f42-7c6d-4a58-9f0e-2d1c4b6a8e90"
BOB_RUN = "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b"


def wait_for(check: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll until `check()` holds; fail after the deadline."""
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, "condition not reached before the deadline"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def fast() -> Any:
    """A mock whose server-side intervals run 1000 times faster."""
    from conftest import start_mock

    handle = start_mock("--time-scale", "0.001")
    yield handle
    handle.stop()


# --- configs -----------------------------------------------------------------------------------


def test_config_create_read_update_delete(mock: MockProcess) -> None:
    url = mock.url + path_of("list_configs")
    body = {"name": "cfg", "template_type": "sft", "config_json": {"training": {}}}
    created = httpx.post(url, json=body, headers=SESSION)
    assert created.status_code == 201
    config = created.json()["config"]
    assert config["is_validated"] is False and "model" in config["validation_errors"]
    item = mock.url + path_of("get_config", id=config["id"])
    assert httpx.get(item, headers=SESSION).json()["config"] == config
    fixed = httpx.put(item, json={"name": "", "config_json": {"model": {"name": "m"}, "training": {}}}, headers=SESSION)
    assert fixed.json()["config"]["is_validated"] is True and fixed.json()["config"]["name"] == "cfg"
    assert config["id"] in {c["id"] for c in httpx.get(url, headers=SESSION).json()["configs"]}
    assert httpx.delete(item, headers=SESSION).json() == {"success": True}
    assert httpx.get(item, headers=SESSION).status_code == 404
    assert httpx.delete(item, headers=SESSION).status_code == 200, "deletes are idempotent"


def test_configs_are_private_but_public_packages_are_open(mock: MockProcess) -> None:
    assert httpx.get(mock.url + path_of("get_config", id=BOB_CONFIG), headers=SESSION).status_code == 404
    assert (
        httpx.put(mock.url + path_of("update_config", id=BOB_CONFIG), json={"name": "x"}, headers=SESSION).status_code
        == 404
    )
    httpx.delete(mock.url + path_of("delete_config", id=BOB_CONFIG), headers=SESSION)
    assert httpx.get(mock.url + path_of("get_config", id=BOB_CONFIG), headers=BOB).status_code == 200, "not deleted"
    public = httpx.get(mock.url + path_of("get_public_config", id="sft-support-bot-demo"))
    assert public.status_code == 200 and public.headers["access-control-allow-origin"] == "*"
    datasets = httpx.get(mock.url + path_of("get_public_datasets", id="sft-support-bot-demo")).json()["datasets"]
    assert [d["id"] for d in datasets] == [DATASET] and datasets[0]["download_url"].startswith("http")
    missing = httpx.get(mock.url + path_of("get_public_config", id="nope"))
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == "*"


# --- datasets ----------------------------------------------------------------------------------


def upload(mock: MockProcess, content: bytes, fmt: str = "chatml", headers: dict[str, str] = SESSION) -> httpx.Response:
    return httpx.post(
        mock.url + path_of("upload_dataset"),
        data={"name": "uploaded", "format": fmt, "description": "d"},
        files={"file": ("set.jsonl", content, "application/x-ndjson")},
        headers=headers,
    )


def test_dataset_upload_list_preview_delete(mock: MockProcess) -> None:
    lines = [b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]}'] * 5
    response = upload(mock, b"\n".join(lines), fmt="alpaca")
    assert response.status_code == 200, response.text
    body = response.json()
    dataset = body["dataset"]
    assert dataset["total_examples"] == 5 and dataset["metadata"]["detected_format_canonical"] == "chatml"
    assert dataset["metadata"]["format_mismatch"] is True and body["estimated_tokens"] > 0
    assert (dataset["avg_input_length"], dataset["avg_output_length"]) == (2, 11)
    listed = httpx.get(mock.url + path_of("list_datasets"), headers=SESSION).json()["datasets"]
    assert listed[0] == dataset, "newest first"
    available = httpx.get(mock.url + path_of("list_available_datasets"), headers=SESSION).json()
    assert available["datasets"][0]["displayLabel"] == "uploaded (alpaca, 5 examples)"
    preview = httpx.get(
        mock.url + path_of("preview_dataset", id=dataset["id"]), params={"offset": 3, "limit": 5}, headers=SESSION
    )
    assert preview.json()["total"] == 5 and preview.json()["has_more"] is False
    assert [e["index"] for e in preview.json()["examples"]] == [3, 4]
    assert preview.json()["examples"][0]["data"]["messages"][0]["content"] == "hi"
    assert httpx.delete(mock.url + path_of("delete_dataset", id=dataset["id"]), headers=SESSION).status_code == 200
    assert httpx.get(mock.url + path_of("preview_dataset", id=dataset["id"]), headers=SESSION).status_code == 404


def test_string_examples_are_stored_as_json_lines_and_preview_as_strings(mock: MockProcess) -> None:
    # Found by the gate's fuzzing: a JSON array file with a string in it was a 500 (the string was stored bare).
    response = upload(mock, b'["", "hello", {"text": "x"}]')
    assert response.status_code == 200, response.text
    dataset = response.json()["dataset"]
    assert dataset["total_examples"] == 3
    preview = httpx.get(mock.url + path_of("preview_dataset", id=dataset["id"]), headers=SESSION).json()
    assert [e["data"] for e in preview["examples"]] == ["", "hello", {"text": "x"}]


def test_an_upload_without_examples_is_rejected(mock: MockProcess) -> None:
    response = upload(mock, b"not json\nstill not json\n")
    assert response.status_code == 400 and response.json()["error"] == "Invalid dataset"
    assert any("line 1" in d for d in response.json()["details"])


def test_someone_elses_dataset_is_not_found(mock: MockProcess) -> None:
    assert httpx.get(mock.url + path_of("preview_dataset", id=BOB_DATASET), headers=SESSION).status_code == 404
    assert httpx.delete(mock.url + path_of("delete_dataset", id=BOB_DATASET), headers=SESSION).status_code == 404
    mine = {d["id"] for d in httpx.get(mock.url + path_of("list_datasets"), headers=SESSION).json()["datasets"]}
    assert BOB_DATASET not in mine and DATASET in mine


# --- baselines ---------------------------------------------------------------------------------


def test_baselines_crud_shared_by_every_user(mock: MockProcess) -> None:
    url = mock.url + path_of("list_baselines")
    body = {
        "modelName": "m-x",
        "version": "v2",
        "metricName": "acc",
        "baselineValue": 0.9,
        "thresholdType": "min",
        "thresholdValue": 0.8,
        "severity": "warning",
    }
    created = httpx.post(url, json=body, headers=SESSION).json()["baseline"]
    assert created["metricCategory"] == "accuracy" and created["alertEnabled"] is True
    listed = httpx.get(url, params={"modelName": "m-x"}, headers=BOB).json()
    assert listed["count"] == 1 and listed["baselines"] == [created] and "version" not in listed
    assert httpx.get(url, params={"modelName": "m-x", "version": "v1"}, headers=SESSION).json()["count"] == 0
    updated = httpx.put(url, params={"id": created["id"]}, json={"severity": "critical"}, headers=BOB).json()
    assert updated["baseline"]["severity"] == "critical" and updated["baseline"]["thresholdValue"] == 0.8
    assert httpx.delete(url, params={"id": created["id"]}, headers=SESSION).status_code == 200
    assert httpx.get(url, params={"modelName": "m-x"}, headers=SESSION).json()["count"] == 0
    assert httpx.put(url, params={"id": created["id"]}, json={"severity": "info"}, headers=SESSION).status_code == 404
    assert httpx.delete(url, params={"id": created["id"]}, headers=SESSION).status_code == 200


# --- deployments -------------------------------------------------------------------------------


def deploy(mock: MockProcess, provider: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        mock.url + path_of(f"create_{provider.replace('-', '_')}_deployment"),
        json={"training_config_id": CONFIG, **body},
        headers=SESSION,
    )


def deployment_status(mock: MockProcess, provider: str, key: str, param: str = "deployment_id") -> str:
    response = httpx.get(
        mock.url + path_of(f"get_{provider.replace('-', '_')}_deployment"), params={param: key}, headers=SESSION
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


@pytest.mark.parametrize(
    ("provider", "body", "key", "param", "statuses"),
    [
        ("runpod", {}, "deployment_id", "deployment_id", ["creating", "starting", "running", "stopped"]),
        ("hf-spaces", {}, "deployment_id", "deployment_id", ["building", "running", "training", "completed"]),
        (
            "google-colab",
            {"notebook_name": "nb"},
            "deployment_id",
            "deployment_id",
            ["creating", "running", "training", "completed"],
        ),
        ("kaggle", {"notebook_title": "Nb"}, "deployment_id", "deployment_id", ["queued", "running", "completed"]),
        (
            "sagemaker",
            {"instance_type": "ml.g5.xlarge"},
            "job_name",
            "job_name",
            ["queued", "starting", "training", "completed"],
        ),
    ],
)
def test_deployments_move_through_their_statuses_over_scaled_time(
    fast: MockProcess, provider: str, body: dict[str, Any], key: str, param: str, statuses: list[str]
) -> None:
    created = deploy(fast, provider, body)
    assert created.status_code == 200, created.text
    assert created.json()["status"] == statuses[0]
    seen = [statuses[0]]

    def reached_the_end() -> bool:
        status = deployment_status(fast, provider, created.json()[key], param)
        if status != seen[-1]:
            seen.append(status)
        return status == statuses[-1]

    wait_for(reached_the_end)
    assert [s for s in statuses if s in seen] == seen, f"statuses out of order: {seen}"
    assert seen[-1] == statuses[-1]


def test_runpod_deployment_creates_a_pending_job_and_stops_on_delete(mock: MockProcess) -> None:
    created = deploy(mock, "runpod", {"gpu_type": "NVIDIA H100"}).json()
    assert created["cost"]["cost_per_hour"] == 3.29
    job = httpx.get(
        mock.url + path_of("get_job_status", jobId=created["job_id"]), headers={"X-API-Key": ALICE_KEY}
    ).json()
    assert job["status"] == "pending" and job["total_steps"] == 3, "ceil(3 examples / (4 x 8)) x 3 epochs"
    url = mock.url + path_of("get_runpod_deployment")
    stopped = httpx.delete(url, params={"deployment_id": created["deployment_id"]}, headers=SESSION)
    assert stopped.json()["status"] == "stopped"
    assert deployment_status(mock, "runpod", created["deployment_id"]) == "stopped"
    assert httpx.get(url, params={"deployment_id": "nope"}, headers=SESSION).status_code == 404


def test_deploying_someone_elses_config_is_not_found(mock: MockProcess) -> None:
    response = httpx.post(
        mock.url + path_of("create_sagemaker_deployment"),
        json={"training_config_id": BOB_CONFIG, "instance_type": "ml.g5.xlarge"},
        headers=SESSION,
    )
    assert response.status_code == 404 and response.json()["error"] == "Training configuration not found"


def test_lambda_is_gone_for_every_method(mock: MockProcess) -> None:
    for method, operation_id in (
        ("GET", "get_lambda_deployment"),
        ("POST", "create_lambda_deployment"),
        ("DELETE", "delete_lambda_deployment"),
    ):
        response = httpx.request(method, mock.url + path_of(operation_id))
        assert response.status_code == 410
        assert response.headers["x-deprecated-at"] == "2025-12-18"
        assert response.json()["replacement"]["method"] == method


# --- batch tests -------------------------------------------------------------------------------

TESTING = {"X-API-Key": ALICE_TESTING_KEY}


def start_run(mock: MockProcess, **config: Any) -> str:
    body = {"config": {"model_id": "m", "test_suite_id": SUITE, **config}}
    response = httpx.post(mock.url + path_of("run_batch_test"), json=body, headers=TESTING)
    assert response.status_code == 200, response.text
    assert response.json()["total_prompts"] == min(5, config.get("prompt_limit", 25))
    return str(response.json()["test_run_id"])


def run_status(mock: MockProcess, run_id: str) -> dict[str, Any]:
    return dict(httpx.get(mock.url + path_of("get_batch_test_status", id=run_id), headers=TESTING).json())


def test_a_batch_run_completes_over_scaled_time(fast: MockProcess) -> None:
    run_id = start_run(fast, prompt_limit=4, concurrency=2, delay_ms=1000)
    wait_for(lambda: run_status(fast, run_id)["status"] == "completed")
    done = run_status(fast, run_id)
    assert (done["completed_prompts"], done["progress"], len(done["results"])) == (4, 1.0, 4)
    assert done["completed_at"] and [r["prompt_index"] for r in done["results"]] == [0, 1, 2, 3]


def test_cancel_rules_of_batch_runs(mock: MockProcess) -> None:
    cancel = mock.url + path_of("cancel_batch_test")
    run_id = start_run(mock, delay_ms=600_000)
    foreign = httpx.post(cancel, json={"test_run_id": BOB_RUN}, headers=TESTING)
    assert foreign.status_code == 403 and foreign.json()["error"] == "Unauthorized - not your test run"
    assert httpx.post(cancel, json={"test_run_id": "nope"}, headers=TESTING).status_code == 404
    assert httpx.post(cancel, json={"test_run_id": run_id}, headers=TESTING).status_code == 200
    cancelled = run_status(mock, run_id)
    assert (cancelled["status"], cancelled["error"]) == ("failed", "Cancelled by user")
    again = httpx.post(cancel, json={"test_run_id": run_id}, headers=TESTING)
    assert again.status_code == 400 and again.json()["error"] == "Cannot cancel test with status: failed"


def test_a_foreign_test_suite_or_run_is_not_found(mock: MockProcess) -> None:
    assert httpx.get(mock.url + path_of("get_batch_test_status", id=BOB_RUN), headers=TESTING).status_code == 404
    body = {"config": {"model_id": "m", "test_suite_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"}}
    assert httpx.post(mock.url + path_of("run_batch_test"), json=body, headers=TESTING).status_code == 404


# --- the resource registry ----------------------------------------------------------------------


def test_a_resource_module_that_fails_to_import_fails_the_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    # A typo or a missing module must not quietly turn its operations back into spec examples.
    monkeypatch.setitem(sys.modules, "mockserver.resources.traces", None)
    monkeypatch.delitem(sys.modules, "mockserver.resources")
    with pytest.raises(ImportError, match=r"mockserver\.resources\.traces"):
        importlib.import_module("mockserver.resources")


def test_two_handlers_for_one_operation_fail() -> None:
    twice = (resources.traces, resources.traces)
    with pytest.raises(MockError, match="list_traces"):
        resources.handlers(twice)


# --- traces and analytics ----------------------------------------------------------------------

PRODUCTION = {"X-API-Key": ALICE_PRODUCTION_KEY}


def span(trace_id: str, span_id: str, parent: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_trace_id": parent,
        "span_name": f"span {span_id}",
        "operation_type": "completion",
        **extra,
    }


def test_spans_upsert_and_nest_under_their_parent(mock: MockProcess) -> None:
    url = mock.url + path_of("list_traces")
    root = httpx.post(url, json=span("T", "root", start_time="2026-07-01T00:00:00Z"), headers=PRODUCTION).json()
    assert root["data"]["status"] == "pending" and root["data"]["metadata"] == {}
    httpx.post(url, json=span("T", "child", "root", start_time="2026-07-01T00:00:01Z"), headers=PRODUCTION)
    again = httpx.post(
        url, json=span("T", "root", status="completed", start_time="2026-07-01T00:00:00Z"), headers=PRODUCTION
    )
    assert again.json()["data"]["id"] == root["data"]["id"] and again.json()["data"]["status"] == "completed"
    tree = httpx.get(url, params={"trace_id": "T"}, headers=PRODUCTION).json()
    assert [n["span_id"] for n in tree["data"]] == ["root"] and tree["pagination"]["total"] == 2
    assert [c["span_id"] for c in tree["data"][0]["children"]] == ["child"]
    flat = httpx.get(url, params={"limit": 1, "offset": 1, "operation_type": "completion"}, headers=PRODUCTION).json()
    assert len(flat["data"]) == 1 and flat["pagination"] == {"limit": 1, "offset": 1, "total": 1}
    assert (
        httpx.get(url, params={"trace_id": "T"}, headers={"Authorization": f"Bearer {BOB_SESSION_TOKEN}"}).json()[
            "data"
        ]
        == []
    )


def test_analytics_are_computed_from_spans_and_cached(mock: MockProcess) -> None:
    url = mock.url + path_of("get_analytics_data")
    window = {"startDate": "2026-06-30T00:00:00Z", "endDate": "2026-07-01T00:00:00Z", "metrics": "tokens,latency"}
    first = httpx.get(url, params=window, headers=PRODUCTION)
    assert first.headers["x-cache"] == "MISS"
    totals = first.json()["data"]["aggregations"]["totals"]
    stored = httpx.get(f"{mock.admin}/data").json()["traces"]
    in_window = [s for s in stored if s["user_id"] == ALICE and s["start_time"].startswith("2026-06-30")]
    with_tokens = [s for s in in_window if s["input_tokens"] is not None]
    assert totals["tokens"] == sum(s["input_tokens"] + (s["output_tokens"] or 0) for s in with_tokens) > 0
    assert totals["messages"] == len(with_tokens)
    assert totals["errors"] == sum(1 for s in in_window if s["status"] == "failed") > 0
    assert first.json()["metadata"]["metrics"] == ["tokens", "latency"]
    second = httpx.get(url, params=window, headers=PRODUCTION)
    assert second.headers["x-cache"] == "HIT" and second.json()["metadata"]["fromCache"] is True
    fresh = httpx.get(url, params={**window, "noCache": "true"}, headers=PRODUCTION)
    assert fresh.headers["x-cache"] == "MISS"
    wide = httpx.get(url, params={**window, "startDate": "2026-01-01T00:00:00Z"}, headers=PRODUCTION)
    assert wide.status_code == 400 and "90 days" in wide.json()["error"]
    none = httpx.get(url, params={**window, "metrics": "bogus"}, headers=PRODUCTION)
    assert none.status_code == 400 and none.json()["error"] == "At least one metric must be specified"


ANALYTICS_WINDOW = {"startDate": "2026-06-30T00:00:00Z", "endDate": "2026-07-01T00:00:00Z", "metrics": "tokens"}


def test_reset_forgets_cached_analytics(mock: MockProcess) -> None:
    url = mock.url + path_of("get_analytics_data")
    assert httpx.get(url, params=ANALYTICS_WINDOW, headers=PRODUCTION).headers["x-cache"] == "MISS"
    assert httpx.get(url, params=ANALYTICS_WINDOW, headers=PRODUCTION).headers["x-cache"] == "HIT"
    assert httpx.post(f"{mock.admin}/reset", json={}).status_code == 200
    assert httpx.get(url, params=ANALYTICS_WINDOW, headers=PRODUCTION).headers["x-cache"] == "MISS"


def test_replacing_the_traces_forgets_cached_analytics(mock: MockProcess) -> None:
    url = mock.url + path_of("get_analytics_data")
    before = httpx.get(url, params=ANALYTICS_WINDOW, headers=PRODUCTION).json()["data"]["aggregations"]["totals"]
    assert before["messages"] > 0
    assert httpx.put(f"{mock.admin}/data", json={"traces": []}).status_code == 200
    after = httpx.get(url, params=ANALYTICS_WINDOW, headers=PRODUCTION)
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["data"]["aggregations"]["totals"]["messages"] == 0


def test_a_run_never_takes_more_prompts_than_the_contract_bounds(mock: MockProcess) -> None:
    import spec

    bound = spec.load().operation("run_batch_test").request_body
    assert bound is not None
    config_schema = bound.content["application/json"].schema
    assert config_schema is not None
    limit = config_schema.raw["properties"]["config"]["properties"]["prompt_limit"]["maximum"]
    url = mock.url + path_of("run_batch_test")
    config = {"model_id": "m", "source_path": "prompts.jsonl"}
    too_many = httpx.post(url, json={"config": {**config, "prompt_limit": limit + 1}}, headers=TESTING, timeout=10)
    assert too_many.status_code == 400
    assert too_many.json()["error"] == f"body.config.prompt_limit: must be <= {limit}"
    most = httpx.post(url, json={"config": {**config, "prompt_limit": limit}}, headers=TESTING, timeout=10)
    assert (most.status_code, most.json()["total_prompts"]) == (200, limit)
