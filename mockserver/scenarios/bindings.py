"""Which scenario each job's streams play: per-job bindings, the mock's `--scenario`, or none (live).

One `Scenarios` per mock, a field of its state; the admin API binds, unbinds and triggers inserts here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mockserver.scenarios.feed import PredictionFeed
from mockserver.scenarios.library import Library
from mockserver.scenarios.model import Scenario, ScenarioError
from mockserver.scenarios.player import ScenarioStream
from mockserver.sse import StreamHub
from mockserver.store import Store
from spec import Contract


class Scenarios:
    """One mock's scenario library, its job bindings and the generated-prediction feed."""

    def __init__(
        self, contract: Contract, store: Store, hub: StreamHub, time_scale: float, default: str | None = None
    ) -> None:
        self.store = store
        self.hub = hub
        self.time_scale = time_scale
        self.default = default
        self.library = Library(contract.stream)
        self.feed = PredictionFeed(contract, store)
        self.bindings: dict[str, Scenario] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        """Forget every binding and stop background inserts (for the admin reset)."""
        self.bindings.clear()
        for task in list(self._tasks):
            task.cancel()

    def for_job(self, job_id: str) -> Scenario | None:
        """The scenario a job's streams play: its own binding, else the mock's `--scenario`, else none."""
        bound = self.bindings.get(job_id)
        if bound is not None:
            return bound
        return self.library.get(self.default) if self.default else None

    def bind(self, job_id: str, spec: Any) -> Scenario:
        """Bind a scenario given by name, path or inline document."""
        if isinstance(spec, str):
            scenario = self.library.get(spec)
        elif isinstance(spec, dict):
            scenario = self.library.inline(spec)
        else:
            raise ScenarioError("scenario: must be a scenario name or an inline scenario object")
        self.bindings[job_id] = scenario
        return scenario

    def unbind(self, job_id: str) -> bool:
        """Remove a job's binding; whether there was one."""
        return self.bindings.pop(job_id, None) is not None

    def stream(self, job_id: str) -> ScenarioStream | None:
        """A scripted stream response for a job, or None when it streams live."""
        scenario = self.for_job(job_id)
        if scenario is None:
            return None
        return ScenarioStream(self.hub, scenario, job_id, self.feed)

    def trickle(self, job_id: str, count: int, epoch: int | str, rate: float) -> None:
        """Insert `count` predictions in the background, `rate` per (scaled) second."""
        task = asyncio.get_running_loop().create_task(self._trickle(job_id, count, epoch, rate))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _trickle(self, job_id: str, count: int, epoch: int | str, rate: float) -> None:
        interval = 1.0 / rate * self.time_scale
        resolved = self.feed.epoch(job_id, epoch)
        for i in range(count):
            if i:
                await asyncio.sleep(interval)
            if self.store.jobs.get(job_id) is None:
                return
            self.feed.insert(job_id, 1, resolved)
