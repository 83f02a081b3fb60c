"""The real Python SDK (finetune-lab 0.6.0) runs a training script's flow against a real mock.

Every value the SDK gets back is compared with what the mock's store holds (`GET /__mock/data`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from importlib.metadata import version
from typing import Any

import finetune_lab
import httpx
import pytest
from conftest import ALICE, ALICE_KEY, MockProcess, path_of

EPOCHS = 3
SAMPLES = 4
# Character error rates of the uploaded predictions: they fall from epoch to epoch.
CER = {1: [0.6, 0.5, 0.4, 0.3], 2: [0.3, 0.2, 0.25, 0.15], 3: [0.1, 0.0, 0.05, 0.05]}


def complete_item(job_id: str, epoch: int, index: int) -> dict[str, Any]:
    """A prediction item as a real worker sends it: with its own `job_id` and `user_id`."""
    return {
        "job_id": job_id,
        "user_id": ALICE,
        "epoch": epoch,
        "step": epoch * 50,
        "sample_index": index,
        "prompt": f"Q{index}: what is {index} + {index}?",
        "prediction": str(2 * index) if CER[epoch][index] < 0.2 else "unsure",
        "ground_truth": str(2 * index),
        "exact_match": 1.0 if CER[epoch][index] < 0.2 else 0.0,
        "char_error_rate": CER[epoch][index],
        "length_ratio": 1.0,
        "word_overlap": 1.0 - CER[epoch][index],
        "validation_pass": CER[epoch][index] < 0.2,
    }


def stored(mock: MockProcess) -> dict[str, Any]:
    response = httpx.get(f"{mock.admin}/data", params={"secrets": 1}, timeout=10)
    response.raise_for_status()
    return dict(response.json())


@pytest.fixture
def client(mock: MockProcess) -> Any:
    return finetune_lab.FinetuneLabClient(api_key=ALICE_KEY, base_url=mock.url, timeout=10)


@pytest.fixture
def job_id() -> str:
    return f"sdk_flow_{uuid.uuid4().hex[:10]}"


def test_the_sdk_under_test_is_the_pinned_release() -> None:
    assert version("finetune-lab") == "0.6.0"


def test_training_script_flow_reads_back_what_the_store_holds(mock: MockProcess, client: Any, job_id: str) -> None:
    job = client.training.create_job(
        job_id, model_name="Qwen/Qwen3-0.6B", dataset_path="data/sums.jsonl", config={"epochs": EPOCHS}
    )
    assert job["success"] is True and job["job_id"] == job_id and job["user_id"] == ALICE
    token = job["job_token"]
    created = next(row for row in stored(mock)["jobs"] if row["id"] == job_id)
    assert created["job_token"] == token and created["user_id"] == ALICE and created["status"] == "running"

    items = [complete_item(job_id, epoch, index) for epoch in range(1, EPOCHS + 1) for index in range(SAMPLES)]
    for epoch in range(1, EPOCHS + 1):
        batch = [item for item in items if item["epoch"] == epoch]
        assert client.training_predictions.create(job_id, token, batch) == {"success": True, "count": SAMPLES}
    rows = [row for row in stored(mock)["predictions"] if row["job_id"] == job_id]
    assert len(rows) == len(items)

    page = client.training_predictions.get(job_id, limit=5, offset=2)
    ordered = sorted(rows, key=lambda row: (row["epoch"], row["sample_index"]))
    assert [p.raw for p in page.predictions] == ordered[2:7]
    assert (page.total_count, page.epoch_count) == (len(rows), EPOCHS)
    second = client.training_predictions.get(job_id, epoch=2, limit=50)
    assert [p.id for p in second.predictions] == [row["id"] for row in ordered if row["epoch"] == 2]
    assert second.total_count == len(rows)

    by_epoch: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_epoch[row["epoch"]].append(row)
    epochs = client.training_predictions.epochs(job_id)
    assert [(e.epoch, e.prediction_count, e.latest_step) for e in epochs.epochs] == [
        (epoch, len(group), max(row["step"] for row in group)) for epoch, group in sorted(by_epoch.items())
    ]

    trends = client.training_predictions.trends(job_id)
    averages = {epoch: sum(r["char_error_rate"] for r in group) / len(group) for epoch, group in by_epoch.items()}
    assert [t.avg_char_error_rate for t in trends.trends] == pytest.approx([averages[e] for e in sorted(averages)])
    assert [t.min_char_error_rate for t in trends.trends] == [min(CER[e]) for e in sorted(CER)]
    assert [t.validation_pass_rate for t in trends.trends] == pytest.approx(
        [sum(r["validation_pass"] for r in by_epoch[e]) / SAMPLES for e in sorted(by_epoch)]
    )
    first, last = averages[1], averages[EPOCHS]
    assert trends.overall_improvement == pytest.approx((first - last) / first * 100)
    assert trends.overall_improvement > 0, "the error rate fell"


def test_job_list_metrics_logs_and_errors_match_the_store(mock: MockProcess, client: Any, job_id: str) -> None:
    token = client.training.create_job(job_id, model_name="Qwen/Qwen3-0.6B")["job_token"]
    worker = {"Authorization": f"Bearer {token}"}
    for step, loss in ((10, 2.0), (20, 1.6), (30, 1.3)):
        response = httpx.put(
            mock.url + path_of("record_metric", jobId=job_id),
            json={"step": step, "epoch": 0, "train_loss": loss},
            headers=worker,
            timeout=10,
        )
        assert response.status_code == 200, response.text
    lines = [f"[step {n}] training" for n in range(7)]
    logs_url = mock.url + path_of("append_logs", jobId=job_id)
    response = httpx.post(logs_url, json={"logs": lines}, headers=worker, timeout=10)
    assert response.status_code == 200, response.text
    data = stored(mock)

    listed = client.training.list_jobs(limit=1, offset=0)
    alice_jobs = sorted((row for row in data["jobs"] if row["user_id"] == ALICE), key=lambda r: r["created_at"])
    assert listed["count"] == len(listed["jobs"]) == len(alice_jobs) > 1, "limit and offset are ignored"
    assert listed["jobs"][0]["id"] == job_id, "newest first"
    assert {job["id"] for job in listed["jobs"]} == {row["id"] for row in alice_jobs}

    metrics = client.training.get_metrics(job_id)
    assert metrics["metrics"] == [row for row in data["metrics"] if row["job_id"] == job_id]
    assert [point["train_loss"] for point in metrics["metrics"]] == [2.0, 1.6, 1.3]

    logs = client.training.get_logs(job_id, limit=3, offset=2)
    assert logs["logs"] == data["logs"][job_id][2:5] == lines[2:5]
    assert logs["total_lines"] == len(lines)

    errors = client.training.get_errors(job_id)
    assert errors["job_id"] == job_id and errors["errors"] == [] and errors["error_count"] == 0
    failed = client.training.get_errors("job_demo_failed")
    assert failed["errors"] == data["job_errors"]["job_demo_failed"]["errors"]
    assert failed["traceback"]["exception_type"] == "RuntimeError"


def test_sdk_sees_the_platform_errors_for_someone_elses_job(client: Any) -> None:
    with pytest.raises(finetune_lab.FinetuneLabError) as caught:
        client.training_predictions.get("job_bob_001")
    assert caught.value.status_code == 404
    with pytest.raises(finetune_lab.FinetuneLabError) as caught:
        client.training.get_metrics("job_bob_001")
    assert caught.value.status_code == 404
