"""Locust users of the training dashboard and the training worker, driven by an ftl-load plan.

Each user claims a slot (a job, and a tab of it) from the run's coordinator, prepares (mounts the chart,
opens its stream), waits for the shared start, plays its schedule and reports done. No state is shared
between users or kept at module level, so the same classes run on one process or a Locust cluster.
"""

from __future__ import annotations

import copy
import time
from typing import Any, ClassVar

import gevent
from gevent.event import Event
from gevent.pool import Group
from locust import FastHttpUser, constant, task
from locust.exception import StopUser

from load.coordination import Desk, desk_of
from load.sse import SSE, Arrival, Backoff, StreamFailure, StreamReader, decode, pointer_get


class PlanUser(FastHttpUser):
    """A user that takes its work from a plan slot: claim, prepare, start together, play, report done."""

    abstract = True
    role: ClassVar[str] = "tab"
    wait_time = constant(0)
    # A request the server never answers becomes a recorded failure well before the run's end.
    network_timeout = 15.0
    connection_timeout = 10.0

    desk: Desk
    slot: dict[str, Any]
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
                self.record("ftl-load: prepare", 0, exception=exc, kind="ftl-load")
            try:
                start_at = self.desk.ready(timeout=float(self.slot["barrier_timeout_s"]))
            except gevent.Timeout as exc:
                self.record("ftl-load: start barrier", 0, exception=exc, kind="ftl-load")
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
    def scale(self) -> float:
        return float(self.slot["time_scale"])

    @property
    def job(self) -> dict[str, Any]:
        return dict(self.slot["job"])

    def call(self, route_key: str, **kwargs: Any) -> Any:
        """One request of the job's routes, reported by Locust under the route's entry name."""
        route = self.job["routes"][route_key]
        self.fired += 1
        return self.client.request(route["method"], route["path"], name=route["name"], **kwargs)

    def record(
        self, name: str, response_time: float, length: int = 0, exception: Exception | None = None, kind: str = SSE
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
    """One browser tab with the predictions trends chart of a job open."""

    abstract = True
    role = "tab"

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.slot["dashboard_headers"])

    def prepare(self) -> None:
        self.call("mount_check", headers=self.headers)
        self.call("mount", headers=self.headers)


class PollingDashboardUser(DashboardUser):
    """The chart before SSE: refetches `/trends` on a fixed interval (30 s in the platform, ref §13)."""

    def play(self, start_at: float) -> None:
        interval = float(self.slot["poll_interval_s"]) * self.scale
        for k in range(1, int(self.slot["polls_per_tab"]) + 1):
            self.sleep_until(start_at + k * interval)
            self.call("poll", headers=self.headers)


class SseUser(PlanUser):
    """A plan user that holds an SSE stream and reports it to Locust's statistics (see load.sse)."""

    abstract = True
    reader: StreamReader | None = None

    def on_start(self) -> None:
        super().on_start()
        self.opened_at = time.time()
        self.last_event_at: dict[str, float] = {}

    def open_stream(self) -> StreamReader:
        """Connect the job's stream in the background and wait (bounded) for its first event."""
        rules = self.slot["stream"]
        heartbeat_s = float(rules["heartbeat_interval_ms"]) / 1000 * self.scale
        reader = StreamReader(
            self,
            self.host or "",
            self.job["routes"]["stream"],
            self.slot["dashboard_headers"],
            self.on_event,
            read_timeout_s=max(4 * heartbeat_s, 5.0),
            backoff=Backoff(time_scale=self.scale),
        )
        self.reader = reader.start()
        if not reader.wait_connected(float(self.slot["barrier_timeout_s"])):
            raise StreamFailure("the stream delivered no first event")
        return reader

    def on_event(self, arrival: Arrival) -> None:
        """Record one event; subclasses add what the page does with it."""
        rules = self.slot["stream"]
        exception: Exception | None = None
        if arrival.name not in rules["event_names"]:
            exception = StreamFailure(f"event {arrival.name!r} is not declared by the spec")
        elif arrival.name == rules["error_event"]:
            exception = StreamFailure(f"server reported: {arrival.data[:200]}")
        self.record(f"event: {arrival.name}", self.event_time_ms(arrival), arrival.nbytes, exception)

    def event_time_ms(self, arrival: Arrival) -> float:
        """Upload-to-arrival delay for the trigger event; time since the last event of that name otherwise."""
        rules = self.slot["stream"]
        if arrival.name == rules["trigger_event"]:
            sent = self.sent_at(arrival)
            if sent is not None:
                return max(0.0, (arrival.at - sent) * 1000)
        previous = self.last_event_at.get(arrival.name, self.opened_at)
        self.last_event_at[arrival.name] = arrival.at
        return max(0.0, (arrival.at - previous) * 1000)

    def sent_at(self, arrival: Arrival) -> float | None:
        """The send time a trainer hid in the event's item, if it is one of ours."""
        item = pointer_get(decode(arrival.data), self.slot["stream"]["item_pointer"])
        marker = self.slot["marker"]
        source_field, source_value = marker["source"]
        if not isinstance(item, dict) or item.get(source_field) != source_value:
            return None
        value = item.get(marker["field"])
        try:
            return float(value) if isinstance(value, str | int | float) else None
        except ValueError:
            return None

    def finish(self) -> None:
        if self.reader is not None:
            self.reader.stop()


