"""Predictions in the mock: uploads, pages, epoch summaries and trends computed from the store."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from conftest import ALICE, ALICE_KEY, ALICE_SESSION_TOKEN, BOB, BOB_KEY, DEMO_JOB, DEMO_JOB_TOKEN, MockProcess, path_of

import spec

KEY = {"X-API-Key": ALICE_KEY}
CONTRACT = spec.load()


def item(job_id: str, epoch: int, index: int, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "user_id": ALICE,
        "epoch": epoch,
        "step": epoch * 10 + index,
        "sample_index": index,
        "prompt": f"p{epoch}-{index}",
        "prediction": "x",
        **extra,
    }


def new_job(mock: MockProcess, key: str = ALICE_KEY) -> tuple[str, str]:
    """A fresh job of the key's owner and its job token."""
    job_id = f"job_{uuid.uuid4().hex[:8]}"
    response = httpx.post(mock.url + path_of("create_job"), json={"job_id": job_id}, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return job_id, response.json()["job_token"]


def upload(mock: MockProcess, job_id: str, token: str, items: list[dict[str, Any]]) -> httpx.Response:
    body = {"job_id": job_id, "predictions": items}
    return httpx.post(mock.url + path_of("create_predictions"), json=body, headers={"Authorization": f"Bearer {token}"})


def get(mock: MockProcess, operation_id: str, job_id: str, **params: Any) -> httpx.Response:
    return httpx.get(mock.url + path_of(operation_id, jobId=job_id), params=params, headers=KEY)


def test_uploaded_predictions_read_back_as_full_rows(mock: MockProcess) -> None:
    job_id, token = new_job(mock)
    sent = [item(job_id, 1, i, ground_truth="x", char_error_rate=0.5, extra_field="dropped") for i in range(3)]
    response = upload(mock, job_id, token, sent)
    assert response.json() == {"success": True, "count": 3}
    body = get(mock, "get_predictions", job_id).json()
    assert body["total_count"] == 3 and body["epoch_count"] == 1
    for row, expected in zip(body["predictions"], sent, strict=True):
        assert {k: row[k] for k in ("job_id", "user_id", "epoch", "step", "sample_index", "prompt")} == {
            k: expected[k] for k in ("job_id", "user_id", "epoch", "step", "sample_index", "prompt")
        }
        assert row["char_error_rate"] == 0.5 and row["validation_pass"] is None
        assert "extra_field" not in row and row["id"] and row["created_at"]


def test_limit_and_offset_page_in_epoch_then_sample_order(mock: MockProcess) -> None:
    job_id, token = new_job(mock)
    # Sent out of order; reads come back ordered by epoch, then sample index.
    upload(mock, job_id, token, [item(job_id, e, i) for e in (2, 1) for i in (3, 0, 2, 1)])
    keys = [
        (r["epoch"], r["sample_index"])
        for r in get(mock, "get_predictions", job_id, limit=3, offset=2).json()["predictions"]
    ]
    assert keys == [(1, 2), (1, 3), (2, 0)]
    page = get(mock, "get_predictions", job_id, epoch=2, limit=10, offset=1).json()
    assert [(r["epoch"], r["sample_index"]) for r in page["predictions"]] == [(2, 1), (2, 2), (2, 3)]
    assert page["total_count"] == 8 and page["epoch_count"] == 2, "counts ignore the epoch filter"
    assert get(mock, "get_predictions", job_id, offset=50).json()["predictions"] == []


def test_an_item_naming_another_job_of_the_owner_rejects_the_whole_upload(mock: MockProcess) -> None:
    first, token = new_job(mock)
    second, _ = new_job(mock)
    response = upload(mock, first, token, [item(first, 1, 0), item(second, 1, 0)])
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"predictions[1].job_id: must be the envelope's job_id {first!r}")
    assert get(mock, "get_predictions", first).json()["total_count"] == 0
    assert get(mock, "get_predictions", second).json()["total_count"] == 0


def test_an_item_naming_an_unknown_job_rejects_the_whole_upload(mock: MockProcess) -> None:
    job_id, token = new_job(mock)
    response = upload(mock, job_id, token, [item(job_id, 1, 0), item("job_nowhere", 1, 0)])
    assert response.status_code == 400
    assert response.json()["error"].startswith("predictions[1].job_id:")
    assert get(mock, "get_predictions", job_id).json()["total_count"] == 0


def test_epochs_summarize_the_stored_rows(mock: MockProcess) -> None:
    job_id, token = new_job(mock)
    upload(mock, job_id, token, [item(job_id, e, i) for e in (1, 3) for i in range(e + 1)])
    body = get(mock, "get_prediction_epochs", job_id).json()
    assert body == {
        "job_id": job_id,
        "epochs": [
            {"epoch": 1, "prediction_count": 2, "latest_step": 11},
            {"epoch": 3, "prediction_count": 4, "latest_step": 33},
        ],
    }


