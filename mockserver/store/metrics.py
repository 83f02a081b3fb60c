"""Metric points, log lines and error reports of training jobs.

Metric rows are kept per job in `step` order; a job keeps only its last 10 000 log lines.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mockserver.store.table import ColumnTypes, Row, StoreError
from mockserver.wire import utc_now
from spec import Schema

LOG_LINES_KEPT = 10_000

MetricsSeed = tuple[list[Row], dict[str, list[str]], dict[str, Row]]
"""Metric rows, log lines by job and error reports by job."""


def _step(row: Mapping[str, Any]) -> int:
    return int(row["step"])


class Metrics:
    """Metric rows (`local_training_metrics`), job logs (`metadata.logs`) and error reports."""

    def __init__(self, columns: Sequence[str], schema: Mapping[str, Any] | None = None) -> None:
        self.columns = tuple(columns)
        self.schema = Schema(dict(schema)) if schema is not None else None
        self._rows: dict[str, list[Row]] = {}
        self._logs: dict[str, list[str]] = {}
        self._errors: dict[str, Row] = {}
        self._next_id = 1
        self._types = ColumnTypes(schema)

    def complete(self, job_id: str, point: Mapping[str, Any]) -> Row:
        """A full metric row: every column present (null when not given), id and time set.

        Like the database, a column keeps only a value of its type: an uploaded point may carry
        keys the upload schema does not declare, and those must not corrupt the stored row.
        """
        row = {name: self._types.typed(name, point.get(name)) for name in self.columns}
        row["id"] = row["id"] if row.get("id") is not None else self._take_id()
        row["job_id"] = job_id
        row["timestamp"] = row.get("timestamp") or utc_now()
        return row

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        return taken

    def insert(self, job_id: str, point: Mapping[str, Any]) -> Row:
        """Store one metric point of a job."""
        row = self.complete(job_id, point)
        rows = self._rows.setdefault(job_id, [])
        if not rows or _step(row) >= _step(rows[-1]):
            rows.append(row)
        else:
            bisect.insort_right(rows, row, key=_step)
        return row

    def of_job(self, job_id: str) -> Sequence[Row]:
        """A job's metric rows by step ascending (do not modify)."""
        return self._rows.get(job_id, ())

    def latest(self, job_id: str) -> Row | None:
        """The metric row with the highest step."""
        rows = self._rows.get(job_id)
        return rows[-1] if rows else None

    def logs(self, job_id: str) -> Sequence[str]:
        """A job's stored log lines (do not modify)."""
        return self._logs.get(job_id, ())

    def append_logs(self, job_id: str, lines: Iterable[str]) -> int:
        """Append lines to a job's log, keeping the last 10 000; the number kept."""
        stored = self._logs.setdefault(job_id, [])
        stored.extend(lines)
        if len(stored) > LOG_LINES_KEPT:
            del stored[: len(stored) - LOG_LINES_KEPT]
        return len(stored)

    def errors(self, job_id: str) -> Row | None:
        """The training server's error report of a job, if one is stored."""
        return self._errors.get(job_id)

    def check(self, rows: Any, logs: Any, errors: Any, job_ids: Iterable[str]) -> MetricsSeed:
        """Seed metric rows, logs and error reports checked against the spec and the known jobs."""
        known = set(job_ids)
        if not isinstance(rows, list):
            raise StoreError("metrics: must be a list of rows")
        checked_rows = []
        for index, item in enumerate(rows):
            where = f"metrics[{index}]"
            if not isinstance(item, dict) or item.get("job_id") not in known:
                raise StoreError(f"{where}.job_id: must name a job in jobs")
            row = {name: item.get(name) for name in self.columns} | dict(item)
            if self.schema is not None:
                for violation in self.schema.violations(row, where):
                    raise StoreError(str(violation))
            checked_rows.append(row)
        return checked_rows, self._check_logs(logs, known), self._check_errors(errors, known)

    @staticmethod
    def _check_logs(logs: Any, known: set[str]) -> dict[str, list[str]]:
        if not isinstance(logs, dict):
            raise StoreError("logs: must map job ids to lists of lines")
        for job_id, lines in logs.items():
            if job_id not in known:
                raise StoreError(f"logs.{job_id}: no job {job_id!r} in jobs")
            if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                raise StoreError(f"logs.{job_id}: must be a list of strings")
        return {job_id: list(lines)[-LOG_LINES_KEPT:] for job_id, lines in logs.items()}

    @staticmethod
    def _check_errors(errors: Any, known: set[str]) -> dict[str, Row]:
        if not isinstance(errors, dict):
            raise StoreError("job_errors: must map job ids to error reports")
        for job_id, report in errors.items():
            if job_id not in known:
                raise StoreError(f"job_errors.{job_id}: no job {job_id!r} in jobs")
            if not isinstance(report, dict):
                raise StoreError(f"job_errors.{job_id}: must be a mapping")
        return copy.deepcopy(errors)

    def load(self, rows: list[Row], logs: dict[str, list[str]], errors: dict[str, Row]) -> None:
        """Replace all metrics, logs and error reports with checked seed data."""
        self._rows = {}
        self._next_id = 1 + max((r["id"] for r in rows if isinstance(r.get("id"), int)), default=0)
        for row in rows:
            self.insert(row["job_id"], row)
        self._logs = logs
        self._errors = errors

    def dump(self) -> MetricsSeed:
        """Metric rows, logs and error reports as seed data."""
        rows = [copy.deepcopy(row) for job_rows in self._rows.values() for row in job_rows]
        return rows, copy.deepcopy(self._logs), copy.deepcopy(self._errors)
