"""The live prediction stream of a real ftl-mock: pre-stream failures, headers, wire format, event order,
heartbeats, concurrent fan-out and release on disconnect.

Rules (event names, pointers, interval, wire) come from the spec's x-stream-contract, never from literals.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx
import pytest
import yaml
from conftest import ALICE, ALICE_KEY, BOB_KEY, DEMO_JOB, MockProcess
from httpx_sse import aconnect_sse, connect_sse

import spec
from mockserver.settings import DEMO_DATA
from spec import Schema, pointers

CONTRACT = spec.load()
STREAM = CONTRACT.stream
UPLOAD = CONTRACT.operation(str(STREAM.trigger["operation_id"]))
COUNTER = str(STREAM.counter["pointer"])
FRESH_JOB = "job_sse_fresh"
FRESH_TOKEN = "sseFreshJobToken_0123456789abcdefghijklmnopq"
TIME_SCALE = 0.01
READ_TIMEOUT_S = 20.0


def stream_url(mock: MockProcess, job_id: str) -> str:
    return mock.url + STREAM.operation.path_for(jobId=job_id)


def pointer(data: Any, path: str) -> Any:
    found = pointers.get(data, path)
    assert found is not pointers.MISSING, f"no {path} in {data}"
    return found


def until(condition: Callable[[], bool], timeout: float = READ_TIMEOUT_S) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def open_streams(mock: MockProcess) -> int:
    return int(httpx.get(f"{mock.admin}/health", timeout=5).json()["open_streams"])


# --- a raw HTTP/1.1 client that sees every chunk the server writes ----------------------------


@dataclass
class RawStream:
    """A streaming GET over a plain socket, parsed with h11 so each HTTP chunk stays visible."""

    status: int
    headers: dict[str, str]
    sock: socket.socket
    conn: h11.Connection
    chunks: list[bytes] = field(default_factory=list)
    ended: bool = False
    _partial: bytearray = field(default_factory=bytearray)

    @classmethod
    def open(cls, url: str, headers: dict[str, str]) -> RawStream:
        parts = urlsplit(url)
        sock = socket.create_connection((parts.hostname, parts.port), timeout=READ_TIMEOUT_S)
        conn = h11.Connection(h11.CLIENT)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = h11.Request(method="GET", target=target, headers=[("Host", parts.netloc), *headers.items()])
        sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
        while True:
            event = cls._next(sock, conn)
            if isinstance(event, h11.Response):
                decoded = {k.decode().lower(): v.decode() for k, v in event.headers}
                return cls(event.status_code, decoded, sock, conn)

    @staticmethod
    def _next(sock: socket.socket, conn: h11.Connection) -> Any:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
                continue
            return event

    def read_until(self, condition: Callable[[bytes], bool]) -> bytes:
        """Read chunks until `condition(body so far)` holds or the response ends; fail after a deadline."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        while not condition(self.body) and not self.ended:
            if time.monotonic() > deadline:
                raise AssertionError(f"stream did not reach the expected state; got {self.body[-500:]!r}")
            event = self._next(self.sock, self.conn)
            if isinstance(event, h11.Data):
                self._partial += event.data
                if event.chunk_end:
                    self.chunks.append(bytes(self._partial))
                    self._partial.clear()
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                self.ended = True
        return self.body

    def read_messages(self, count: int, end: bytes = b"\n\n") -> bytes:
        """Read until `count` messages (blank-line terminated) have arrived."""
        return self.read_until(lambda body: body.count(end) >= count)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def close(self) -> None:
        self.sock.close()


def auth(key: str = ALICE_KEY) -> dict[str, str]:
    return {"X-API-Key": key, "Accept": "text/event-stream"}


def messages(body: bytes, end: str = "\n") -> list[tuple[str, dict[str, Any]]]:
    """(event, decoded data) of each complete message of a well-formed body."""
    found = []
    for block in body.decode().split(end + end):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split(end))
        found.append((fields["event"], json.loads(fields["data"])))
    return found


def upload(mock: MockProcess, job_id: str, token: str, rows: list[dict[str, Any]]) -> httpx.Response:
    body = {"job_id": job_id, "predictions": rows}
    return httpx.post(mock.url + UPLOAD.path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def rows(job_id: str, epoch: int, start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "job_id": job_id,
            "user_id": ALICE,
            "epoch": epoch,
            "step": epoch * 10,
            "sample_index": i,
            "prompt": f"prompt {i}",
            "prediction": f"prediction {i}",
        }
        for i in range(start, start + count)
    ]


@pytest.fixture
def fresh_mock(mock_factory: Any, tmp_path: Path) -> MockProcess:
    """A mock at --time-scale 0.01 whose seed adds one job of alice's without predictions."""
    seed = yaml.safe_load(DEMO_DATA.read_text(encoding="utf-8"))
    base = next(job for job in seed["jobs"] if job["id"] == DEMO_JOB)
    seed["jobs"].append({**base, "id": FRESH_JOB, "job_token": FRESH_TOKEN})
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed), encoding="utf-8")
    handle: MockProcess = mock_factory("--time-scale", str(TIME_SCALE), "--data", str(path))
    return handle


