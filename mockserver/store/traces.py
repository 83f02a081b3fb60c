"""Analytics trace spans, upserted on `span_id` and read by their owner.

Rows carry every column of the spec's stored span; `id` is the row key. The table also keeps the
analytics answers computed from its rows, so replacing the rows (reset, data load) drops them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from mockserver.store.table import Row, Table, newest_first


class Traces(Table):
    """Spans by row id, with a `span_id` index for upserts."""

    def __init__(self, columns: Sequence[str], schema: Mapping[str, Any] | None = None) -> None:
        super().__init__("traces", schema)
        self.columns = tuple(columns)
        self._by_span: dict[str, str] = {}
        # Analytics answers by user and query with the time they were computed (the platform's
        # 300 s cache); an answer about rows that were replaced must not outlive them.
        self.analytics_cache: dict[Hashable, tuple[float, Any]] = {}

    def load(self, rows: list[Row]) -> None:
        """Replace all spans with checked seed rows (and forget the analytics answers cached on the old ones)."""
        super().load(rows)
        self._by_span = {row["span_id"]: row["id"] for row in rows}
        self.analytics_cache.clear()

    def by_span(self, span_id: str) -> Row | None:
        """The span with this `span_id`."""
        key = self._by_span.get(span_id)
        return self.rows.get(key) if key is not None else None

    def put(self, row: Row) -> Row:
        """Insert or replace a span (by row id) and index its `span_id`."""
        self._by_span[row["span_id"]] = row["id"]
        return super().put(row)

    def of_user_newest(self, user_id: str | None) -> list[Row]:
        """A user's spans by `start_time`, newest first."""
        return newest_first(self.of_user(user_id), "start_time")