class SseDashboardUser(SseUser, DashboardUser):
    """The chart since SSE: one stream per tab; every `prediction` event triggers a `/trends` refetch."""

    refetches: Group | None = None
    predictions_seen: int = 0

    def prepare(self) -> None:
        self.refetches = Group()
        self.all_seen = Event()
        DashboardUser.prepare(self)
        self.open_stream()

    def on_event(self, arrival: Arrival) -> None:
        super().on_event(arrival)
        if arrival.name != self.slot["stream"]["trigger_event"]:
            return
        self.predictions_seen += 1
        if self.slot["refetch"] and self.refetches is not None:
            self.refetches.spawn(self.call, "refetch", headers=self.headers)
        if self.predictions_seen >= int(self.slot["uploads_per_job"]) * int(self.slot["batch"]):
            self.all_seen.set()

    def play(self, start_at: float) -> None:
        # The tab stays open for the whole schedule, then (within the grace) until its job's last prediction.
        end = start_at + float(self.slot["duration_s"]) * self.scale
        self.sleep_until(end)
        grace = max(0.0, end + float(self.slot["grace_s"]) - time.time())
        if self.reader is not None:
            self.reader.wait_until(self.all_seen, grace)

    def finish(self) -> None:
        super().finish()
        if self.refetches is not None:
            self.refetches.join(timeout=self.network_timeout + 5)


class TrainingWorkerUser(PlanUser):
    """A training job's worker: uploads predictions with its job token at a fixed rate (ref §2.5)."""

    role = "trainer"

    def play(self, start_at: float) -> None:
        interval = float(self.slot["upload_interval_s"]) * self.scale
        # A worker posts now and then on a fresh connection; reusing one idle for about the server's
        # keep-alive timeout races the server closing it (uvicorn: 5 s), which a POST cannot retry.
        headers = {"Authorization": f"Bearer {self.job['job_token']}", "Connection": "close"}
        for k in range(int(self.slot["uploads_per_job"])):
            # Mid-interval, so no upload races the first poll or the end of the schedule.
            self.sleep_until(start_at + (k + 0.5) * interval)
            self.call("upload", json=self.body(k), headers=headers)

    def body(self, upload: int) -> dict[str, Any]:
        """Upload number `upload`: `batch` copies of the template item, marked with the send time."""
        body = copy.deepcopy(self.job["upload_body"])
        pointer = str(self.slot["stream"]["items_pointer"])
        template = pointer_get(body, pointer)[0]
        marker = self.slot["marker"]
        source_field, source_value = marker["source"]
        batch = int(self.slot["batch"])
        items = []
        for i in range(batch):
            item = dict(template)
            item.update(epoch=1 + upload // 10, step=(upload + 1) * 10, sample_index=i)
            item["char_error_rate"] = round(max(0.0, 0.5 - 0.004 * upload), 4)
            item[source_field] = source_value
            item[marker["field"]] = f"{time.time():.6f}"
            items.append(item)
        parent_pointer, _, key = pointer.rpartition("/")
        parent = pointer_get(body, parent_pointer) if parent_pointer else body
        parent[key] = items
        return body