# --- before the stream ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "job_id", "status"),
    [
        ({}, DEMO_JOB, 401),
        (auth("wak_" + "x" * 32), DEMO_JOB, 401),
        (auth(BOB_KEY), DEMO_JOB, 404),
        (auth(), "job_none", 404),
    ],
    ids=["no-credentials", "unknown-key", "other-users-job", "missing-job"],
)
def test_failures_before_the_stream_are_plain_text(
    mock: MockProcess, headers: dict[str, str], job_id: str, status: int
) -> None:
    response = httpx.get(stream_url(mock, job_id), headers=headers, timeout=10)
    assert response.status_code == status
    declared = STREAM.operation.response(status)
    media_type = STREAM.rules["pre_stream_errors"]["media_type"]
    assert response.headers["content-type"].split(";")[0] == media_type
    assert declared is not None and response.text == declared.media(media_type).example  # type: ignore[union-attr]
    assert open_streams(mock) == 0


def test_stream_opens_with_the_declared_headers_and_connected_first(mock: MockProcess) -> None:
    raw = RawStream.open(stream_url(mock, DEMO_JOB), auth())
    try:
        assert raw.status == 200
        for name, header in STREAM.operation.success.headers.items():
            # The mock sends the value the spec fixes: the `const`, or the example of a required header.
            fixed = header["schema"].get("const", header.get("example") if header.get("required") else None)
            if header.get("required") or fixed is not None:
                assert raw.headers.get(name.lower()) == fixed, name
                assert Schema(header["schema"]).is_valid(fixed), name
        body = raw.read_messages(1)
        ((event, data),) = messages(body)
        assert event == STREAM.first_event
        assert STREAM.check_event(event, json.dumps(data)) == []
        for subject in STREAM.subjects:
            if subject["event"] == event:
                assert pointer(data, str(subject["pointer"])) == DEMO_JOB
        assert list(data) == list(STREAM.events[event].raw["properties"])
    finally:
        raw.close()


# --- live events ------------------------------------------------------------------------------


def test_uploaded_predictions_arrive_in_order_with_the_jobs_count(fresh_mock: MockProcess) -> None:
    raw = RawStream.open(stream_url(fresh_mock, FRESH_JOB), auth())
    try:
        raw.read_messages(1)
        assert upload(fresh_mock, FRESH_JOB, FRESH_TOKEN, rows(FRESH_JOB, 1, 0, 3)).status_code == UPLOAD.success_status
        assert upload(fresh_mock, FRESH_JOB, FRESH_TOKEN, rows(FRESH_JOB, 2, 0, 2)).status_code == UPLOAD.success_status
        body = raw.read_until(lambda b: len([m for m in messages(b) if m[0] == STREAM.trigger["event"]]) >= 5)
        events = [m for m in messages(body) if m[0] != STREAM.heartbeat_event]
        assert [name for name, _ in events] == [STREAM.first_event] + [str(STREAM.trigger["event"])] * 5
        predictions = [data for _, data in events[1:]]
        assert [pointer(d, COUNTER) for d in predictions] == [1, 2, 3, 4, 5]
        item = str(STREAM.trigger["item_pointer"])
        assert [(pointer(d, item)["epoch"], pointer(d, item)["sample_index"]) for d in predictions] == [
            (1, 0),
            (1, 1),
            (1, 2),
            (2, 0),
            (2, 1),
        ]
        for data in predictions:
            assert STREAM.check_event(str(STREAM.trigger["event"]), json.dumps(data)) == []
        # Every message left the server as exactly one HTTP chunk.
        assert all(chunk.endswith(b"\n\n") and chunk.count(b"\n\n") == 1 for chunk in raw.chunks)
    finally:
        raw.close()


