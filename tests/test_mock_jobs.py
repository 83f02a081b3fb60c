"""Jobs and their control in the mock: upsert, lists, computed status, worker updates, state rules."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import (
    ALICE,
    ALICE_KEY,
    ALICE_SESSION_TOKEN,
    BOB,
    BOB_KEY,
    BOB_SESSION_TOKEN,
    DEMO_JOB,
    MockProcess,
    path_of,
)

KEY = {"X-API-Key": ALICE_KEY}
SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
STATUSES = ("pending", "queued", "running", "paused", "completed", "failed", "cancelled")


def create(mock: MockProcess, headers: dict[str, str] = KEY, **fields: Any) -> dict[str, Any]:
    fields.setdefault("job_id", f"job_{uuid.uuid4().hex[:8]}")
    response = httpx.post(mock.url + path_of("create_job"), json=fields, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def stored_job(mock: MockProcess, job_id: str) -> dict[str, Any]:
    jobs = httpx.get(f"{mock.admin}/data").json()["jobs"]
    return dict(next(job for job in jobs if job["id"] == job_id))


def status(mock: MockProcess, job_id: str, headers: dict[str, str] = KEY) -> httpx.Response:
    return httpx.get(mock.url + path_of("get_job_status", jobId=job_id), headers=headers)


def control(
    mock: MockProcess, job_id: str, action: str, headers: dict[str, str] = SESSION, **extra: Any
) -> httpx.Response:
    return httpx.post(
        mock.url + path_of("control_job", jobId=job_id), json={"action": action, **extra}, headers=headers
    )


def wait_for(check: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll until `check()` holds; fail after the deadline."""
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, "condition not reached before the deadline"
        time.sleep(0.05)


def test_create_job_issues_a_token_and_reads_back(mock: MockProcess) -> None:
    made = create(mock, model_name="Qwen/Qwen3-0.6B", dataset_path="data/x.jsonl", status="running", total_steps=40)
    assert made["user_id"] == ALICE and len(made["job_token"]) == 43
    report = status(mock, made["job_id"]).json()
    assert (report["status"], report["model_name"], report["total_steps"]) == ("running", "Qwen/Qwen3-0.6B", 40)
    assert report["model_display_name"] == "Qwen3-0.6B" and report["dataset_name"] == "x"


def test_create_job_again_updates_only_what_is_sent_and_keeps_the_token(mock: MockProcess) -> None:
    made = create(mock, model_name="m1", dataset_path="d1")
    again = create(mock, job_id=made["job_id"], status="completed")
    assert again["job_token"] == made["job_token"]
    row = stored_job(mock, made["job_id"])
    assert (row["model_name"], row["dataset_path"], row["status"]) == ("m1", "d1", "completed")


