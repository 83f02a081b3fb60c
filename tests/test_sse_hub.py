"""The stream hub in process: framing from the contract, fan-out order, slow consumers, heartbeats.

The end-to-end behaviour over real HTTP is in test_sse_live.py; these pin the hub's own rules.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import spec
from mockserver.samples import sample
from mockserver.settings import DEMO_DATA
from mockserver.sse import EventFactory, LiveStream, StreamHub
from mockserver.store import Store
from mockserver.wire import dumps, text
from spec import pointers

CONTRACT = spec.load()
STREAM = CONTRACT.stream
JOB = "job_hub_test"


def parse(frame: bytes) -> tuple[str, dict[str, Any]]:
    """Event name and decoded data of one LF-framed message."""
    lines = frame.decode().split("\n")
    fields = dict(line.split(": ", 1) for line in lines if line)
    return fields["event"], json.loads(fields["data"])


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=20))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.005)


def test_frame_follows_wire_rules_of_the_contract() -> None:
    events = EventFactory(STREAM)
    frame = events.frame(STREAM.heartbeat_event, {"timestamp": "2025-01-01T00:00:00.000Z", "n": 1, "s": "é"})
    end = STREAM.wire["line_ending"]
    data = '{"timestamp":"2025-01-01T00:00:00.000Z","n":1,"s":"é"}'
    assert frame == f"event: {STREAM.heartbeat_event}{end}data: {data}{end}{end}".encode()


def test_a_whole_float_is_stored_and_streamed_as_javascript_writes_it() -> None:
    store = Store.from_file(DEMO_DATA, CONTRACT)
    job = store.jobs.dump()[0]
    hub = StreamHub(STREAM, time_scale=1.0, queue_size=10)
    store.predictions.listeners.append(hub.on_prediction)
    sub = hub.subscribe(job["id"], heartbeats=False)
    item = {"job_id": job["id"], "user_id": job["user_id"], "epoch": 9, "step": 1, "sample_index": 0}
    ((row, _),) = store.predictions.insert([{**item, "prompt": "p", "prediction": "q", "exact_match": 1.0}])
    _, data = parse(sub.queue.popleft())
    assert b'"exact_match":1,' in dumps(row), "REST writes the stored row"
    assert b'"exact_match":1,' in text(data).encode(), "the stream writes the same number"
    assert data["prediction"] == json.loads(dumps(row))


@pytest.mark.parametrize("name", STREAM.event_names)
def test_generated_event_data_is_valid_for_every_declared_event(name: str) -> None:
    events = EventFactory(STREAM)
    if name == events.trigger_event:
        row = sample(CONTRACT.resolved["components"]["schemas"]["Prediction"])
        row["job_id"] = JOB
        data = events.prediction_data(JOB, row, 7)
    else:
        data = events.data(name, JOB)
    assert STREAM.check_event(name, text(data)) == []


def test_connected_names_the_job_at_the_subject_pointer() -> None:
    name, data = parse(EventFactory(STREAM).event(STREAM.first_event, JOB))
    assert name == STREAM.first_event
    subject = next(s for s in STREAM.subjects if s["event"] == name)
    assert pointers.get(data, str(subject["pointer"])) == JOB
    assert list(data) == list(STREAM.events[name].raw["properties"])


def test_predictions_reach_every_subscriber_in_insertion_order() -> None:
    hub = StreamHub(STREAM, time_scale=1.0, queue_size=100)
    subs = [hub.subscribe(JOB, heartbeats=False) for _ in range(3)]
    other = hub.subscribe("job_other", heartbeats=False)
    for total in range(1, 21):
        hub.on_prediction(JOB, {"job_id": JOB, "sample_index": total}, total)
    for sub in subs:
        counts = [parse(frame)[1]["total_count"] for frame in sub.queue]
        assert counts == list(range(1, 21))
    assert not other.queue


def test_a_subscriber_that_falls_behind_is_closed_and_counted_without_hurting_others() -> None:
    hub = StreamHub(STREAM, time_scale=1.0, queue_size=5)
    slow = hub.subscribe(JOB, heartbeats=False)
    fast = hub.subscribe(JOB, heartbeats=False)
    for total in range(1, 7):
        hub.on_prediction(JOB, {"job_id": JOB}, total)
        fast.queue.clear()
    assert slow.closed and slow.reason == "slow"
    assert not slow.queue
    assert hub.dropped_slow == 1
    assert hub.subscribers(JOB) == 1
    hub.on_prediction(JOB, {"job_id": JOB}, 7)
    assert len(fast.queue) == 1


def test_unsubscribe_releases_the_stream_at_once() -> None:
    hub = StreamHub(STREAM, time_scale=1.0, queue_size=10)
    subs = [hub.subscribe(JOB) for _ in range(4)]
    assert hub.open_streams == 4
    for sub in subs:
        hub.unsubscribe(sub)
    assert hub.open_streams == 0
    assert hub.subscribers(JOB) == 0


def test_heartbeats_of_many_streams_come_from_one_task() -> None:
    async def scenario() -> None:
        hub = StreamHub(STREAM, time_scale=0.001, queue_size=1000)
        await hub.start()
        tasks_before = len(asyncio.all_tasks())
        subs = [hub.subscribe(JOB, predictions=False) for _ in range(200)]
        assert len(asyncio.all_tasks()) == tasks_before
        await until(lambda: all(len(sub.queue) >= 3 for sub in subs))
        assert {parse(frame)[0] for sub in subs for frame in sub.queue} == {STREAM.heartbeat_event}
        for sub in subs:
            hub.unsubscribe(sub)
        await hub.stop()

    run(scenario)


def test_first_heartbeat_waits_one_interval() -> None:
    async def scenario() -> None:
        hub = StreamHub(STREAM, time_scale=0.01, queue_size=10)
        await hub.start()
        started = time.monotonic()
        sub = hub.subscribe(JOB, predictions=False)
        await until(lambda: bool(sub.queue))
        assert time.monotonic() - started >= STREAM.heartbeat_interval_ms * 0.01 / 1000 * 0.9
        await hub.stop()

    run(scenario)


class FakeClient:
    """An ASGI peer: records what the response sends and can block sends or disconnect."""

    def __init__(self, block_body: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.block_body = block_body
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if self.block_body and message["type"] == "http.response.body" and len(self.sent) > 2:
            await self.gone.wait()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def test_live_response_sends_connected_then_predictions_and_releases_on_disconnect() -> None:
    async def scenario() -> None:
        hub = StreamHub(STREAM, time_scale=1.0, queue_size=10)
        await hub.start()
        client = FakeClient()
        task = asyncio.create_task(LiveStream(hub, JOB)(scope={}, receive=client.receive, send=client.send))
        await until(lambda: hub.subscribers(JOB) == 1 and bool(client.sent))
        hub.on_prediction(JOB, {"job_id": JOB}, 1)
        await until(lambda: client.body.count(b"\n\n") == 2)
        start = client.sent[0]
        assert start["status"] == 200
        assert (b"content-type", b"text/event-stream") in start["headers"]
        names = [parse(f + b"\n\n")[0] for f in client.body.split(b"\n\n") if f]
        assert names == [STREAM.first_event, STREAM.trigger["event"]]
        client.gone.set()
        await task
        assert hub.open_streams == 0 and hub.subscribers(JOB) == 0
        await hub.stop()

    run(scenario)


def test_a_stalled_client_does_not_block_fan_out_and_is_dropped() -> None:
    async def scenario() -> None:
        hub = StreamHub(STREAM, time_scale=1.0, queue_size=3)
        await hub.start()
        stuck, fine = FakeClient(block_body=True), FakeClient()
        tasks = [
            asyncio.create_task(LiveStream(hub, JOB)(scope={}, receive=c.receive, send=c.send)) for c in (stuck, fine)
        ]
        await until(lambda: hub.subscribers(JOB) == 2)
        for total in range(1, 11):
            hub.on_prediction(JOB, {"job_id": JOB}, total)
            await asyncio.sleep(0)
        await until(lambda: fine.body.count(b"\n\n") == 11)
        assert hub.dropped_slow == 1
        assert hub.subscribers(JOB) == 1
        for client in (stuck, fine):
            client.gone.set()
        await asyncio.gather(*tasks)
        assert hub.open_streams == 0
        await hub.stop()

    run(scenario)


@pytest.mark.timeout(10)
def test_a_client_leaving_while_messages_are_queued_ends_the_stream() -> None:
    async def scenario() -> None:
        hub = StreamHub(STREAM, time_scale=1.0, queue_size=10)
        await hub.start()
        client = FakeClient()
        task = asyncio.create_task(LiveStream(hub, JOB)(scope={}, receive=client.receive, send=client.send))
        await until(lambda: hub.subscribers(JOB) == 1 and bool(client.sent))
        # The disconnect and a new message land in the same loop iteration.
        client.gone.set()
        hub.on_prediction(JOB, {"job_id": JOB}, 1)
        await task
        assert hub.open_streams == 0
        await hub.stop()

    run(scenario)
