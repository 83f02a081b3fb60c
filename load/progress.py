"""How far an ftl-load run is, read from what Locust writes while it runs: for the progress display.

Each Locust run (a mode of `compare`, a step of `capacity`) writes `<name>-plan.json` when it starts,
rewrites `<name>_stats.csv` every second and writes `<name>.json` when it is done.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from cmdline import Snapshot

AGGREGATED = "Aggregated"
# Wall seconds a Locust run takes besides its workload: creating jobs, starting Locust, the start barrier,
# the final stats wait (measured on the 2-core development machine); only for the estimate of time left.
RUN_OVERHEAD_S = 8.0


@dataclass(frozen=True)
class PlannedRun:
    """One Locust run of the plan: its name and how long its workload lasts in wall seconds."""

    name: str
    wall_s: float

    @property
    def expected_s(self) -> float:
        """Wall seconds the whole run is expected to take."""
        return self.wall_s + RUN_OVERHEAD_S


class RunWatch:
    """Reads the output folder of an ftl-load run into a progress `Snapshot` (runs done of all, requests, failures)."""

    def __init__(self, out: Path, runs: list[PlannedRun]) -> None:
        self.out = out
        self.runs = runs

    def __call__(self) -> Snapshot | None:
        if not self.runs or not (self.out / f"{self.runs[0].name}-plan.json").exists():
            return None
        done = 0.0
        requests = failures = 0
        current = ""
        for index, run in enumerate(self.runs):
            plan = self.out / f"{run.name}-plan.json"
            if not plan.exists():
                current = f"setting up {run.name} ({index + 1} of {len(self.runs)})"
                break
            count, failed = stats_totals(self.out / f"{run.name}_stats.csv")
            requests, failures = requests + count, failures + failed
            if (self.out / f"{run.name}.json").exists():
                done += 1
                continue
            elapsed = max(0.0, time.time() - plan.stat().st_mtime)
            # An estimate: a run is only done when Locust has written its stats, so stop short of that.
            done += min(elapsed / run.expected_s, 0.99)
            current = f"{run.name} ({index + 1} of {len(self.runs)}): {elapsed:.0f} s of about {run.expected_s:.0f} s"
            break
        else:
            current = "writing the reports"
        return Snapshot("locust runs", done, len(self.runs), requests, failures, current)


def stats_totals(path: Path) -> tuple[int, int]:
    """Requests and failures of the Aggregated row of a Locust `_stats.csv`, (0, 0) while it is not there."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("Name") == AGGREGATED:
                    return int(row.get("Request Count") or 0), int(row.get("Failure Count") or 0)
    except (OSError, ValueError, csv.Error):
        pass
    return 0, 0
