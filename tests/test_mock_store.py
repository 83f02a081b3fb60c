"""The mock's in-memory store: seeding, checks, reset, dump and the prediction index."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from mockserver.settings import DEMO_DATA
from mockserver.store import TABLE_KEYS, Store, StoreError
from mockserver.store.metrics import LOG_LINES_KEPT

ALICE = "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60"


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return Store.from_file(DEMO_DATA).dump()


@pytest.fixture
def store(seed: dict[str, Any]) -> Store:
    return Store(seed)


def item(job_id: str, epoch: int, sample_index: int, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "user_id": ALICE,
        "epoch": epoch,
        "step": epoch * 10,
        "sample_index": sample_index,
        "prompt": f"p{epoch}.{sample_index}",
        "prediction": "x",
        **extra,
    }


def test_demo_seed_has_every_table_and_round_trips(store: Store, seed: dict[str, Any]) -> None:
    dumped = store.dump()
    assert set(dumped) == set(TABLE_KEYS)
    assert all(dumped[key] for key in TABLE_KEYS), "the demo data fills every table"
    again = Store(dumped)
    assert again.dump() == dumped


def test_demo_job_has_the_published_token_and_owner(store: Store) -> None:
    job = store.jobs.get("job_demo_001")
    assert job is not None
    assert job["job_token"] == "lqXWBRwkBQjJ22Aoe_E-QqnLQ1onUWynCJW6kZprmwg"
    assert job["user_id"] == ALICE and job["status"] == "running"
    assert store.predictions.epoch_count("job_demo_001") == 3


def test_reset_restores_the_seed(store: Store, seed: dict[str, Any]) -> None:
    store.predictions.insert([item("job_demo_001", 9, 0)])
    store.jobs.delete("job_demo_paused")
    store.metrics.append_logs("job_demo_001", ["extra"])
    assert store.dump() != seed
    store.reset()
    assert store.dump() == seed


def test_invalid_seed_names_the_row_and_rule_and_changes_nothing(store: Store, seed: dict[str, Any]) -> None:
    bad = copy.deepcopy(seed)
    bad["predictions"][3]["epoch"] = "three"
    with pytest.raises(StoreError, match=r"predictions\[3\]\.epoch: must be of type integer"):
        store.load(bad)
    assert store.dump() == seed


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("predictions", {"job_id": "job_nowhere"}, r"predictions\[0\]\.job_id: no job"),
        ("jobs", {"status": "sleeping"}, r"jobs\[0\]\.status: must be one of"),
        ("baselines", {"severity": "fatal"}, r"baselines\[0\]\.severity: must be one of"),
        ("metrics", {"job_id": "job_nowhere"}, r"metrics\[0\]\.job_id: must name a job"),
    ],
)
def test_seed_rows_are_checked_against_the_spec(
    store: Store, seed: dict[str, Any], table: str, change: dict[str, Any], message: str
) -> None:
    bad = copy.deepcopy(seed)
    bad[table][0].update(change)
    with pytest.raises(StoreError, match=message):
        store.load(bad)


def test_unknown_table_is_rejected(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown tables in data: gadgets"):
        store.load({"gadgets": []})


def test_inserted_prediction_is_a_full_row(store: Store) -> None:
    [(row, total)] = store.predictions.insert([item("job_bob_001", 2, 0, bogus="dropped")])
    assert "bogus" not in row
    assert row["ground_truth"] is None and row["validation_errors"] is None
    assert row["id"] and row["created_at"].endswith("Z")
    assert total == store.predictions.count("job_bob_001")


def test_rows_stay_in_epoch_then_sample_order_whatever_the_insert_order(store: Store) -> None:
    keys = [(epoch, sample) for epoch in range(1, 5) for sample in range(6)]
    random.Random(7).shuffle(keys)
    store.predictions.insert([item("job_demo_paused", e, s) for e, s in keys])
    rows = store.predictions.rows("job_demo_paused")
    assert [(r["epoch"], r["sample_index"]) for r in rows] == sorted(keys)
    page = store.predictions.page("job_demo_paused", limit=4, offset=3, epoch=2)
    assert [(r["epoch"], r["sample_index"]) for r in page] == [(2, 3), (2, 4), (2, 5)]
    assert store.predictions.page("job_demo_paused", limit=2, offset=6, epoch=2) == []
    assert store.predictions.epoch_count("job_demo_paused") == 4


def test_listeners_hear_every_row_in_order_with_rising_counts_and_survive_reset(store: Store) -> None:
    heard: list[tuple[str, int, int]] = []
    store.predictions.listeners.append(lambda job, row, total: heard.append((job, row["sample_index"], total)))
    before = store.predictions.count("job_demo_001")
    store.predictions.insert([item("job_demo_001", 4, i) for i in range(3)] + [item("job_bob_001", 2, 0)])
    assert heard == [
        ("job_demo_001", 0, before + 1),
        ("job_demo_001", 1, before + 2),
        ("job_demo_001", 2, before + 3),
        ("job_bob_001", 0, store.predictions.count("job_bob_001")),
    ]
    store.reset()
    store.predictions.insert([item("job_demo_001", 4, 0)])
    assert heard[-1] == ("job_demo_001", 0, before + 1)


def test_a_failing_listener_does_not_stop_the_insert(store: Store) -> None:
    def broken(job: str, row: dict[str, Any], total: int) -> None:
        raise RuntimeError("subscriber gone")

    heard: list[int] = []
    store.predictions.listeners.extend([broken, lambda job, row, total: heard.append(total)])
    stored = store.predictions.insert([item("job_demo_001", 5, 0), item("job_demo_001", 5, 1)])
    assert [total for _, total in stored] == heard


def test_derived_values_are_recomputed_after_an_insert(store: Store) -> None:
    def count(rows: Any) -> int:
        return len(rows)

    first = store.predictions.derived("job_demo_001", "n", count)
    assert store.predictions.derived("job_demo_001", "n", lambda rows: -1) == first
    store.predictions.insert([item("job_demo_001", 6, 0)])
    assert store.predictions.derived("job_demo_001", "n", count) == first + 1


def test_logs_keep_only_the_last_ten_thousand_lines(store: Store) -> None:
    total = store.metrics.append_logs("job_demo_paused", [f"line {i}" for i in range(LOG_LINES_KEPT + 5)])
    logs = store.metrics.logs("job_demo_paused")
    assert total == len(logs) == LOG_LINES_KEPT
    assert logs[0] == "line 5"


def test_new_jobs_get_a_43_character_urlsafe_token(store: Store) -> None:
    row = store.jobs.create("job_new", ALICE, {"model_name": "m"})
    assert len(row["job_token"]) == 43
    assert set(row["job_token"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert row["status"] == "pending" and row["dataset_path"] is None
    assert store.jobs.newest(ALICE)[0]["id"] == "job_new"
