"""An SSE stream held by a Locust user, reported to Locust's statistics as request entries.

Entries (type `SSE`, names in `load.entries`): `stream: connect` (time to response headers), `stream: first event`,
`stream: reconnect`, `stream: held` (how long each connection stayed open and its bytes) and failures for refused,
broken or server-ended streams; the user records `event: <name>` for each event it is handed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import gevent
import httpx
from gevent.event import Event
from httpx_sse import EventSource, SSEError

from load import entries
from load.plan import Route
from load.tab import Arrival


class StreamFailure(Exception):
    """A stream that was refused, broke, or that the server ended; recorded as a Locust failure."""


class Recorder(Protocol):
    """Whatever fires Locust request events for a user (and counts them)."""

    def record(
        self,
        name: str,
        response_time: float,
        length: int = 0,
        exception: Exception | None = None,
        kind: str = entries.SSE,
    ) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """The first-party client's reconnect policy (ref §3.2): 1, 2, 4, 8, 16 s, five retries; time-scaled."""

    retries: int = 5
    base_s: float = 1.0
    cap_s: float = 30.0
    time_scale: float = 1.0

    def delay(self, attempt: int) -> float:
        """Wall seconds to wait before retry number `attempt` (0-based)."""
        return min(self.base_s * 2**attempt, self.cap_s) * self.time_scale


class StreamReader:
    """Holds one SSE stream in its own greenlet, reconnecting like the dashboard's hook, until stopped."""

    def __init__(
        self,
        recorder: Recorder,
        base_url: str,
        route: Route,
        headers: Mapping[str, str],
        on_event: Callable[[Arrival], None],
        *,
        read_timeout_s: float,
        backoff: Backoff,
    ) -> None:
        self.recorder = recorder
        self.base_url = base_url
        self.route = route
        self.headers = {**headers, "Accept": "text/event-stream"}
        self.on_event = on_event
        self.read_timeout_s = read_timeout_s
        self.backoff = backoff
        self.connected = Event()
        self.stopping = False
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> StreamReader:
        """Begin connecting in the background."""
        self._greenlet = gevent.spawn(self._run)
        return self

    def wait_connected(self, timeout: float) -> bool:
        """True once the first event of a connection arrived; False on timeout or when the reader gave up."""
        waitables: list[Any] = [self.connected] + ([self._greenlet] if self._greenlet is not None else [])
        gevent.wait(waitables, timeout=timeout, count=1)
        return self.connected.is_set()

    def wait_until(self, event: Event, timeout: float) -> None:
        """Until `event` is set, the reader has ended (gave up or the server ended the stream), or timeout."""
        waitables: list[Any] = [event] + ([self._greenlet] if self._greenlet is not None else [])
        gevent.wait(waitables, timeout=timeout, count=1)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the stream (the client leaves, as a dashboard tab closing does)."""
        self.stopping = True
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=timeout)

    def _run(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                self._hold()
                return  # a clean end of stream: the first-party hook does not reconnect either
            except gevent.GreenletExit:
                return
            except Exception:
                if self.stopping:
                    return
            if attempt >= self.backoff.retries:
                self.recorder.record(entries.GAVE_UP, 0, exception=StreamFailure("no connection after retries"))
                return
            gevent.sleep(self.backoff.delay(attempt))
            attempt += 1
            self.recorder.record(entries.RECONNECT, self.backoff.delay(attempt - 1) * 1000)

    def _hold(self) -> None:
        """One connection: record its setup, dispatch its events, record how it ended; raise if it broke."""
        started = time.perf_counter()
        timeout = httpx.Timeout(10.0, read=self.read_timeout_s)
        # No TLS context for plain http: building one loads the CA bundle, tens of ms per connection.
        verify = self.base_url.startswith("https:")
        with (
            httpx.Client(base_url=self.base_url, timeout=timeout, verify=verify) as client,
            client.stream(self.route.method, self.route.path, headers=self.headers) as response,
        ):
            connect_ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                body = response.read()
                refused = StreamFailure(f"HTTP {response.status_code}: {body[:200].decode(errors='replace')}")
                self.recorder.record(entries.CONNECT, connect_ms, len(body), refused)
                raise refused
            self.recorder.record(entries.CONNECT, connect_ms)
            coding = response.headers.get("content-encoding")
            if coding:
                self.recorder.record(f"{entries.CODED} {coding}", connect_ms)
            self._read(response, started)

    def _read(self, response: httpx.Response, started: float) -> None:
        opened = time.perf_counter()
        seen = held = 0
        first = True
        broken: Exception | None = None
        try:
            for event in EventSource(response).iter_sse():
                now = time.time()
                nbytes = response.num_bytes_downloaded - seen
                seen = response.num_bytes_downloaded
                held += nbytes
                if first:
                    first = False
                    self.recorder.record(entries.FIRST_EVENT, (time.perf_counter() - started) * 1000)
                    self.connected.set()
                self.on_event(Arrival(event.event, event.data, nbytes, now))
                if self.stopping:
                    return
        except (httpx.HTTPError, SSEError) as exc:
            broken = StreamFailure(f"stream broke: {type(exc).__name__}: {exc}")
        finally:
            ended = None if self.stopping or broken else StreamFailure("server ended the stream")
            self.recorder.record(entries.HELD, (time.perf_counter() - opened) * 1000, held, broken or ended)
        if broken is not None:
            raise broken
