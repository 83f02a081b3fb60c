"""The workload of an ftl-load run: what the user asks for (jobs, tabs, rates, simulated time) and its arithmetic.

Intervals and the duration are simulated seconds; `time_scale` turns them into wall time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from load.errors import LoadError


@dataclass(frozen=True)
class Workload:
    """N jobs watched by M dashboard tabs each, with a training worker per job uploading predictions.

    Intervals and the duration are simulated seconds; `time_scale` multiplies every one of them (and the
    mock's heartbeat) into wall time, so 1/60 runs a simulated hour in a minute.
    """

    jobs: int = 50
    tabs: int = 2
    poll_interval_s: float = 30.0
    upload_rate: float = 1.0
    duration_s: float = 3600.0
    time_scale: float = 1 / 60
    batch: int = 1

    def __post_init__(self) -> None:
        if self.jobs < 1 or self.tabs < 1 or self.batch < 1:
            raise LoadError("jobs, tabs and batch must be at least 1")
        if self.poll_interval_s <= 0 or self.upload_rate <= 0 or self.duration_s <= 0 or self.time_scale <= 0:
            raise LoadError("intervals, rates, duration and time scale must be positive")
        if self.polls_per_tab < 1:
            raise LoadError(f"duration {self.duration_s:g}s is shorter than one poll interval")
        if self.uploads_per_job < 1:
            raise LoadError(f"duration {self.duration_s:g}s at {self.upload_rate:g}/min gives no upload")

    @property
    def upload_interval_s(self) -> float:
        """Simulated seconds between one job's uploads (each carries `batch` predictions)."""
        return 60.0 * self.batch / self.upload_rate

    @property
    def uploads_per_job(self) -> int:
        """Upload requests each training worker makes in the run."""
        return math.floor(self.duration_s / self.upload_interval_s + 1e-9)

    @property
    def predictions_per_job(self) -> int:
        """Predictions each job receives in the run."""
        return self.uploads_per_job * self.batch

    @property
    def polls_per_tab(self) -> int:
        """Interval polls each polling tab makes in the run (after its mount fetch)."""
        return math.floor(self.duration_s / self.poll_interval_s + 1e-9)

    @property
    def total_tabs(self) -> int:
        """Dashboard tabs of the run, over every job."""
        return self.jobs * self.tabs

    @property
    def job_hours(self) -> float:
        """Simulated job-hours of the run: the denominator of every per-job-hour figure."""
        return self.jobs * self.duration_s / 3600.0

    @property
    def wall_s(self) -> float:
        """Wall seconds the scheduled part of the run takes."""
        return self.duration_s * self.time_scale

    def wall(self, start_at: float, simulated_s: float) -> float:
        """The wall time `simulated_s` simulated seconds after a start at wall time `start_at`."""
        return start_at + simulated_s * self.time_scale

    def to_dict(self) -> dict[str, Any]:
        """Plain values, derived figures included."""
        return {
            **asdict(self),
            "uploads_per_job": self.uploads_per_job,
            "predictions_per_job": self.predictions_per_job,
            "polls_per_tab": self.polls_per_tab,
            "job_hours": self.job_hours,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workload:
        """The workload of `to_dict` (derived figures are recomputed)."""
        return cls(**{f.name: data[f.name] for f in fields(cls)})
