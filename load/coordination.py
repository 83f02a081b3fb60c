"""Slots, one shared start time and the end of a run, coordinated by the Locust master or local runner.

Users claim a slot of the plan, report ready and wait for the start, then report done with the number of
requests they fired; the coordinator quits the run once all are done and all their requests reached its stats.
Everything lives on the runner's environment, so several runs (and Locust's distributed mode) work unchanged.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from load.plan import ROLES, Plan, Slot

CLAIM, SLOT, READY, GO, DONE = "ftl_claim", "ftl_slot", "ftl_ready", "ftl_go", "ftl_done"
ATTRIBUTE = "ftl_load_desk"
STATS_WAIT_S = 20.0
CSV_SETTLE_S = 1.5
log = logging.getLogger("ftl-load")


class Conductor:
    """The master side: hands out slots, releases the start barrier, quits when every user is done."""

    def __init__(self, environment: Environment, plan: Plan | None) -> None:
        self.environment = environment
        self.plan = plan
        self.claimed = dict.fromkeys(ROLES, 0)
        self.expected = sum(plan.roles.values()) if plan is not None else 0
        self.ready = 0
        self.done = 0
        self.fired = 0
        self.start_at: float | None = None

    def send(self, msg_type: str, data: dict[str, Any], client_id: str | None = None) -> None:
        assert self.environment.runner is not None
        self.environment.runner.send_message(msg_type, data, client_id)

    def on_claim(self, environment: Environment, msg: Any, **_: Any) -> None:
        role = msg.data["role"]
        index = self.claimed.get(role, 0)
        self.claimed[role] = index + 1
        found = self.plan.slot(role, index) if self.plan is not None else None
        self.send(SLOT, {"req": msg.data["req"], "slot": found.to_dict() if found else None}, msg.node_id)

    def on_ready(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.ready += 1
        if self.start_at is None and self.ready >= self.expected:
            self.start_at = time.time() + (self.plan.start_margin_s if self.plan is not None else 0.0)
            log.info("ftl-load: all %d users ready, start at %.3f", self.ready, self.start_at)
            self.send(GO, {"start_at": self.start_at})
        elif self.start_at is not None:
            self.send(GO, {"start_at": self.start_at}, msg.node_id)

    def on_done(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.done += 1
        self.fired += int(msg.data["fired"])
        if self.done == self.expected:
            gevent.spawn(self.finish)

    def finish(self) -> None:
        """Wait (bounded) until every fired request is in the master's stats, then quit the run."""
        runner = self.environment.runner
        assert runner is not None
        deadline = time.monotonic() + STATS_WAIT_S
        while runner.stats.total.num_requests < self.fired and time.monotonic() < deadline:
            gevent.sleep(0.2)
        log.info("ftl-load: all users done; %d of %d requests recorded", runner.stats.total.num_requests, self.fired)
        # Locust rewrites its CSV report once per second; let it write the complete figures before quitting.
        gevent.sleep(CSV_SETTLE_S)
        web_ui = self.environment.web_ui
        if web_ui is None:
            runner.quit()
            return
        # Watched in the web UI: stop the users, keep the figures on screen for --autoquit seconds, then end.
        runner.stop()
        options = self.environment.parsed_options
        gevent.sleep(max(0, int(getattr(options, "autoquit", 0) or 0)))
        web_ui.stop()


class Desk:
    """The worker side: what a user calls to claim its slot, wait for the start and report done."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.pending: dict[str, AsyncResult] = {}
        self.go: AsyncResult = AsyncResult()

    def send(self, msg_type: str, data: dict[str, Any]) -> None:
        assert self.environment.runner is not None
        self.environment.runner.send_message(msg_type, data)

    def claim(self, role: str, timeout: float = 60.0) -> Slot | None:
        """This user's slot of the plan, or None when the plan has no slot left for `role`."""
        req = uuid.uuid4().hex
        result: AsyncResult = AsyncResult()
        self.pending[req] = result
        self.send(CLAIM, {"req": req, "role": role})
        try:
            value: dict[str, Any] | None = result.get(timeout=timeout)
        finally:
            self.pending.pop(req, None)
        return Slot.from_dict(value) if value is not None else None

    def ready(self, timeout: float) -> float:
        """Report ready and block until the shared start time is known; returns it (epoch seconds)."""
        self.send(READY, {})
        return float(self.go.get(timeout=timeout))

    def report_done(self, fired: int) -> None:
        """Tell the coordinator this user has finished and fired `fired` requests."""
        self.send(DONE, {"fired": fired})

    def on_slot(self, environment: Environment, msg: Any, **_: Any) -> None:
        result = self.pending.get(msg.data["req"])
        if result is not None:
            result.set(msg.data["slot"])

    def on_go(self, environment: Environment, msg: Any, **_: Any) -> None:
        if not self.go.ready():
            self.go.set(msg.data["start_at"])


def install(environment: Environment, plan_path: str | None) -> None:
    """Register the coordination messages on this process's runner (master, worker or local)."""
    runner = environment.runner
    if runner is None:
        return
    if not isinstance(runner, WorkerRunner):
        plan = Plan.from_dict(json.loads(Path(plan_path).read_text(encoding="utf-8"))) if plan_path else None
        if plan is None:
            log.warning("ftl-load: no --ftl-plan given; ftl-load users will find no slot")
        conductor = Conductor(environment, plan)
        runner.register_message(CLAIM, conductor.on_claim)
        runner.register_message(READY, conductor.on_ready)
        runner.register_message(DONE, conductor.on_done)
    if not isinstance(runner, MasterRunner):
        desk = Desk(environment)
        runner.register_message(SLOT, desk.on_slot)
        runner.register_message(GO, desk.on_go)
        setattr(environment, ATTRIBUTE, desk)


def desk_of(environment: Environment) -> Desk:
    """The coordination desk installed on this process's environment."""
    desk = getattr(environment, ATTRIBUTE, None)
    if not isinstance(desk, Desk):
        raise RuntimeError("ftl-load coordination is not installed: run the users through load/locustfile.py")
    return desk
