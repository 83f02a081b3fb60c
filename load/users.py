"""Locust users of the training dashboard and the training worker, driven by an ftl-load plan.

Each user claims a slot (a job, and a tab of it) from the run's coordinator, prepares (mounts the chart, opens
its stream), waits for the shared start, plays its schedule and reports done. A dashboard user is the page its
scenario's tab runs in (`load.tab`). No state is shared between users or kept at module level, so the same
classes run on one process or a Locust cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import urlencode

import gevent
from gevent.event import Event
from gevent.pool import Group
from locust import FastHttpUser, constant, task
from locust.exception import StopUser

from load import chart, entries, training
from load.coordination import Desk, desk_of
from load.plan import Job, Plan, Route, Slot
from load.scenarios import scenario
from load.sse import Backoff, StreamFailure, StreamReader
from load.tab import Arrival, Tab, decode


class PlanUser(FastHttpUser):
    """A user that takes its work from a plan slot: claim, prepare, start together, play, report done."""

    abstract = True
    role: ClassVar[str] = "tab"
    wait_time = constant(0)
    # A request the server never answers becomes a recorded failure well before the run's end.
    network_timeout = 15.0
    connection_timeout = 10.0

    desk: Desk
    slot: Slot
    fired: int

    def on_start(self) -> None:
        self.fired = 0
        self.desk = desk_of(self.environment)
        claimed = self.desk.claim(self.role)
        if claimed is None:
            raise StopUser
        self.slot = claimed

    @task
    def run_slot(self) -> None:
        """The whole life of the slot; the user stops afterwards."""
        try:
            try:
                self.prepare()
            except Exception as exc:
                self.record(entries.PREPARE, 0, exception=exc, kind=entries.FTL)
            try:
                start_at = self.desk.ready(timeout=self.plan.barrier_timeout_s)
            except gevent.Timeout as exc:
                self.record(entries.BARRIER, 0, exception=exc, kind=entries.FTL)
            else:
                self.play(start_at)
        finally:
            self.finish()
            self.desk.report_done(self.fired)
        raise StopUser

    # what each role does

    def prepare(self) -> None:
        """Work before the shared start (mount, connect)."""

    def play(self, start_at: float) -> None:
        """The scheduled part of the run."""

    def finish(self) -> None:
        """Cleanup after the schedule (close streams, wait for refetches)."""

    # helpers

    @property
    def plan(self) -> Plan:
        return self.slot.plan

    @property
    def job(self) -> Job:
        return self.slot.job

    def call(self, route: Route, **kwargs: Any) -> Any:
        """One request, reported by Locust under the route's entry name."""
        self.fired += 1
        return self.client.request(route.method, route.path, name=route.name, **kwargs)

    def record(
        self,
        name: str,
        response_time: float,
        length: int = 0,
        exception: Exception | None = None,
        kind: str = entries.SSE,
    ) -> None:
        """Fire one Locust request event (an SSE measurement or an ftl-load failure) and count it."""
        self.fired += 1
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=response_time,
            response_length=length,
            exception=exception,
            context={},
        )

    @staticmethod
    def sleep_until(at: float) -> None:
        """Sleep until wall time `at` (at once when it has passed)."""
        gevent.sleep(max(0.0, at - time.time()))