def test_trends_average_only_non_null_values(mock: MockProcess) -> None:
    job_id, token = new_job(mock)
    rows = [
        item(job_id, 1, 0, char_error_rate=0.4, exact_match=0, validation_pass=True),
        item(job_id, 1, 1, char_error_rate=0.2, exact_match=1, validation_pass=False),
        item(job_id, 1, 2, char_error_rate=None, exact_match=None, validation_pass=None),
        item(job_id, 2, 0, char_error_rate=0.1, length_ratio=0.9),
        item(job_id, 2, 1, char_error_rate=0.2, length_ratio=1.1),
    ]
    upload(mock, job_id, token, rows)
    body = get(mock, "get_prediction_trends", job_id).json()
    first, second = body["trends"]
    assert first["sample_count"] == 3 and first["step"] == 12
    assert first["avg_char_error_rate"] == pytest.approx(0.3)
    assert first["avg_exact_match"] == pytest.approx(0.5)
    assert (first["min_char_error_rate"], first["max_char_error_rate"]) == (0.2, 0.4)
    assert first["validation_pass_rate"] == pytest.approx(0.5) and first["avg_length_ratio"] is None
    assert second["validation_pass_rate"] is None and second["avg_length_ratio"] == pytest.approx(1.0)
    assert body["overall_improvement"] == pytest.approx((0.3 - 0.15) / 0.3 * 100)


@pytest.mark.parametrize(
    ("cer_by_epoch", "reason"),
    [
        ({1: 0.4}, "one epoch"),
        ({1: 0.0, 2: 0.1}, "first CER is 0"),
        ({1: None, 2: 0.1}, "first CER is null"),
        ({1: 5e-324, 2: -1e308}, "past a float's range"),
    ],
)
def test_overall_improvement_is_null_when_undefined(
    mock: MockProcess, cer_by_epoch: dict[int, float | None], reason: str
) -> None:
    job_id, token = new_job(mock)
    upload(mock, job_id, token, [item(job_id, e, 0, char_error_rate=cer) for e, cer in cer_by_epoch.items()])
    assert get(mock, "get_prediction_trends", job_id).json()["overall_improvement"] is None, reason


def test_trends_of_the_largest_floats_are_finite_json_that_fits_the_contract(mock: MockProcess) -> None:
    # Found by the gate's fuzzing: two metrics of 1.7e308 summed to infinity, written as the literal `Infinity`.
    job_id, token = new_job(mock)
    huge = {name: 1.7e308 for name in ("exact_match", "char_error_rate", "length_ratio", "word_overlap")}
    upload(mock, job_id, token, [item(job_id, 1, i, **huge) for i in range(3)])
    response = get(mock, "get_prediction_trends", job_id)

    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} is no JSON")

    body = json.loads(response.text, parse_constant=no_constant)
    (trend,) = body["trends"]
    assert [trend[f"avg_{name}"] for name in huge] == [pytest.approx(1.7e308)] * 4
    media = CONTRACT.operation("get_prediction_trends").success.media()
    assert media is not None and media.schema is not None
    assert [str(v) for v in media.schema.violations(body, "body")] == []


def test_trends_follow_new_uploads(mock: MockProcess) -> None:
    job_id, token = new_job(mock)
    upload(mock, job_id, token, [item(job_id, 1, 0, char_error_rate=0.5), item(job_id, 2, 0, char_error_rate=0.25)])
    assert get(mock, "get_prediction_trends", job_id).json()["overall_improvement"] == pytest.approx(50.0)
    upload(mock, job_id, token, [item(job_id, 3, 0, char_error_rate=0.1)])
    assert get(mock, "get_prediction_trends", job_id).json()["overall_improvement"] == pytest.approx(80.0)
    assert get(mock, "get_predictions", job_id, limit=1).json()["total_count"] == 3


@pytest.mark.parametrize(
    ("operation_id", "job_id"),
    [
        ("get_predictions", "job_bob_001"),
        ("get_prediction_epochs", "job_bob_001"),
        ("get_prediction_trends", "job_bob_001"),
        ("get_predictions", "job_nowhere"),
    ],
)
def test_someone_elses_or_a_missing_job_is_not_found(mock: MockProcess, operation_id: str, job_id: str) -> None:
    response = get(mock, operation_id, job_id)
    assert response.status_code == 404 and response.json() == {"error": "Job not found"}


def test_the_owner_reads_with_a_session_too(mock: MockProcess) -> None:
    response = httpx.get(
        mock.url + path_of("get_predictions", jobId=DEMO_JOB),
        headers={"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"},
    )
    stored = [row for row in httpx.get(f"{mock.admin}/data").json()["predictions"] if row["job_id"] == DEMO_JOB]
    assert response.status_code == 200 and response.json()["total_count"] == len(stored) > 0
    bob = httpx.get(mock.url + path_of("get_predictions", jobId="job_bob_001"), headers={"X-API-Key": BOB_KEY})
    assert bob.status_code == 200 and {r["user_id"] for r in bob.json()["predictions"]} == {BOB}


def test_uploads_survive_across_requests_and_go_away_on_reset(mock: MockProcess) -> None:
    before = get(mock, "get_predictions", DEMO_JOB).json()["total_count"]
    upload(mock, DEMO_JOB, DEMO_JOB_TOKEN, [item(DEMO_JOB, 4, 0)])
    assert get(mock, "get_predictions", DEMO_JOB).json()["total_count"] == before + 1
    mock.reset()
    assert get(mock, "get_predictions", DEMO_JOB).json()["total_count"] == before