def test_heartbeats_follow_the_scaled_interval(fresh_mock: MockProcess) -> None:
    interval_ms = STREAM.heartbeat_interval_ms * TIME_SCALE
    window_ms = interval_ms * 10
    beats: list[float] = []
    connected_at = None
    # Times are the server's own event timestamps, so a slow reader cannot skew the count.
    with (
        httpx.Client(timeout=READ_TIMEOUT_S) as client,
        connect_sse(client, "GET", stream_url(fresh_mock, FRESH_JOB), headers=auth()) as source,
    ):
        deadline = time.monotonic() + READ_TIMEOUT_S
        for sse in source.iter_sse():
            stamp = datetime.fromisoformat(json.loads(sse.data)["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
            if sse.event == STREAM.first_event:
                connected_at = stamp
            elif sse.event == STREAM.heartbeat_event:
                assert connected_at is not None
                beats.append(stamp - connected_at)
                if beats[-1] > window_ms:
                    break
            assert time.monotonic() < deadline
    in_window = [t for t in beats if t <= window_ms]
    # Ten are due in the window and none can come early; a busy machine may send a few late.
    assert 5 <= len(in_window) <= 10
    assert min(beats) >= interval_ms - 1


def test_concurrent_uploads_reach_every_subscriber_once_and_in_order(fresh_mock: MockProcess) -> None:
    uploads, per_upload, subscribers = 20, 50, 10
    total = uploads * per_upload
    trigger = str(STREAM.trigger["event"])

    async def subscriber(client: httpx.AsyncClient, ready: asyncio.Event, opened: list[int]) -> list[int]:
        counts: list[int] = []
        async with aconnect_sse(client, "GET", stream_url(fresh_mock, FRESH_JOB), headers=auth()) as source:
            async for sse in source.aiter_sse():
                if sse.event == STREAM.first_event:
                    opened.append(1)
                    if len(opened) == subscribers:
                        ready.set()
                elif sse.event == trigger:
                    counts.append(pointer(json.loads(sse.data), COUNTER))
                    if len(counts) == total:
                        return counts
        return counts

    async def uploader(client: httpx.AsyncClient, index: int) -> int:
        body = {"job_id": FRESH_JOB, "predictions": rows(FRESH_JOB, 1 + index, 0, per_upload)}
        response = await client.post(
            fresh_mock.url + UPLOAD.path, json=body, headers={"Authorization": f"Bearer {FRESH_TOKEN}"}
        )
        return response.status_code

    async def scenario() -> list[list[int]]:
        limits = httpx.Limits(max_connections=subscribers + uploads)
        async with httpx.AsyncClient(timeout=READ_TIMEOUT_S * 3, limits=limits) as client:
            ready, opened = asyncio.Event(), []
            readers = [asyncio.create_task(subscriber(client, ready, opened)) for _ in range(subscribers)]
            await asyncio.wait_for(ready.wait(), READ_TIMEOUT_S)
            statuses = await asyncio.gather(*(uploader(client, i) for i in range(uploads)))
            assert statuses == [UPLOAD.success_status] * uploads
            return await asyncio.wait_for(asyncio.gather(*readers), READ_TIMEOUT_S * 3)

    received = asyncio.run(scenario())
    for counts in received:
        assert counts == list(range(1, total + 1))
    rest = httpx.get(
        fresh_mock.url + CONTRACT.operation(str(STREAM.counter["rest"]["operation_id"])).path_for(jobId=FRESH_JOB),
        headers=auth(),
        params={"limit": 1},
        timeout=10,
    ).json()
    assert pointer(rest, str(STREAM.counter["rest"]["pointer"])) == total


def test_disconnect_releases_every_subscription(fresh_mock: MockProcess) -> None:
    streams = [RawStream.open(stream_url(fresh_mock, FRESH_JOB), auth()) for _ in range(5)]
    for raw in streams:
        raw.read_messages(1)
    until(lambda: open_streams(fresh_mock) == 5)
    for raw in streams:
        raw.close()
    until(lambda: open_streams(fresh_mock) == 0)
    # Fan-out after the clients left finds nobody and fails nothing.
    assert upload(fresh_mock, FRESH_JOB, FRESH_TOKEN, rows(FRESH_JOB, 1, 0, 1)).status_code == UPLOAD.success_status


def test_admin_trigger_inserts_generated_predictions_that_rest_and_stream_agree_on(fresh_mock: MockProcess) -> None:
    raw = RawStream.open(stream_url(fresh_mock, FRESH_JOB), auth())
    try:
        raw.read_messages(1)
        response = httpx.post(f"{fresh_mock.admin}/jobs/{FRESH_JOB}/predictions", json={"count": 4}, timeout=10)
        assert response.status_code == 200
        assert response.json()["total_count"] == 4
        body = raw.read_until(lambda b: b.count(f"event: {STREAM.trigger['event']}".encode()) >= 4)
        item = str(STREAM.trigger["item_pointer"])
        streamed = [pointer(d, item) for n, d in messages(body) if n == STREAM.trigger["event"]]
        listed = httpx.get(
            fresh_mock.url + CONTRACT.operation(str(STREAM.counter["rest"]["operation_id"])).path_for(jobId=FRESH_JOB),
            headers=auth(),
            timeout=10,
        ).json()
        assert streamed == pointer(listed, str(CONTRACT.operation("get_predictions").pagination["items"]))  # type: ignore[index]
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [({"count": 0}, 400, "count"), ({"rate": -1}, 400, "rate"), ({"epoch": "later"}, 400, "epoch")],
)
def test_admin_trigger_rejects_bad_input_naming_the_field(
    mock: MockProcess, body: dict[str, Any], status: int, needle: str
) -> None:
    response = httpx.post(f"{mock.admin}/jobs/{DEMO_JOB}/predictions", json=body, timeout=10)
    assert response.status_code == status
    assert needle in response.json()["error"]


def test_admin_trigger_on_an_unknown_job_is_404(mock: MockProcess) -> None:
    response = httpx.post(f"{mock.admin}/jobs/job_none/predictions", json={}, timeout=10)
    assert response.status_code == 404
