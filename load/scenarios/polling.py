"""The chart before SSE: it refetches the trends on a fixed interval (30 s on the platform, reference §13)."""

from __future__ import annotations

from typing import Any

from load import chart
from load.tab import Tab
from load.workload import Workload
from spec import pointers

GOLDEN = 0.6180339887498949
"""Spreads the tabs' poll phases evenly over the interval, as tabs opened at different moments are."""


class Polling(Tab):
    """Mounts the chart, then refetches the trends every poll interval until the schedule ends.

    A poll shows every prediction stored before it: its trends count them (`chart.VISIBLE_ROWS`). Each new one's
    delay runs from its upload (the worker's schedule) to the poll's answer, the wait for the poll at full length.
    Tab number n polls `n x 0.618` of an interval early (modulo one), so the tabs' polls do not all fall on the
    same instants as the worker's uploads; the first tab's phase is 0.
    """

    name = "polling"
    title = "polling"
    line = "polling: /trends every interval"
    color = "#d62728"

    def play(self, start_at: float) -> None:
        shown = 0
        phase = (self.slot.index * GOLDEN) % 1.0
        for k in range(1, self.workload.polls_per_tab + 1):
            tick = self.workload.wall(start_at, (k - phase) * self.workload.poll_interval_s)
            self.page.sleep_until(tick)
            body = self.page.fetch(chart.POLL)
            shown = self.show_new(start_at, tick, visible_rows(body), shown)

    def show_new(self, start_at: float, tick: float, visible: int | None, shown: int) -> int:
        """Record the rows the poll due at wall time `tick` shows for the first time; how many it shows.

        The wait from a row's upload to the poll's due time is the design's; the rest is measured.
        """
        if visible is None or visible <= shown:
            return shown
        answered = self.page.now()
        workload = self.workload
        for row in range(shown, min(visible, workload.predictions_per_job)):
            uploaded = workload.wall(start_at, (row // workload.batch + 0.5) * workload.upload_interval_s)
            self.page.updated(self.simulated(max(0.0, answered - uploaded), max(0.0, tick - uploaded)))
        return visible

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        return {"polls_per_job_hour": 3600.0 / workload.poll_interval_s * workload.tabs}


def visible_rows(body: Any) -> int | None:
    """How many predictions a trends body shows (None when it is not one)."""
    counts = [value for _, value in pointers.expand(body, chart.VISIBLE_ROWS) if isinstance(value, int)]
    return sum(counts) if isinstance(body, dict) else None
