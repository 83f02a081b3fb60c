"""uvicorn's httptools protocol with what it lacks for a server on a hostile network.

* a bound on request headers, in bytes (431) and in time (408), counted from the connection or the first
  byte of a request: a slowloris connection is closed, and other connections are never held up by it;
* a request body left unread after the answer (a lying `Content-Length`) must arrive within the same time;
* the disconnect of a client reaches the response in flight, not only a pipelined request queued behind it;
* HTTP/1.0 clients get responses without a length the 1.0 way: no chunked encoding, one `Connection: close`;
* the app can abort its connection through the ASGI extension `ftl.abort` (a stuck stream consumer).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

ABORT_EXTENSION = "ftl.abort"


class CloseDelimitedCycle(RequestResponseCycle):
    """One request of an HTTP/1.0 client: a response without a `Content-Length` ends when the connection does."""

    _until_close = False

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            # The connection closes after this response, whatever the app says.
            headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"connection"]
            if not any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in headers):
                self._until_close = True
                self.chunked_encoding = False
                self.expected_content_length = sys.maxsize
            self.keep_alive = False
            message = {**message, "headers": headers}
        elif (
            self._until_close
            and message["type"] == "http.response.body"
            and not message.get("more_body", False)
            and not self.response_complete
            and not self.disconnected
        ):
            # No terminating chunk: write the last bytes, then end the response (uvicorn closes the connection).
            await super().send({**message, "more_body": True})  # type: ignore[arg-type]
            self.expected_content_length = 0
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await super().send(message)


class MockProtocol(HttpToolsProtocol):
    """The protocol `ftl-mock` serves with; `protocol_class` fixes its limits."""

    header_limit = 64 * 1024
    read_timeout = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._in_head = False
        self._head_raw = 0  # bytes of the chunks that arrived while the head was unfinished
        self._message_open = False
        self._refused = False
        self._running: RequestResponseCycle | None = None
        self._extensions: dict[str, Any] = {}

    # connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._extensions = {ABORT_EXTENSION: transport.abort}
        # A connection that never sends a request is a slow head too.
        self._head_timer = self.loop.call_later(self.read_timeout, self._head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        running = self._running
        super().connection_lost(exc)
        # uvicorn tells only the newest cycle; with a pipelined request queued that is not the one answering.
        if running is not None and not running.response_complete:
            running.disconnected = True
            running.message_event.set()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        in_head = self._in_head
        super().data_received(data)
        if self._in_head and not self._refused:
            # A chunk that starts inside a head which is still unfinished after it is head from end to end.
            if in_head:
                self._head_raw += len(data)
                self._check_head(self._head_raw)
            # Most heads come whole in one chunk and never need a timer; this one is still unfinished.
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.read_timeout, self._head_timeout)

    # parser callbacks

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._in_head = True
        self._head_raw = 0

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        # The head as the parser handed it over (a head that came in one chunk was not counted on arrival).
        size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
        if size > self.header_limit:
            self._check_head(size)
            return
        self.scope["extensions"] = self._extensions
        self._message_open = True
        super().on_headers_complete()
        if self.scope.get("http_version") == "1.0" and self.cycle is not None:
            # uvicorn would answer a 1.0 client with chunked encoding, which HTTP/1.0 does not have.
            self.cycle.__class__ = CloseDelimitedCycle

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._message_open = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._message_open and self._body_timer is None and not self.transport.is_closing():
            # Answered before its body came (an error, or a body the route never reads): the rest must follow.
            self._body_timer = self.loop.call_later(self.read_timeout, self._body_timeout)

    # limits

    def _check_head(self, size: int) -> None:
        # Both counts (raw chunks of an unfinished head, the parsed head) are at most its true size.
        if size > self.header_limit:
            self._refuse(
                431,
                f"request headers: must be at most {self.header_limit} bytes together (got more); see --header-limit",
            )

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        answering = self._running is not None and not self._running.response_complete
        if self._in_head and not answering:
            self._refuse(408, f"request headers: must arrive within {self.read_timeout:g} s; see --read-timeout")
        else:
            # Nothing was sent at all, or a response is being written: no room for an answer of our own.
            self.transport.close()

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self._message_open and not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with a JSON error and close; the request never reaches the app."""
        self._refused = True
        self._cancel_timers()
        body = ('{"error":"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"}').encode("utf-8")
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}.get(status, b"Error")
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, reason, len(body))
        )
        self.transport.write(head + body)
        self.transport.close()

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        self._head_timer = self._body_timer = None

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()


def protocol_class(header_limit: int, read_timeout: float) -> type[MockProtocol]:
    """`MockProtocol` with these limits, for `uvicorn.Config(http=...)`."""
    return type("ConfiguredMockProtocol", (MockProtocol,), {"header_limit": header_limit, "read_timeout": read_timeout})
