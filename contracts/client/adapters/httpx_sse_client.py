"""A reference stream client on httpx-sse, wrapped in `ftl-gate client`'s protocol (one JSON line per event).

`python -m contracts.client.adapters.httpx_sse_client` passes every case. httpx-sse 0.4 parses fields well but
breaks two WHATWG rules, so the client hands it only what it parses right (`DataMessages`): it dispatches a
message that has no `data` line (an `event:`-only or `retry:`-only message, or any blank line once an id was
seen) where WHATWG dispatches nothing, and it holds a lone CR at the end of a chunk until the next chunk, so the
last message of a CR-only stream waits for the next byte. `--plain` leaves both in, to show them in the report.
httpx-sse does not reconnect at all: reconnecting (after the server's `retry`, with `Last-Event-ID`), backing off
on a 503, stopping on a 401 and noticing a stall are this client's own work, with the bounds ftl-gate passes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
from httpx_sse import EventSource, SSEError, connect_sse


def emit(kind: str, **fields: Any) -> None:
    """One protocol line on stdout, at once."""
    print(json.dumps({"type": kind, **fields}), flush=True)


def setting(name: str) -> str:
    """A variable ftl-gate sets; a clear stop when it is missing."""
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: run this client through `ftl-gate client --run`")
    return value


class DataMessages:
    """Text in, text out: LF line endings as soon as a line ends, and only the messages that carry data.

    It also keeps what WHATWG keeps across messages whether or not they are dispatched: the last event id
    (in force after each blank line) and the reconnection time (from a `retry:` line).
    """

    def __init__(self, last_id: str = "", retry_ms: int | None = None) -> None:
        self.after_cr = False
        self.partial = ""
        self.message: list[str] = []
        self.has_data = False
        # Both outlive a connection (they belong to the event source, not to one response).
        self.id_buffer = self.last_id = last_id
        self.retry_ms = retry_ms

    def feed(self, text: str) -> str:
        if self.after_cr and text.startswith("\n"):
            text = text[1:]  # the second half of a CRLF split over two chunks
        self.after_cr = text.endswith("\r")
        lines = (self.partial + text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
        self.partial = lines.pop()
        out: list[str] = []
        for line in lines:
            if not line:
                if self.has_data:
                    out += [*self.message, ""]
                self.last_id = self.id_buffer
                self.message, self.has_data = [], False
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                self.has_data = True
            elif name == "id" and "\0" not in value:
                self.id_buffer = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self.retry_ms = int(value)
            self.message.append(line)
        return "".join(line + "\n" for line in out)


class _Filtered:
    """The parts of an httpx response EventSource reads, with the text passed through DataMessages."""

    def __init__(self, response: httpx.Response, messages: DataMessages) -> None:
        self.headers = response.headers
        self._response = response
        self._messages = messages

    def iter_text(self) -> Iterator[str]:
        for text in self._response.iter_text():
            filtered = self._messages.feed(text)
            if filtered:
                yield filtered


class Client:
    """The stream client: connect, hand over events, reconnect by the contract's rules."""

    def __init__(self, plain: bool) -> None:
        self.url = setting("FTL_STREAM_URL")
        self.key = setting("FINETUNE_LAB_API_KEY")
        self.floor_s = float(setting("FTL_RECONNECT_MS")) / 1000
        self.factor = float(setting("FTL_BACKOFF_FACTOR"))
        self.backoff_max_s = float(setting("FTL_BACKOFF_MAX_MS")) / 1000
        self.stall_s = float(setting("FTL_STALL_MS")) / 1000
        self.give_up = {int(s) for s in setting("FTL_GIVE_UP_STATUSES").split(",")}  # read by the planted defects
        self.retry_statuses = {int(s) for s in setting("FTL_RETRY_STATUSES").split(",")}
        self.plain = plain
        self.last_id = ""
        self.retry_ms: int | None = None
        self.failures = 0

    def run(self) -> None:
        # The read timeout is the stall bound: a connection silent that long is dead.
        timeout = httpx.Timeout(10.0, read=self.stall_s)
        with httpx.Client(timeout=timeout) as http:
            while True:
                why = self.connect(http)
                if why is None:
                    emit("closed")
                    return
                delay = self.delay()
                emit("error", message=f"{why}; reconnecting in {delay * 1000:.0f} ms")
                time.sleep(delay)

    def delay(self) -> float:
        """The wait before the next attempt: backoff after failed attempts, else the server's retry or the floor."""
        if self.failures:
            return min(self.floor_s * self.factor ** (self.failures - 1), self.backoff_max_s)
        return self.retry_ms / 1000 if self.retry_ms is not None else self.floor_s

    def connect(self, http: httpx.Client) -> str | None:
        """One connection: why it ended (to reconnect), or None to stop for good."""
        headers = {"X-API-Key": self.key, **({"Last-Event-ID": self.last_id} if self.last_id else {})}
        opened = False
        try:
            with connect_sse(http, "GET", self.url, headers=headers) as source:
                status = source.response.status_code
                if status != 200:
                    return self.refused(status, source.response)
                opened, self.failures = True, 0
                self.read(source)
                return "the server ended the stream"
        except SSEError as exc:
            emit("error", message=str(exc))
            return None
        except httpx.ReadTimeout:
            return f"no byte for {self.stall_s:g} s"
        except httpx.TransportError as exc:
            # A connection that never opened counts towards the backoff; a stream that was cut does not.
            self.failures += 0 if opened else 1
            return f"connection lost: {exc}"

    def refused(self, status: int, response: httpx.Response) -> str | None:
        response.read()
        if status in self.retry_statuses:
            self.failures += 1
            return f"HTTP {status}"
        emit("error", message=f"HTTP {status}: {response.text[:200]}")
        return None

    def read(self, source: EventSource) -> None:
        if self.plain:
            events = source.iter_sse()
        else:
            messages = DataMessages(self.last_id, self.retry_ms)
            events = EventSource(cast(httpx.Response, _Filtered(source.response, messages))).iter_sse()
        try:
            for sse in events:
                if self.plain:
                    self.last_id = sse.id or self.last_id
                    self.retry_ms = sse.retry if sse.retry is not None else self.retry_ms
                emit("event", event=sse.event, data=sse.data)
        finally:
            if not self.plain:
                self.last_id, self.retry_ms = messages.last_id, messages.retry_ms


def main() -> None:
    Client(plain="--plain" in sys.argv[1:]).run()


if __name__ == "__main__":
    main()
