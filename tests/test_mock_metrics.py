"""Metrics, logs and errors in the mock: worker writes with the job token, owner reads by page."""

from __future__ import annotations

import math
import uuid
from typing import Any

import httpx
import pytest
from conftest import ALICE_KEY, BOB_KEY, DEMO_JOB, DEMO_JOB_TOKEN, MockProcess, path_of

KEY = {"X-API-Key": ALICE_KEY}


@pytest.fixture
def job(mock: MockProcess) -> tuple[str, dict[str, str]]:
    """A fresh job of alice with 100 steps, and its worker's headers."""
    job_id = f"job_{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        mock.url + path_of("create_job"),
        json={"job_id": job_id, "status": "queued", "total_steps": 100},
        headers=KEY,
    )
    return job_id, {"Authorization": f"Bearer {response.json()['job_token']}"}


def job_url(mock: MockProcess, operation_id: str, job_id: str) -> str:
    return mock.url + path_of(operation_id, jobId=job_id)


def report(mock: MockProcess, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(job_url(mock, "get_job_status", job_id), headers=KEY).json())


def test_logs_append_and_read_by_page(mock: MockProcess, job: tuple[str, dict[str, str]]) -> None:
    job_id, worker = job
    empty = httpx.get(job_url(mock, "get_logs", job_id), headers=KEY).json()
    assert empty == {"job_id": job_id, "logs": [], "total_lines": 0, "message": "No logs available yet"}
    nothing = httpx.post(job_url(mock, "append_logs", job_id), json={"logs": []}, headers=worker).json()
    assert nothing == {"success": True, "message": "No logs to append"}
    for chunk in (["a", "b", "c"], ["d", "e"]):
        appended = httpx.post(job_url(mock, "append_logs", job_id), json={"logs": chunk}, headers=worker).json()
        assert appended["logs_appended"] == len(chunk)
    assert appended["total_logs"] == 5
    page = httpx.get(job_url(mock, "get_logs", job_id), params={"limit": 2, "offset": 2}, headers=KEY).json()
    assert page == {"logs": ["c", "d"], "total_lines": 5, "offset": 2, "limit": 2}


def test_job_metric_reads_loss_as_train_loss_and_truncates_the_epoch(
    mock: MockProcess, job: tuple[str, dict[str, str]]
) -> None:
    job_id, worker = job
    body = {
        "step": 30,
        "epoch": 1.8,
        "loss": 0.5,
        "train_loss": 9.0,
        "eval_loss": 0.7,
        "progress": 30,
        "elapsed_seconds": 60,
    }
    assert httpx.post(job_url(mock, "create_job_metric", job_id), json=body, headers=worker).status_code == 200
    [point] = httpx.get(job_url(mock, "get_metrics", job_id), headers=KEY).json()["metrics"]
    assert (point["step"], point["epoch"], point["train_loss"]) == (30, 1, 0.5)
    assert point["train_perplexity"] == pytest.approx(math.exp(0.5))
    assert point["perplexity"] == pytest.approx(math.exp(0.7))
    status = report(mock, job_id)
    assert status["status"] == "running" and status["progress"] == 30 and status["best_eval_loss"] == 0.7


def test_metric_batches_are_listed_by_page_without_row_keys(mock: MockProcess, job: tuple[str, dict[str, str]]) -> None:
    job_id, worker = job
    points = [{"step": step, "epoch": 0, "train_loss": 2.0 - step / 100} for step in (40, 10, 30, 20)]
    response = httpx.post(
        mock.url + path_of("create_metrics_batch"), json={"job_id": job_id, "metrics": points}, headers=worker
    )
    assert response.json() == {"success": True, "count": 4}
    history = httpx.get(job_url(mock, "get_metrics", job_id), headers=KEY).json()["metrics"]
    assert [p["step"] for p in history] == [10, 20, 30, 40], "ordered by step"
    page = httpx.get(
        mock.url + path_of("list_local_metrics"), params={"job_id": job_id, "limit": 2, "offset": 1}, headers=KEY
    )
    body = page.json()
    assert [p["step"] for p in body["metrics"]] == [20, 30] and body["total"] == 4
    assert all("id" not in p and "job_id" not in p for p in body["metrics"])
    assert report(mock, job_id)["current_step"] == 40 and report(mock, job_id)["progress"] == 40


def test_a_token_only_opens_its_own_job(mock: MockProcess, job: tuple[str, dict[str, str]]) -> None:
    _, worker = job
    response = httpx.put(job_url(mock, "record_metric", DEMO_JOB), json={"step": 1, "epoch": 0}, headers=worker)
    assert response.status_code == 401
    own = httpx.put(
        job_url(mock, "record_metric", DEMO_JOB),
        json={"step": 1, "epoch": 0},
        headers={"Authorization": f"Bearer {DEMO_JOB_TOKEN}"},
    )
    assert own.status_code == 200


def test_errors_report_of_a_failed_job_and_of_a_clean_one(mock: MockProcess) -> None:
    failed = httpx.get(job_url(mock, "get_errors", "job_demo_failed"), headers=KEY).json()
    assert failed["error_count"] == 4 and failed["unique_error_count"] == 2 and failed["traceback"]["frames"]
    clean = httpx.get(job_url(mock, "get_errors", DEMO_JOB), headers=KEY).json()
    assert clean == {
        "job_id": DEMO_JOB,
        "error_summary": None,
        "errors": [],
        "traceback": None,
        "error_count": 0,
        "unique_error_count": 0,
    }


@pytest.mark.parametrize("operation_id", ["get_metrics", "get_logs", "get_errors"])
def test_someone_elses_job_is_not_found(mock: MockProcess, operation_id: str) -> None:
    response = httpx.get(job_url(mock, operation_id, "job_bob_001"), headers=KEY)
    assert response.status_code == 404 and response.json() == {"error": "Job not found or unauthorized"}
    assert httpx.get(job_url(mock, operation_id, "job_bob_001"), headers={"X-API-Key": BOB_KEY}).status_code == 200
    listed = httpx.get(mock.url + path_of("list_local_metrics"), params={"job_id": "job_bob_001"}, headers=KEY)
    assert listed.status_code == 404


def test_undeclared_keys_of_an_upload_never_corrupt_stored_rows(
    mock: MockProcess, job: tuple[str, dict[str, str]]
) -> None:
    import spec

    job_id, worker = job
    body = {"step": 5, "epoch": 0, "id": [[1]], "timestamp": 7, "loss_trend": {"x": 1}}
    assert httpx.put(job_url(mock, "record_metric", job_id), json=body, headers=worker).status_code == 200
    response = httpx.get(job_url(mock, "get_metrics", job_id), headers=KEY)
    schema = spec.load().operation("get_metrics").success.media().schema
    assert schema is not None
    assert list(schema.violations(response.json())) == []
    [point] = response.json()["metrics"]
    assert point["id"] != [[1]] and isinstance(point["timestamp"], str) and point["loss_trend"] is None