def test_create_job_on_someone_elses_id_is_not_found_and_changes_nothing(mock: MockProcess) -> None:
    made = create(mock, headers={"X-API-Key": BOB_KEY}, model_name="bob-model")
    response = httpx.post(
        mock.url + path_of("create_job"), json={"job_id": made["job_id"], "model_name": "x"}, headers=KEY
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "Job not found" and made["job_token"] not in response.text
    row = stored_job(mock, made["job_id"])
    assert (row["user_id"], row["model_name"]) == (BOB, "bob-model")
    assert status(mock, made["job_id"], {"X-API-Key": BOB_KEY}).status_code == 200


def test_create_job_ignores_a_user_id_in_the_body(mock: MockProcess) -> None:
    made = create(mock, user_id=BOB)
    assert made["user_id"] == ALICE and stored_job(mock, made["job_id"])["user_id"] == ALICE


def test_list_jobs_ignores_limit_and_offset(mock: MockProcess) -> None:
    everything = httpx.get(mock.url + path_of("list_jobs"), headers=KEY).json()
    paged = httpx.get(mock.url + path_of("list_jobs"), params={"limit": 1, "offset": 3}, headers=KEY).json()
    assert paged == everything and everything["count"] == len(everything["jobs"]) > 1
    assert BOB not in str(everything) and "job_bob_001" not in {j["id"] for j in everything["jobs"]}
    created = [j["created_at"] for j in everything["jobs"]]
    assert created == sorted(created, reverse=True)


def test_list_local_jobs_paginates_and_filters(mock: MockProcess) -> None:
    url = mock.url + path_of("list_local_jobs")
    whole = httpx.get(url, params={"limit": 100}, headers=KEY).json()
    page = httpx.get(url, params={"limit": 2, "offset": 1}, headers=KEY).json()
    assert [j["id"] for j in page["jobs"]] == [j["id"] for j in whole["jobs"]][1:3]
    assert page["total"] == whole["total"] == len(whole["jobs"]) and (page["limit"], page["offset"]) == (2, 1)
    running = httpx.get(url, params={"status": "running"}, headers=KEY).json()
    assert running["jobs"] and {j["status"] for j in running["jobs"]} == {"running"}


def test_status_is_computed_from_the_latest_metric(mock: MockProcess) -> None:
    made = create(mock, status="pending", total_steps=200)
    worker = {"Authorization": f"Bearer {made['job_token']}"}
    metrics_url = mock.url + path_of("record_metric", jobId=made["job_id"])
    for step, loss in ((20, 2.0), (40, 1.8), (60, 1.5), (80, 1.2), (100, 1.0), (120, 0.9)):
        point = {"step": step, "epoch": step // 100, "train_loss": loss, "eval_loss": loss + 0.1, "grad_norm": 0.5}
        assert httpx.put(metrics_url, json=point, headers=worker).status_code == 200
    report = status(mock, made["job_id"]).json()
    assert report["status"] == "running", "a metric starts a pending job"
    assert (report["current_step"], report["current_epoch"], report["progress"]) == (120, 1, 60)
    assert report["loss"] == 0.9 and report["eval_loss"] == 1.0 and report["grad_norm"] == 0.5
    assert report["loss_trend"] == "improving"
    assert report["best_eval_loss"] == 1.0 and report["best_step"] == 120
    assert report["train_perplexity"] == pytest.approx(2.4596, rel=1e-3)


def test_status_of_a_job_without_metrics_leaves_undefined_keys_out(mock: MockProcess) -> None:
    made = create(mock, status="queued")
    report = status(mock, made["job_id"]).json()
    assert (report["current_step"], report["progress"], report["elapsed_seconds"]) == (0, 0, 0)
    for key in ("loss", "eval_loss", "learning_rate", "error", "warning", "gpu_total_memory_gb"):
        assert key not in report


def test_failed_job_reports_its_error(mock: MockProcess) -> None:
    report = status(mock, "job_demo_failed").json()
    assert report["error"] == "CUDA out of memory. Tried to allocate 2.00 GiB"


def test_worker_status_update_stamps_completion(mock: MockProcess) -> None:
    made = create(mock)
    url = mock.url + path_of("update_job_status", jobId=made["job_id"])
    worker = {"Authorization": f"Bearer {made['job_token']}"}
    response = httpx.patch(url, json={"status": "failed", "error": "disk full"}, headers=worker)
    assert response.status_code == 200 and response.json()["status"] == "failed"
    report = status(mock, made["job_id"]).json()
    assert report["status"] == "failed" and report["error"] == "disk full" and report["completed_at"]


def test_a_silent_running_job_gets_a_warning_after_scaled_five_minutes(mock_factory: Any) -> None:
    fast = mock_factory("--time-scale", "0.002")
    made = create(fast, status="running")
    assert "warning" not in status(fast, made["job_id"]).json()
    wait_for(lambda: "warning" in status(fast, made["job_id"]).json())
    assert "No updates received" in status(fast, made["job_id"]).json()["warning"]


# --- control -----------------------------------------------------------------------------------

ALLOWED = {
    "pause": {"running", "pending"},
    "resume": {"paused"},
    "cancel": {"queued", "pending", "running", "paused"},
}
RESULT = {"pause": "paused", "resume": "queued", "cancel": "cancelled"}


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("current", STATUSES)
def test_control_follows_the_state_rules(mock: MockProcess, action: str, current: str) -> None:
    made = create(mock, status=current)
    extra = {"checkpoint_path": "output/ckpt-10"} if action == "resume" else {}
    response = control(mock, made["job_id"], action, **extra)
    if current in ALLOWED[action]:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True and body["result"]["previous_status"] == current
        assert stored_job(mock, made["job_id"])["status"] == RESULT[action]
    else:
        assert response.status_code == 400
        body = response.json()
        assert body["success"] is False and body["current_status"] == current
        assert set(body["allowed_statuses"]) == ALLOWED[action] and body["job_id"] == made["job_id"]
        assert stored_job(mock, made["job_id"])["status"] == current


def test_control_resume_needs_a_checkpoint(mock: MockProcess) -> None:
    made = create(mock, status="paused")
    response = control(mock, made["job_id"], "resume")
    assert response.status_code == 400 and "checkpoint" in response.json()["error"]
    assert control(mock, made["job_id"], "resume", checkpoint_path="out/ckpt-5").json()["result"]["checkpoint_path"]


def test_cancelling_a_runpod_job_terminates_its_pod(mock: MockProcess) -> None:
    job_id = "7a1e3c5b-9d2f-4e68-8b04-6c3f1a9d5e27"
    response = control(mock, job_id, "cancel")
    assert response.json()["message"] == "RunPod pod terminated successfully"
    pod = httpx.get(
        mock.url + path_of("get_runpod_deployment"), params={"deployment_id": job_id}, headers=SESSION
    ).json()
    assert pod["status"] == "stopped" and stored_job(mock, job_id)["status"] == "cancelled"


def test_control_of_someone_elses_job_is_not_found(mock: MockProcess) -> None:
    response = control(mock, "job_bob_001", "pause")
    assert response.status_code == 404 and response.json()["success"] is False
    assert control(mock, "job_bob_001", "pause", {"Authorization": f"Bearer {BOB_SESSION_TOKEN}"}).status_code == 200


def test_resume_from_best_uses_the_jobs_best_checkpoint(mock: MockProcess) -> None:
    url = mock.url + path_of("resume_job", jobId="job_demo_failed")
    response = httpx.post(url, json={"resume_from_best": True}, headers=SESSION)
    assert response.json()["checkpoint_path"] == "output/job_demo_failed/checkpoint-50"
    missing = httpx.post(url, json={}, headers=SESSION)
    assert missing.status_code == 400 and "suggestion" in missing.json()


@pytest.mark.parametrize("current", STATUSES)
def test_resume_restarts_only_failed_cancelled_pending_or_queued_jobs(mock: MockProcess, current: str) -> None:
    made = create(mock, status=current, config={"training": {"batch_size": 8}})
    url = mock.url + path_of("resume_job", jobId=made["job_id"])
    body = {"checkpoint_path": "output/ckpt-7", "config_adjustments": {"learning_rate": 0.0001, "unknown": 1}}
    response = httpx.post(url, json=body, headers=SESSION)
    if current in ("failed", "cancelled", "pending", "queued"):
        assert response.status_code == 200, response.text
        new_id = response.json()["job_id"]
        assert re.fullmatch(re.escape(made["job_id"]) + r"-resume-\d{13}", new_id)
        new = stored_job(mock, new_id)
        assert new["resumed_from_job_id"] == made["job_id"] and new["resume_from_checkpoint"] == "output/ckpt-7"
        assert new["config"]["training"] == {"batch_size": 8, "learning_rate": 0.0001}
        assert status(mock, new_id).status_code == 200
    else:
        assert response.status_code == 400
        assert response.json()["current_status"] == current
        assert response.json()["allowed_statuses"] == ["failed", "cancelled", "pending", "queued"]


def test_update_params_records_on_running_jobs_only(mock: MockProcess) -> None:
    url = mock.url + path_of("update_job_params", jobId=DEMO_JOB)
    response = httpx.patch(url, json={"learning_rate": 0.0001, "warmup_steps": 5}, headers=SESSION)
    assert response.status_code == 200
    updates = response.json()["updates"]
    assert (updates["learning_rate"], updates["warmup_steps"], updates["requested_by"]) == (0.0001, 5, ALICE)
    assert "batch_size" not in updates
    assert stored_job(mock, DEMO_JOB)["parameter_updates"] == [updates]
    done = httpx.patch(
        mock.url + path_of("update_job_params", jobId="job_demo_completed"), json={"batch_size": 2}, headers=SESSION
    )
    assert done.status_code == 400 and done.json()["current_status"] == "completed"


def test_a_chosen_job_token_must_be_a_bearer_token(mock: MockProcess) -> None:
    url = mock.url + path_of("create_job")
    body = {"job_id": f"job_{uuid.uuid4().hex[:8]}", "job_token": "tök en"}
    refused = httpx.post(url, json=body, headers={"X-API-Key": ALICE_KEY}, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("body.job_token: must match pattern")
    chosen = httpx.post(url, json={**body, "job_token": "abc-DEF_123.x"}, headers={"X-API-Key": ALICE_KEY}, timeout=10)
    assert chosen.json()["job_token"] == "abc-DEF_123.x"
