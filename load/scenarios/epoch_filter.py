"""The chart of design sse-epoch-filter: each tab watches one epoch, and its stream sends only that epoch's rows.

Tab number t of a job watches epoch t + 1 (the worker moves to a new epoch every ten uploads, `load.training`), and
refetches the trends on each event its stream sends, as the SSE tab does.
"""

from __future__ import annotations

from load import training
from load.scenarios.sse import RefetchOnEvent
from load.workload import Workload


class EpochFilter(RefetchOnEvent):
    """Holds the job's stream filtered on one epoch; refetches the trends on each event of that epoch."""

    name = "sse-epoch-filter"
    title = "SSE epoch filter"
    line = "SSE epoch filter: one epoch per tab"
    color = "#ff7f0e"
    design = "sse-epoch-filter"

    @property
    def epoch(self) -> int:
        """The epoch this tab watches."""
        return 1 + self.slot.tab

    def open(self) -> None:
        parameter = self.plan.stream.filter_parameter
        self.page.open_stream({parameter: str(self.epoch)} if parameter else None)

    def expected_rows(self) -> int:
        return rows_of_epoch(self.workload, self.epoch)

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        events = sum(rows_of_epoch(workload, 1 + tab) for tab in range(workload.tabs)) * workload.jobs
        return {"stream_connections": workload.total_tabs, "refetches": events, "prediction_events": events}


def rows_of_epoch(workload: Workload, epoch: int) -> int:
    """Predictions of one job in `epoch` over the run."""
    uploads = sum(1 for k in range(workload.uploads_per_job) if training.progress(k, 0)["epoch"] == epoch)
    return uploads * workload.batch
