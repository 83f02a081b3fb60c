"""The chart before SSE: it refetches the trends on a fixed interval (30 s on the platform, reference §13)."""

from __future__ import annotations

from load import chart
from load.tab import Tab
from load.workload import Workload


class Polling(Tab):
    """Mounts the chart, then refetches the trends every poll interval until the schedule ends."""

    name = "polling"
    title = "polling"
    line = "polling: /trends every interval"
    color = "#d62728"

    def play(self, start_at: float) -> None:
        for k in range(1, self.workload.polls_per_tab + 1):
            self.page.sleep_until(self.workload.wall(start_at, k * self.workload.poll_interval_s))
            self.page.fetch(chart.POLL)

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        return {"polls_per_job_hour": 3600.0 / workload.poll_interval_s * workload.tabs}
