"""Training predictions, indexed per job and kept in (epoch, sample_index) order.

Each stored row is announced to `listeners` (the SSE hub) with the job's count after the insert.
"""

from __future__ import annotations

import bisect
import copy
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from mockserver.store.table import Row, StoreError
from mockserver.wire import js_numbers, utc_now
from spec import Schema

PredictionListener = Callable[[str, Row, int], None]
"""Called as `listener(job_id, row, total_count)` for every stored prediction."""

log = logging.getLogger("mockserver.store")
LOWEST = -(2**63)
DERIVED_KEPT = 1024


EPOCH, SAMPLE_INDEX = "epoch", "sample_index"  # the columns of the read order


def order(row: Mapping[str, Any]) -> tuple[int, int]:
    """The platform's read order of predictions: epoch, then sample index."""
    return (row[EPOCH], row[SAMPLE_INDEX])


class JobPredictions:
    """The predictions of one job, sorted, with per-epoch row counts."""

    __slots__ = ("epochs", "rows")

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.epochs: dict[int, int] = {}

    def add(self, row: Row) -> int:
        """Store a row in order; the job's count afterwards."""
        rows = self.rows
        # Workers upload in order, so appending is the common case; insort keeps reads sorted otherwise.
        if not rows or order(row) >= order(rows[-1]):
            rows.append(row)
        else:
            bisect.insort_right(rows, row, key=order)
        self.epochs[row[EPOCH]] = self.epochs.get(row[EPOCH], 0) + 1
        return len(rows)

    def epoch_slice(self, epoch: int) -> tuple[int, int]:
        """The index range of one epoch's rows."""
        lo = bisect.bisect_left(self.rows, (epoch, LOWEST), key=order)
        hi = bisect.bisect_left(self.rows, (epoch + 1, LOWEST), key=order)
        return lo, hi


class Predictions:
    """All stored predictions; rows carry every column of the spec's prediction row."""

    def __init__(self, columns: Sequence[str], schema: Mapping[str, Any] | None = None) -> None:
        self.columns = tuple(columns)
        self.schema = Schema(dict(schema)) if schema is not None else None
        self.listeners: list[PredictionListener] = []
        self._jobs: dict[str, JobPredictions] = {}
        self._derived: OrderedDict[tuple[str, Hashable], tuple[int, Any]] = OrderedDict()

    def complete(self, item: Mapping[str, Any]) -> Row:
        """A full row from an uploaded item: unknown keys dropped, absent columns null, id and time set.

        Numbers are stored as the platform's database hands them to JavaScript (`1.0` as `1`), so a
        row reads the same over REST and on the stream.
        """
        row = {name: js_numbers(item.get(name)) for name in self.columns}
        row["id"] = item.get("id") or str(uuid.uuid4())
        row["created_at"] = item.get("created_at") or utc_now()
        return row

    def insert(self, items: Iterable[Mapping[str, Any]]) -> list[tuple[Row, int]]:
        """Store items in order, each under its own `job_id`; every row with its job's count after it."""
        stored: list[tuple[Row, int]] = []
        for item in items:
            row = self.complete(item)
            total = self._job(row["job_id"]).add(row)
            stored.append((row, total))
            self._announce(row, total)
        return stored

    def _announce(self, row: Row, total: int) -> None:
        for listener in list(self.listeners):
            try:
                listener(row["job_id"], row, total)
            except Exception:
                # A broken subscriber must not fail the upload; the platform also skips such an event.
                log.exception("prediction listener failed for job %s", row["job_id"])

    def _job(self, job_id: str) -> JobPredictions:
        job = self._jobs.get(job_id)
        if job is None:
            job = self._jobs[job_id] = JobPredictions()
        return job

    def check(self, rows: Any, job_ids: Iterable[str]) -> list[Row]:
        """Seed rows completed and checked (schema, and a known job); StoreError otherwise."""
        if not isinstance(rows, list):
            raise StoreError("predictions: must be a list of rows")
        known = set(job_ids)
        checked = []
        for index, item in enumerate(rows):
            where = f"predictions[{index}]"
            if not isinstance(item, dict):
                raise StoreError(f"{where}: must be a mapping")
            row = self.complete(item)
            if self.schema is not None:
                for violation in self.schema.violations(row, where):
                    raise StoreError(str(violation))
            if row["job_id"] not in known:
                raise StoreError(f"{where}.job_id: no job {row['job_id']!r} in jobs")
            checked.append(row)
        return checked

    def load(self, rows: list[Row]) -> None:
        """Replace all predictions with checked rows (listeners stay subscribed and are not called)."""
        self._jobs = {}
        self._derived.clear()
        for row in rows:
            self._job(row["job_id"]).add(row)

    def dump(self) -> list[Row]:
        """All rows as seed data."""
        return [copy.deepcopy(row) for job in self._jobs.values() for row in job.rows]

    def rows(self, job_id: str) -> Sequence[Row]:
        """A job's rows in read order (do not modify)."""
        job = self._jobs.get(job_id)
        return job.rows if job is not None else ()

    def count(self, job_id: str) -> int:
        """The number of predictions of a job."""
        job = self._jobs.get(job_id)
        return len(job.rows) if job is not None else 0

    def epoch_count(self, job_id: str) -> int:
        """The number of distinct epochs among a job's predictions."""
        job = self._jobs.get(job_id)
        return len(job.epochs) if job is not None else 0

    def page(self, job_id: str, limit: int, offset: int, epoch: int | None = None) -> list[Row]:
        """Rows `[offset, offset + limit)` of a job in read order, optionally of one epoch only."""
        job = self._jobs.get(job_id)
        if job is None:
            return []
        lo, hi = job.epoch_slice(epoch) if epoch is not None else (0, len(job.rows))
        start = lo + offset
        return job.rows[start : min(hi, start + limit)] if start < hi else []

    def derived(self, job_id: str, name: Hashable, compute: Callable[[Sequence[Row]], Any]) -> Any:
        """`compute(rows)` of a job, cached until the job gets another prediction.

        Rows are never changed once stored, so the job's count tells whether a cached value is stale.
        The cache keeps the most recently used values only.
        """
        count = self.count(job_id)
        key = (job_id, name)
        cached = self._derived.get(key)
        if cached is not None and cached[0] == count:
            self._derived.move_to_end(key)
            return cached[1]
        value = compute(self.rows(job_id))
        self._derived[key] = (count, value)
        if len(self._derived) > DERIVED_KEPT:
            self._derived.popitem(last=False)
        return value
