"""The chart of design sse-push: the stream carries the trends, so the tab draws from each event and never refetches.

Mounting needs no trends request either: the `connected` event carries them. An event without the pushed trends
(a server that does not serve the design) falls back to a refetch, which the comparison then counts.
"""

from __future__ import annotations

from load import chart
from load.tab import Arrival, Tab, decode
from load.workload import Workload
from spec import pointers


class UsePayload(Tab):
    """Checks that the job has predictions, holds the stream, and draws each event's own trends."""

    name = "sse-push"
    title = "SSE push"
    line = "SSE push: trends in each event"
    color = "#2ca02c"
    design = "sse-push"

    def prepare(self) -> None:
        self.page.fetch(chart.MOUNT_CHECK)
        self.page.open_stream()

    def on_event(self, arrival: Arrival) -> None:
        rules = self.plan.stream
        if arrival.name not in (*rules.push_events, rules.trigger_event):
            return
        pushed = pointers.get(decode(arrival.data), rules.push_pointer or "/-", None) is not None
        if not pushed:
            # No trends in the event: the chart must ask for them.
            if arrival.name == rules.trigger_event:
                self.refetch(self.rows(arrival))
            else:
                self.page.in_background(self.page.fetch, chart.MOUNT)
        elif arrival.name == rules.trigger_event:
            self.shown(self.rows(arrival))

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        return {"stream_connections": workload.total_tabs, "refetches": 0, "trends_requests": 0}
