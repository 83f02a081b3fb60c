"""A bounded read of one live event stream: status, headers, every chunk and message with its arrival time.

The read stops after N messages, T seconds or when the server closes the stream, whichever comes
first, so an endless stream never hangs the gate. Others can wait for messages while it runs. A stream sent
with a content coding (`gzip`) is decoded chunk by chunk, so the framing rules judge what the client reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.checks import excerpt
from contracts.sse_reader import Frame, SSEReader

# Bytes kept of a response that is not a stream (an error body).
BODY_LIMIT = 64 * 1024
# How often a waiting read looks at its deadline, which `stop_at` may move.
POLL_S = 0.05
# zlib's window bits for each content coding the gate decodes (a gzip member; a zlib stream).
DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass
class Upload:
    """One upload made while the stream was open, and the messages it should have produced."""

    items: int
    status: int


@dataclass
class StreamCapture:
    """What one bounded read of the stream saw."""

    url: str
    path_params: Mapping[str, str]
    time_scale: float
    curl: str
    status: int = 0
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    reader: SSEReader = field(default_factory=SSEReader)
    frames: list[Frame] = field(default_factory=list)
    started_at: float = 0.0
    opened_at: float = 0.0
    closed_at: float = 0.0
    ended_by: str = "not started"
    error: str | None = None
    uploads: list[Upload] = field(default_factory=list)
    counter_baseline: int | None = None
    query: Mapping[str, Any] = field(default_factory=dict)
    """The query parameters the stream was opened with, typed as the spec declares them (a `filter` value)."""
    accept_encoding: str = ""
    """The `Accept-Encoding` the request sent."""
    decode_error: str | None = None
    """Why the coded body could not be decoded, if it could not."""
    filtered_out: int = 0
    """Items stored while the stream was open that its `filter` value excludes (the live check stores some)."""

    @property
    def content_type(self) -> str:
        """The media type of the response, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def window(self) -> float:
        """Seconds between the response headers and the end of the read."""
        return max(0.0, self.closed_at - self.opened_at)

    def excerpt(self) -> str:
        """The response as a short text: status line, content type, the first bytes."""
        raw = self.body or b"".join(chunk for _, chunk in self.reader.chunks)
        return excerpt(self.status, self.headers.get("content-type"), raw)


class StreamSession:
    """Open a stream and read it within bounds; `wait_for` lets a caller await messages meanwhile."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        capture: StreamCapture,
        headers: Mapping[str, str],
        *,
        max_events: int,
        max_seconds: float,
    ) -> None:
        self.client = client
        self.capture = capture
        self.headers = dict(headers)
        self.max_events = max_events
        self.max_seconds = max_seconds
        self.deadline = time.monotonic() + max_seconds
        self._changed = asyncio.Condition()
        self._done = False

    async def run(self) -> StreamCapture:
        """Read until a bound is reached or the server ends the stream."""
        capture = self.capture
        capture.started_at = time.monotonic()
        self.deadline = capture.started_at + self.max_seconds
        response: httpx.Response | None = None
        try:
            request = self.client.build_request("GET", capture.url, headers=self.headers, params=dict(capture.query))
            capture.accept_encoding = request.headers.get("accept-encoding", "")
            # The headers may never come (a stalled server); the bound covers the wait for them too.
            response = await asyncio.wait_for(self.client.send(request, stream=True), self.max_seconds)
            capture.opened_at = time.monotonic()
            capture.status = response.status_code
            capture.headers = response.headers
            if not 200 <= response.status_code < 300:
                await self._read_body(response, self.deadline)
            else:
                await self._read_stream(response)
        except TimeoutError:
            capture.error = f"no response headers within {self.max_seconds:g} s"
            capture.ended_by = "error"
        except httpx.HTTPError as exc:
            capture.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            capture.ended_by = "error"
        finally:
            capture.closed_at = time.monotonic()
            if response is not None:
                await response.aclose()
            if not capture.opened_at:
                capture.opened_at = capture.closed_at
            await self._finish()
        return capture

    async def _read_stream(self, response: httpx.Response) -> None:
        capture = self.capture
        coding = response.headers.get("content-encoding", "").strip().lower()
        decoder = zlib.decompressobj(DECODERS[coding]) if coding in DECODERS else None
        chunks = response.aiter_raw()
        # One pending read is kept across polls: cancelling it would close the response stream.
        pending: asyncio.Future[bytes] | None = None
        try:
            while True:
                if time.monotonic() >= self.deadline:
                    capture.ended_by = "time"
                    return
                if pending is None:
                    pending = asyncio.ensure_future(anext(chunks))
                wait = min(POLL_S, max(0.0, self.deadline - time.monotonic()))
                done, _ = await asyncio.wait({pending}, timeout=wait)
                if not done:
                    continue
                task, pending = pending, None
                try:
                    chunk = task.result()
                except StopAsyncIteration:
                    capture.ended_by = "server"
                    return
                if decoder is not None:
                    chunk = self._decoded(decoder, chunk)
                    if not chunk:
                        continue
                frames = capture.reader.feed(chunk, time.monotonic())
                if frames:
                    capture.frames.extend(frames)
                    async with self._changed:
                        self._changed.notify_all()
                if len(capture.frames) >= self.max_events:
                    capture.ended_by = "events"
                    return
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    def _decoded(self, decoder: Any, chunk: bytes) -> bytes:
        """One wire chunk with the content coding undone (each message is flushed on its own, so it decodes whole)."""
        if self.capture.decode_error is not None:
            return b""
        try:
            return bytes(decoder.decompress(chunk))
        except zlib.error as exc:
            self.capture.decode_error = f"{self.capture.headers.get('content-encoding')} body does not decode: {exc}"
            return b""

    async def _read_body(self, response: httpx.Response, deadline: float) -> None:
        capture = self.capture
        body = bytearray()
        chunks = response.aiter_raw()
        with contextlib.suppress(TimeoutError, StopAsyncIteration):
            while len(body) < BODY_LIMIT:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                body += await asyncio.wait_for(anext(chunks), remaining)
        capture.body = bytes(body[:BODY_LIMIT])
        capture.ended_by = "server"

    async def _finish(self) -> None:
        self._done = True
        async with self._changed:
            self._changed.notify_all()

    def stop_at(self, when: float) -> None:
        """End the read at monotonic time `when` (earlier or later than the bound it started with)."""
        self.deadline = when

    async def wait_for(self, predicate: Callable[[list[Frame]], bool], timeout: float) -> bool:
        """Wait until `predicate(frames)` holds, the read ends or `timeout` passes; True if it held."""

        async def until() -> bool:
            async with self._changed:
                while True:
                    if predicate(self.capture.frames):
                        return True
                    if self._done:
                        return False
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            return predicate(self.capture.frames)
