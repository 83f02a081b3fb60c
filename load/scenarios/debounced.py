"""The chart of design sse-batched-2s: the server batches rows into `predictions` events at most every window, and
the tab refetches the trends at most once per window as well (a debounce: the first event at once, later ones
held to the window's end and served by one refetch).

The window is the design's own (`x-stream-contract.batch.window_ms`, 2 s), scaled like every interval.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from load.tab import Arrival, Tab, decode
from load.workload import Workload
from spec import pointers

EVENT_TIME = "/timestamp"
"""When the server sent an event (every event's data has it) ..."""
ROW_TIME = "/created_at"
"""... and when it stored a row: a row stored before the previous batch's window ended waited for that end."""
DEFAULT_WINDOW_MS = 2000


class DebouncedRefetch(Tab):
    """Holds the stream; refetches the trends on an event, but never twice within one window.

    A row's designed wait is what the window held it: on the server (stored within a window of the previous
    batch, it waits for the window's end: read from the events' own times) and here (the refetch's due time).
    """

    name = "sse-batched-2s"
    title = "SSE batched 2 s"
    line = "SSE batched: one refetch per 2 s window at most"
    color = "#9467bd"
    design = "sse-batched-2s"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window_s = (self.plan.stream.batch_window_ms or DEFAULT_WINDOW_MS) / 1000 * self.workload.time_scale
        self.last_refetch = -math.inf
        self.pending: list[tuple[Any, float, float]] = []
        """Rows waiting for the next refetch: (row, arrival wall time, seconds the server held it)."""
        self.scheduled = False
        self.last_batch: float | None = None
        """When the server sent the previous batch (its own clock, as the event says)."""

    def prepare(self) -> None:
        super().prepare()
        self.page.open_stream()

    def on_event(self, arrival: Arrival) -> None:
        if arrival.name != self.plan.stream.trigger_event or not self.plan.refetch:
            return
        sent = _time(pointers.get(decode(arrival.data), EVENT_TIME, None))
        opened = self.last_batch + self.window_s if self.last_batch is not None else None
        self.pending += [(row, arrival.at, held(opened, row)) for row in self.rows(arrival)]
        self.last_batch = sent
        if not self.scheduled:
            self.scheduled = True
            self.page.in_background(self._refetch_at, max(arrival.at, self.last_refetch + self.window_s))

    def _refetch_at(self, due: float) -> None:
        self.page.sleep_until(due)
        rows, self.pending, self.scheduled = self.pending, [], False
        self.last_refetch = due
        self.refetched(rows, due)

    def refetched(self, rows: list[tuple[Any, float, float]], due: float) -> None:
        """Refetch now; every held row is visible once the trends are in (each with its own designed wait)."""
        self._refetch([], 0.0)
        for row, arrived, held_s in rows:
            self.shown([row], max(0.0, due - arrived) + held_s)

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        # Every upload's rows are stored together, so at most one event and one refetch per upload and tab.
        return {
            "stream_connections": workload.total_tabs,
            "refetches_at_most": workload.uploads_per_job * workload.total_tabs,
        }


def held(opened: float | None, row: Any) -> float:
    """Seconds the server's window held a row: from its storing to the window's end (`opened`), if it was inside."""
    stored = _time(pointers.get(row, ROW_TIME, None))
    return max(0.0, opened - stored) if opened is not None and stored is not None else 0.0


def _time(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value is not None else None
    except ValueError:
        return None