class DashboardUser(PlanUser):
    """One browser tab with a job's trends chart open: the page its scenario's tab runs in."""

    role = "tab"
    tab: Tab
    reader: StreamReader | None = None

    def on_start(self) -> None:
        super().on_start()
        self.headers = dict(self.plan.dashboard_headers)
        self.background = Group()
        self.predictions_seen = 0
        self.all_predictions = Event()
        self.opened_at = time.time()
        self.last_event_at: dict[str, float] = {}
        self.expected_rows = self.plan.workload.predictions_per_job
        self.tab = scenario(self.plan.scenario)(self, self.slot)

    def prepare(self) -> None:
        self.tab.prepare()

    def play(self, start_at: float) -> None:
        self.tab.play(start_at)

    def finish(self) -> None:
        if self.reader is not None:
            self.reader.stop()
        self.background.join(timeout=self.network_timeout + 5)

    # the page: what a tab can do

    def fetch(self, request: chart.Request) -> Any:
        response = self.call(self.job.routes[request.key], headers=self.headers)
        if not 200 <= (getattr(response, "status_code", 0) or 0) < 300:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def in_background(self, action: Callable[..., Any], *args: Any) -> None:
        self.background.spawn(action, *args)

    def now(self) -> float:
        return time.time()

    def updated(self, delay_s: float) -> None:
        self.record(entries.VISIBLE, delay_s * 1000, kind=entries.CHART)

    def open_stream(self, query: Mapping[str, str] | None = None) -> None:
        heartbeat_s = self.plan.stream.heartbeat_interval_ms / 1000 * self.plan.workload.time_scale
        route = self.job.routes[entries.STREAM]
        if query:
            route = replace(route, path=f"{route.path}?{urlencode(query)}")
        reader = StreamReader(
            self,
            self.host or "",
            route,
            self.headers,
            self.on_event,
            read_timeout_s=max(4 * heartbeat_s, 5.0),
            backoff=Backoff(time_scale=self.plan.workload.time_scale),
        )
        self.reader = reader.start()
        if not reader.wait_connected(self.plan.barrier_timeout_s):
            raise StreamFailure("the stream delivered no first event")

    def wait_for_predictions(self, until: float, count: int | None = None) -> None:
        self.expected_rows = self.plan.workload.predictions_per_job if count is None else count
        if self.predictions_seen >= self.expected_rows:
            self.all_predictions.set()
        if self.reader is not None:
            self.reader.wait_until(self.all_predictions, max(0.0, until - time.time()))

    # the stream's events

    def on_event(self, arrival: Arrival) -> None:
        """Record one event, hand it to the tab, and note when the job's last prediction has come."""
        rules = self.plan.stream
        exception: Exception | None = None
        if arrival.name not in rules.event_names:
            exception = StreamFailure(f"event {arrival.name!r} is not declared by the spec")
        elif arrival.name == rules.error_event:
            exception = StreamFailure(f"server reported: {arrival.data[:200]}")
        self.record(entries.name(entries.EVENT, arrival.name), self.event_time_ms(arrival), arrival.nbytes, exception)
        if arrival.name == rules.trigger_event:
            self.predictions_seen += max(1, len(rules.items_of(decode(arrival.data))))
        self.tab.on_event(arrival)
        if self.predictions_seen >= self.expected_rows:
            self.all_predictions.set()

    def event_time_ms(self, arrival: Arrival) -> float:
        """Upload-to-arrival delay for the trigger event (of its first row); time since the last event otherwise."""
        if arrival.name == self.plan.stream.trigger_event:
            rows = self.plan.stream.items_of(decode(arrival.data))
            sent = training.sent_at(rows[0]) if rows else None
            if sent is not None:
                return max(0.0, (arrival.at - sent) * 1000)
        previous = self.last_event_at.get(arrival.name, self.opened_at)
        self.last_event_at[arrival.name] = arrival.at
        return max(0.0, (arrival.at - previous) * 1000)


class TrainingWorkerUser(PlanUser):
    """A training job's worker: uploads predictions with its job token at a fixed rate (ref §2.5)."""

    role = "trainer"

    def play(self, start_at: float) -> None:
        workload = self.plan.workload
        # A worker posts now and then on a fresh connection; reusing one idle for about the server's
        # keep-alive timeout races the server closing it (uvicorn: 5 s), which a POST cannot retry.
        headers = {**self.job.upload_headers, "Connection": "close"}
        for k in range(workload.uploads_per_job):
            # Mid-interval, so no upload races the first poll or the end of the schedule.
            self.sleep_until(workload.wall(start_at, (k + 0.5) * workload.upload_interval_s))
            body = training.body(self.job.upload_body, self.plan.stream.items_pointer, k, workload.batch, time.time())
            self.call(self.job.routes[training.KIND], json=body, headers=headers)
