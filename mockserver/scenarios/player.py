"""The player: one scenario played on one open stream, step by step, then the stream stays open live.

Writes through the stream hub's writer, so stored predictions, heartbeats and client exits work as on a live stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from mockserver.scenarios.feed import PredictionFeed
from mockserver.scenarios.model import Scenario, ScenarioError, Step, pointers
from mockserver.sse import EventStream, StreamHub, StreamWriter, Subscription, peer
from mockserver.wire import text

logger = logging.getLogger("mockserver.scenarios")

# A split message's chunks need a real pause between them or TCP coalesces them into one read.
MIN_SPLIT_GAP_S = 0.005
LINE_ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


class ScenarioStream(EventStream):
    """A scripted stream: plays a scenario, then stays open like a live stream."""

    def __init__(self, hub: StreamHub, scenario: Scenario, job_id: str, feed: PredictionFeed) -> None:
        error = scenario.http_error
        super().__init__(hub, job_id, int(error["status"]) if error is not None else 200)
        self.scenario = scenario
        self.feed = feed
        self._error_body = b""
        if error is not None:
            self._error_body, self.raw_headers = self._error_response(error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.scenario.http_error is not None:
            await self._http_error(send)
            return
        sub = self.hub.subscribe(self.job_id, predictions=False, heartbeats=False, client=peer(scope))
        writer = StreamWriter(sub, send, receive, scope)
        run = ScenarioRun(self, sub, writer)
        writer.deliver = run.deliver
        try:
            await writer.start(self.raw_headers)
            try:
                await run.steps(self.scenario.steps)
            except ScenarioError as exc:
                # E.g. an insert step after the job was deleted: end this stream, keep the server quiet.
                logger.warning("scenario %s on job %s stopped: %s", self.scenario.name, self.job_id, exc)
                sub.close("script")
            if not sub.closed:
                await writer.run()
        finally:
            self.hub.unsubscribe(sub)
            await writer.finish()

    def _error_response(self, error: Mapping[str, Any]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        status = int(error["status"])
        content_type = str(error.get("content_type", "text/plain"))
        body = error.get("body")
        if body is None:
            response = self.hub.stream.operation.response(status)
            media = response.media(content_type) if response else None
            body = str(media.example) if media is not None and media.example is not None else ""
        if content_type.startswith("text/") and "charset" not in content_type:
            content_type += "; charset=utf-8"
        payload = str(body).encode("utf-8")
        headers = [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(payload)).encode())]
        return payload, headers

    async def _http_error(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self._error_body, "more_body": False})


class ScenarioRun:
    """One play of a scenario on one open stream: the steps, the current line ending and split."""

    def __init__(self, stream: ScenarioStream, sub: Subscription, writer: StreamWriter) -> None:
        self.hub = stream.hub
        self.job_id = stream.job_id
        self.feed = stream.feed
        self.heartbeats = stream.scenario.heartbeats
        self.events = stream.hub.events
        self.sub = sub
        self.writer = writer
        self._wire_end = self.events.line_ending
        self._end = self._wire_end
        self._split: tuple[int, float] | None = None

    # steps

    async def steps(self, steps: Sequence[Step]) -> None:
        """Play steps in order until they end or the stream closes."""
        for step in steps:
            if self.sub.closed:
                return
            await self.writer.flush()
            await getattr(self, f"_step_{step.kind}")(step)
            # A long script of sends that never block must still let other streams run.
            await asyncio.sleep(0)

    async def _step_http_error(self, step: Step) -> None:
        """Handled before the stream opens."""

    async def _step_emit(self, step: Step) -> None:
        emit = step.value
        name = emit["event"]
        if "raw_data" in emit:
            data: Any = emit["raw_data"]
        else:
            data = self.events.data(name, self.job_id, pointers(emit.get("data") or {}))
        if name == self.hub.stream.first_event:
            self._attach()
        frame = self.events.frame(name, data, id=emit.get("id"), retry=emit.get("retry"))
        await self.deliver(frame)

    async def _step_wait(self, step: Step) -> None:
        await self._idle(self._scaled(step.value), deliver=True)

    async def _step_stall(self, step: Step) -> None:
        await self._idle(None if step.value is None else self._scaled(step.value), deliver=False)

    async def _step_repeat(self, step: Step) -> None:
        for _ in range(int(step.value["times"])):
            if self.sub.closed:
                return
            await self.steps(step.steps)

    async def _step_insert(self, step: Step) -> None:
        self._attach()
        count = int(step.value.get("count", 1))
        epoch = step.value.get("epoch", "current")
        rate = step.value.get("rate")
        if rate is None:
            self.feed.insert(self.job_id, count, epoch)
            return
        interval = self._scaled(1000.0 / float(rate))
        for i in range(count):
            self.feed.insert(self.job_id, 1, epoch if i == 0 or epoch != "next" else "current")
            if i < count - 1:
                await self._idle(interval, deliver=True)

    async def _step_close(self, step: Step) -> None:
        await self.writer.flush()
        self.sub.close("script")

    async def _step_drop(self, step: Step) -> None:
        # Cut the connection without the response's last chunk, as a crashed server or a proxy timeout does;
        # a server without the abort extension can only end the response, so there a drop is a close.
        await self.writer.flush()
        self.sub.close("drop")
        self.sub.abort()

    async def _step_malformed(self, step: Step) -> None:
        await self.deliver(self._malformed(str(step.value)))

    async def _step_split(self, step: Step) -> None:
        gap = max(self._scaled(step.value.get("gap_ms", 20)), MIN_SPLIT_GAP_S)
        self._split = (int(step.value.get("parts", 2)), gap)

    async def _step_line_endings(self, step: Step) -> None:
        self._end = LINE_ENDINGS[step.value]

    async def _step_comment(self, step: Step) -> None:
        await self.deliver(f": {step.value}{self._wire_end}".encode())

    async def _step_retry(self, step: Step) -> None:
        await self.deliver(f"retry: {step.value}{self._wire_end}{self._wire_end}".encode())

    async def _step_raw(self, step: Step) -> None:
        await self.writer.write(str(step.value).encode("utf-8"))

    # writing

    def _attach(self) -> None:
        # The live parts of a stream (predictions, the heartbeat clock) start with its first event.
        self.hub.attach(self.sub, heartbeats=self.heartbeats)

    def _scaled(self, milliseconds: float) -> float:
        return float(milliseconds) * self.hub.time_scale / 1000.0

    async def deliver(self, frame: bytes) -> None:
        """Write one message with the current line ending, split if a split step asked for it."""
        if self._end != self._wire_end:
            frame = frame.replace(self._wire_end.encode(), self._end.encode())
        if self._split is None:
            await self.writer.write(frame)
            return
        parts, gap = self._split
        self._split = None
        size = -(-len(frame) // parts)
        chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
        for i, chunk in enumerate(chunks):
            if i:
                await self._idle(gap, deliver=False)
                if self.writer.client_gone:
                    return
            await self.writer.write(chunk)

    async def _idle(self, seconds: float | None, *, deliver: bool) -> None:
        """Let `seconds` pass (None: until the stream closes), writing stored predictions if `deliver`."""
        sub = self.sub
        deadline = None if seconds is None else time.monotonic() + seconds
        while not sub.closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            if deliver:
                await self.writer.flush()
                await sub.wait(remaining)
                await self.writer.flush()
            else:
                await sub.wait_closed(remaining)

    def _malformed(self, kind: str) -> bytes:
        end = self._wire_end
        heartbeat = self.hub.stream.heartbeat_event
        data = text(self.events.data(heartbeat, self.job_id))
        if kind == "invalid-json":
            return f"event: {heartbeat}{end}data: {data[: len(data) // 2]}{end}{end}".encode()
        if kind == "data-only":
            return f"data: {data}{end}{end}".encode()
        if kind == "event-only":
            return f"event: {heartbeat}{end}{end}".encode()
        if kind == "unknown-event":
            name = next(n for n in (f"unknown-{i}" for i in range(100)) if n not in self.hub.stream.events)
            return f"event: {name}{end}data: {data}{end}{end}".encode()
        if kind == "schema-violation":
            return f"event: {heartbeat}{end}data: {{}}{end}{end}".encode()
        if kind == "multiline-data":
            cut = len(data) // 2
            return f"event: {heartbeat}{end}data: {data[:cut]}{end}data: {data[cut:]}{end}{end}".encode()
        if kind == "no-space":
            return f"event:{heartbeat}{end}data:{data}{end}{end}".encode()
        raise ScenarioError(f"unknown malformed kind {kind!r}")
