"""The chart since SSE (reference §3.2): one stream per tab, and a trends refetch on every prediction event."""

from __future__ import annotations

from load.tab import Arrival, Tab
from load.workload import Workload


class RefetchOnEvent(Tab):
    """Mounts the chart and holds the job's stream; each prediction event makes it refetch the trends."""

    name = "sse"
    title = "SSE"
    line = "SSE: stream connects + refetch per event"
    color = "#1f77b4"

    def prepare(self) -> None:
        super().prepare()
        self.open()

    def open(self) -> None:
        """Connect the stream (a tab that filters it says how)."""
        self.page.open_stream()

    def on_event(self, arrival: Arrival) -> None:
        if arrival.name == self.plan.stream.trigger_event and self.plan.refetch:
            self.refetch(self.rows(arrival))

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        return {
            "stream_connections": workload.total_tabs,
            "refetches": workload.predictions_per_job * workload.total_tabs,
        }
