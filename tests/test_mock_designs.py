"""`ftl-mock --design NAME` serves each design's contract through the stream rules of `x-stream-contract`.

Each test starts a real mock with its design and reads the stream over real HTTP: pushed trends equal the REST
answer, rows of one upload come in one batch and later ones wait for the window, a filtered stream carries its
epoch only, a gzip-coded stream decodes message by message, and a user's stream beyond the limit is refused.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import ALICE_KEY, DEMO_JOB, MockProcess, path_of
from prometheus_client.parser import text_string_to_metric_families

HEADERS = {"X-API-Key": ALICE_KEY}
STREAM = path_of("stream_predictions", jobId=DEMO_JOB)
TRENDS = path_of("get_prediction_trends", jobId=DEMO_JOB)


class Reader:
    """Reads one stream in a thread: every raw chunk, and the (event, data) messages of the decoded body."""

    def __init__(self, url: str, headers: dict[str, str], params: dict[str, str] | None = None) -> None:
        self.chunks: list[bytes] = []
        self.messages: list[tuple[str, Any, float]] = []
        self.status = 0
        self.headers: httpx.Headers = httpx.Headers()
        self.stop = threading.Event()
        self.opened = threading.Event()
        self.client = httpx.Client(timeout=30)
        self._thread = threading.Thread(target=self._read, args=(url, headers, params), daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "the stream did not open"

    def _read(self, url: str, headers: dict[str, str], params: dict[str, str] | None) -> None:
        with (
            contextlib.suppress(httpx.HTTPError),
            self.client.stream("GET", url, headers=headers, params=params) as response,
        ):
            self.status, self.headers = response.status_code, response.headers
            self.opened.set()
            decoder = zlib.decompressobj(31) if response.headers.get("content-encoding") == "gzip" else None
            pending = b""
            for chunk in response.iter_raw():
                self.chunks.append(chunk)
                pending += decoder.decompress(chunk) if decoder is not None else chunk
                *blocks, pending = pending.split(b"\n\n")
                for block in blocks:
                    fields = dict(line.split(": ", 1) for line in block.decode().splitlines())
                    self.messages.append((fields["event"], json.loads(fields["data"]), time.monotonic()))
                if self.stop.is_set():
                    return

    def until(
        self, ready: Callable[[list[tuple[str, Any, float]]], bool], timeout: float = 10
    ) -> list[tuple[str, Any, float]]:
        deadline = time.monotonic() + timeout
        while not ready(self.messages):
            assert time.monotonic() < deadline, f"not within {timeout} s: {[m[0] for m in self.messages]}"
            time.sleep(0.01)
        return list(self.messages)

    def events(self, name: str) -> list[Any]:
        return [data for event, data, _ in self.messages if event == name]

    def close(self) -> None:
        """Leave after the next chunk (a heartbeat at the latest), closing the connection as a tab does."""
        self.stop.set()
        self._thread.join(timeout=15)
        self.client.close()


@contextlib.contextmanager
def reading(url: str, headers: dict[str, str] = HEADERS, params: dict[str, str] | None = None) -> Iterator[Reader]:
    reader = Reader(url, headers, params)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture
def designed(mock_factory: Callable[..., MockProcess]) -> Callable[..., MockProcess]:
    def start(design: str, scale: str = "0.05") -> MockProcess:
        return mock_factory("--design", design, "--time-scale", scale)

    return start


def test_the_banner_names_the_design(designed: Callable[..., MockProcess]) -> None:
    mock = designed("sse-push")
    assert "with design sse-push (63 operations)" in mock.banner[0]


def test_sse_push_carries_the_trends_rest_answers(designed: Callable[..., MockProcess]) -> None:
    mock = designed("sse-push")
    with reading(mock.url + STREAM) as stream:
        (connected,) = stream.until(lambda m: bool(m))
        assert connected[0] == "connected"
        assert connected[1]["trends"] == httpx.get(mock.url + TRENDS, headers=HEADERS).json()
        mock.admin_client.insert_predictions(DEMO_JOB, count=2, epoch="next")
        stream.until(lambda m: len([e for e in m if e[0] == "prediction"]) == 2)
    first, last = stream.events("prediction")
    assert last["trends"] == httpx.get(mock.url + TRENDS, headers=HEADERS).json()
    # Each event carries the trends right after its own row: the first one saw one row fewer.
    assert sum(t["sample_count"] for t in first["trends"]["trends"]) + 1 == sum(
        t["sample_count"] for t in last["trends"]["trends"]
    )


def test_sse_batched_sends_an_upload_at_once_and_holds_what_follows_for_the_window(
    designed: Callable[..., MockProcess],
) -> None:
    mock = designed("sse-batched-2s", "0.25")  # the design's 2 s window is 0.5 s
    admin = mock.admin_client
    with reading(mock.url + STREAM) as stream:
        stream.until(lambda m: bool(m))
        total = admin.insert_predictions(DEMO_JOB, count=3)["total_count"]
        stream.until(lambda m: len([e for e in m if e[0] == "predictions"]) == 1)
        admin.insert_predictions(DEMO_JOB, count=1)
        admin.insert_predictions(DEMO_JOB, count=1)
        messages = stream.until(lambda m: len([e for e in m if e[0] == "predictions"]) == 2)
    batches = [(data, at) for event, data, at in messages if event == "predictions"]
    assert [len(data["predictions"]) for data, _ in batches] == [3, 2]
    assert [data["total_count"] for data, _ in batches] == [total, total + 2]
    assert {row["job_id"] for data, _ in batches for row in data["predictions"]} == {DEMO_JOB}
    assert batches[1][1] - batches[0][1] >= 0.5 - 0.05
    assert "prediction" not in {event for event, _, _ in messages}


def test_sse_epoch_filter_sends_only_the_asked_epoch(designed: Callable[..., MockProcess]) -> None:
    mock = designed("sse-epoch-filter")
    admin = mock.admin_client
    with reading(mock.url + STREAM, params={"epoch": "7"}) as filtered, reading(mock.url + STREAM) as everything:
        filtered.until(lambda m: bool(m))
        everything.until(lambda m: bool(m))
        admin.insert_predictions(DEMO_JOB, count=1, epoch=8)
        total = admin.insert_predictions(DEMO_JOB, count=2, epoch=7)["total_count"]
        everything.until(lambda m: len([e for e in m if e[0] == "prediction"]) == 3)
        filtered.until(lambda m: len([e for e in m if e[0] == "prediction"]) == 2)
    assert [e["prediction"]["epoch"] for e in filtered.events("prediction")] == [7, 7]
    assert [e["total_count"] for e in filtered.events("prediction")] == [total - 1, total]
    assert [e["prediction"]["epoch"] for e in everything.events("prediction")] == [8, 7, 7]


def test_sse_epoch_filter_refuses_a_bad_epoch_in_plain_text(designed: Callable[..., MockProcess]) -> None:
    mock = designed("sse-epoch-filter")
    response = httpx.get(mock.url + STREAM, headers=HEADERS, params={"epoch": "-1"})
    assert (response.status_code, response.headers["content-type"]) == (400, "text/plain; charset=utf-8")
    assert response.text == "epoch: must be >= 0"


def test_sse_gzip_codes_the_stream_for_a_client_that_accepts_it(designed: Callable[..., MockProcess]) -> None:
    mock = designed("sse-gzip")
    with reading(mock.url + STREAM, {**HEADERS, "Accept-Encoding": "gzip"}) as coded:
        coded.until(lambda m: bool(m))
        mock.admin_client.insert_predictions(DEMO_JOB, count=2)
        coded.until(lambda m: len([e for e in m if e[0] == "prediction"]) == 2)
    assert coded.headers["content-encoding"] == "gzip"
    assert coded.headers["vary"] == "Accept-Encoding"
    # Every chunk on the wire decodes to whole messages: nothing waits in the compressor.
    decoder = zlib.decompressobj(31)
    for chunk in coded.chunks:
        assert decoder.decompress(chunk).endswith(b"\n\n")
    decoded = sum(len(json.dumps(d, separators=(",", ":"))) for _, d, _ in coded.messages)
    assert sum(len(c) for c in coded.chunks) < decoded
    # The metrics count the coded stream's events by name, as they count a plain stream's.
    sent = {
        sample.labels["event"]: sample.value
        for family in text_string_to_metric_families(mock.admin_client.metrics())
        for sample in family.samples
        if sample.name == "ftl_mock_stream_events_sent_total"
    }
    assert sent["prediction"] == 2
    assert sent["connected"] == 1


def test_sse_gzip_sends_plain_text_to_a_client_that_does_not_accept_it(designed: Callable[..., MockProcess]) -> None:
    mock = designed("sse-gzip")
    with reading(mock.url + STREAM, {**HEADERS, "Accept-Encoding": "identity"}) as plain:
        plain.until(lambda m: bool(m))
    assert "content-encoding" not in plain.headers
    assert plain.chunks[0].startswith(b"event: connected\n")


def test_sse_limit_refuses_a_users_seventh_stream_until_one_closes(designed: Callable[..., MockProcess]) -> None:
    mock = designed("sse-limit")
    streams = [Reader(mock.url + STREAM, HEADERS) for _ in range(6)]
    try:
        assert [s.status for s in streams] == [200] * 6
        refused = httpx.get(mock.url + STREAM, headers=HEADERS)
        assert (refused.status_code, refused.headers["content-type"]) == (429, "text/plain; charset=utf-8")
        assert refused.text == "Too many open streams: at most 6 per user"
        streams.pop().close()
        deadline = time.monotonic() + 5
        while (health := mock.admin_client.health())["open_streams"] > 5:
            assert time.monotonic() < deadline, health
            time.sleep(0.02)
        with reading(mock.url + STREAM) as again:
            assert again.status == 200
    finally:
        for stream in streams:
            stream.close()
