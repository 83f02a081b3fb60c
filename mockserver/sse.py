"""The prediction stream: event framing, the hub that fans stored predictions out to open streams.

One `StreamHub` per app holds every open stream; one scheduler task drives all heartbeats and each
stream's writer is the ASGI response coroutine itself, so a stream costs a few small objects.
A design's rules (`x-stream-contract`: `push`, `batch`, `filter`, `limit`, `wire.content_coding`) are served
here, each in one place: the event data (`EventFactory`), the fan-out (`StreamHub.on_prediction`), the
admission (`StreamHub.admit`) and the writer (`StreamWriter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.counters import StreamCounters, event_name
from mockserver.protocol import ABORT_EXTENSION
from mockserver.samples import sample
from mockserver.wire import text
from spec import StreamContract, pointers

STOP_GRACE_S = 1.0  # how long a shutdown lets open streams write their last chunk
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip member, not a bare zlib stream

Projection = Callable[[str], Any]
"""What an operation would answer about one job (`get_prediction_trends`' body), for a `push` rule."""
TAIL = 8  # chunks each stream remembers for the inspector page


class StreamError(ValueError):
    """A stream request or configuration the mock cannot serve; the message says why."""


# --- event data and framing -------------------------------------------------------------------


class EventFactory:
    """Builds each event's data from its schema and frames messages per the contract's wire rules."""

    def __init__(self, stream: StreamContract, projections: Mapping[str, Projection] | None = None) -> None:
        self.stream = stream
        wire = stream.wire
        self.line_ending = str(wire.get("line_ending", "\n"))
        self.fields = tuple(wire.get("fields", ("event", "data")))
        self._schemas = {name: schema.raw for name, schema in stream.events.items()}
        # Without the operation's projection (a scenario being checked) pushed values stay schema samples.
        self._push: tuple[frozenset[str], str, Projection] | None = None
        push = stream.push
        projection = (projections or {}).get(str(push["operation_id"])) if push is not None else None
        if push is not None and projection is not None:
            self._push = (frozenset(push["events"]), str(push["pointer"]), projection)

    def pushed(self, name: str, job_id: str) -> dict[str, Any]:
        """The `push` rule's value for event `name` of job `job_id` (by its pointer), or nothing."""
        if self._push is None or name not in self._push[0]:
            return {}
        _, pointer, projection = self._push
        return {pointer: projection(job_id)}

    def data(self, name: str, job_id: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Data for event `name`: a schema sample with the subject, counter and trigger item filled in."""
        schema = self._schemas.get(name)
        if schema is None:
            raise StreamError(f"unknown event {name!r}; the spec declares: {', '.join(self._schemas)}")
        data = sample(schema)
        if not isinstance(data, dict):
            raise StreamError(f"event {name!r} data is not an object in the spec")
        for pointer, value in {**self.pushed(name, job_id), **(values or {})}.items():
            pointers.set(data, pointer, value)
        for subject in self.stream.subjects:
            if subject["event"] == name:
                # A batch names its job in every row (`/predictions/*/job_id`).
                for concrete, _ in pointers.expand(data, str(subject["pointer"])):
                    pointers.set(data, concrete, job_id)
        return data

    def prediction_data(self, job_id: str, row: Mapping[str, Any], total_count: int) -> dict[str, Any]:
        """Data of the trigger event for one stored row."""
        name = self.trigger_event
        item_pointer = str(self.stream.trigger.get("item_pointer", ""))
        values: dict[str, Any] = {str(self.stream.counter["pointer"]): total_count}
        if item_pointer:
            values[item_pointer] = dict(row)
        return self._ordered(name, {**self.pushed(name, job_id), **values})

    def batch_data(self, job_id: str, rows: Sequence[Mapping[str, Any]], total_count: int) -> dict[str, Any]:
        """Data of the trigger event of a `batch` design: the rows at its `items`, the count after the last."""
        batch = self.stream.batch
        assert batch is not None
        values: dict[str, Any] = {
            str(self.stream.counter["pointer"]): total_count,
            str(batch["items"]): [dict(row) for row in rows],
        }
        return self._ordered(self.trigger_event, {**self.pushed(self.trigger_event, job_id), **values})

    def _ordered(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        schema = self._schemas[name]
        data = sample(schema)
        for pointer, value in values.items():
            pointers.set(data, pointer, value)
        # Key order as the platform sends it: the schema's property order.
        order = list((schema.get("properties") or {}).keys())
        return {k: data[k] for k in sorted(data, key=lambda k: order.index(k) if k in order else len(order))}

    @property
    def trigger_event(self) -> str:
        """The event emitted for each stored item."""
        return str(self.stream.trigger["event"])

    def frame(self, name: str | None, data: Any, *, line_ending: str | None = None, **extra: Any) -> bytes:
        """One message: the contract's fields in order, each on one line, then a blank line."""
        end = self.line_ending if line_ending is None else line_ending
        values: dict[str, Any] = {"event": name, "data": data if isinstance(data, str) else text(data)}
        values.update({k: v for k, v in extra.items() if v is not None})
        order = [f for f in self.fields if f in values] + [f for f in values if f not in self.fields]
        lines = [f"{field}: {values[field]}" for field in order if values[field] is not None]
        return (end.join(lines) + end + end).encode("utf-8")

    def event(self, name: str, job_id: str, values: Mapping[str, Any] | None = None) -> bytes:
        """A framed event with generated data."""
        return self.frame(name, self.data(name, job_id, values))


# --- subscriptions and the hub ----------------------------------------------------------------


class Subscription:
    """One open stream: a bounded queue of chunks the response writes, and its close state.

    `aborter` (set by the writer when the server offers one) drops the connection of a consumer that will not
    take one. `client`, `opened`, `events` and `tail` (the last chunks written) are what the inspector page shows
    of it.
    """

    __slots__ = (
        "__weakref__",
        "_waiter",
        "aborter",
        "beating",
        "client",
        "closed",
        "counters",
        "events",
        "job_id",
        "limit",
        "match",
        "opened",
        "queue",
        "reason",
        "started",
        "tail",
    )

    def __init__(self, job_id: str, limit: int, match: Any = None) -> None:
        self.job_id = job_id
        self.match = match
        """The `filter` value this stream was opened with (None: every item)."""
        self.queue: deque[bytes] = deque()
        self.limit = limit
        self.closed = False
        self.beating = False
        self.reason = ""
        self.aborter: Callable[[], None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.client = ""
        self.opened = time.time()
        self.started = time.monotonic()
        self.events = 0
        self.tail: deque[bytes] = deque(maxlen=TAIL)
        self.counters: StreamCounters | None = None

    def wrote(self, chunk: bytes) -> None:
        """Count a chunk the writer handed to the connection: the tail, and an event if it starts one."""
        self.tail.append(chunk)
        name = event_name(chunk)
        if name is not None:
            self.events += 1
            if self.counters is not None:
                self.counters.sent(name)

    def abort(self) -> None:
        """Drop the connection now, without a last chunk (the writer stuck on it then returns)."""
        if self.aborter is not None:
            self.aborter()

    def push(self, chunk: bytes) -> bool:
        """Queue a chunk; False (and the stream closed) when the consumer is too far behind."""
        if self.closed:
            return False
        if len(self.queue) >= self.limit:
            self.queue.clear()
            self.close("slow")
            return False
        self.queue.append(chunk)
        self._wake()
        return True

    def close(self, reason: str) -> None:
        """Stop the stream; the writer ends the response (or stops at once if the client left)."""
        if not self.closed:
            self.closed = True
            self.reason = reason
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_closed(self, timeout: float | None = None) -> None:
        """Until the stream closes or `timeout` seconds pass; queued chunks do not end the wait."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(remaining):
                    await self._waiter
            except TimeoutError:
                return
            finally:
                self._waiter = None

    async def wait(self, timeout: float | None = None) -> None:
        """Until a chunk is queued, the stream closes, or `timeout` seconds pass."""
        if self.queue or self.closed:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            if timeout is None:
                await self._waiter
            else:
                async with asyncio.timeout(timeout):
                    await self._waiter
        except TimeoutError:
            pass
        finally:
            self._waiter = None


class StreamHub:
    """Every open stream of one mock: per-job fan-out of stored predictions and the heartbeat clock."""

    def __init__(
        self,
        stream: StreamContract,
        time_scale: float,
        queue_size: int,
        projections: Mapping[str, Projection] | None = None,
    ) -> None:
        if queue_size < 1:
            raise StreamError(f"stream queue size must be >= 1, got {queue_size}")
        push = stream.push
        if push is not None and str(push["operation_id"]) not in (projections or {}):
            raise StreamError(f"the design pushes {push['operation_id']}'s answer, which the mock cannot compute")
        self.stream = stream
        self.events = EventFactory(stream, projections)
        self.time_scale = time_scale
        self.queue_size = queue_size
        self.heartbeat_s = stream.heartbeat_interval_ms * time_scale / 1000.0
        self._jobs: dict[str, dict[Subscription, None]] = {}
        self._streams: set[Subscription] = set()
        self._beats: list[tuple[float, int, Subscription]] = []
        self._seq = itertools.count()
        self._open = 0
        self._dropped_slow = 0
        self._kick: asyncio.Event | None = None
        self._clock: asyncio.Task[None] | None = None
        batch = stream.batch
        self.batch_s = int(batch["window_ms"]) * time_scale / 1000.0 if batch is not None else None
        self._pending: dict[str, list[tuple[Mapping[str, Any], int]]] = {}
        self._flushes: dict[str, asyncio.TimerHandle] = {}
        self._flushed_at: dict[str, float] = {}
        found = stream.filter
        self._filter_pointer = str(found["item_pointer"]) if found is not None else None
        self.user_limit = int(stream.limit["streams"]) if stream.limit is not None else None
        self._users: dict[str, int] = {}
        self.counters = StreamCounters()
        self.stopping = False

    # lifecycle

    async def start(self) -> None:
        """Start the heartbeat scheduler (one task for all streams)."""
        self.stopping = False
        if self._clock is None:
            self._kick = asyncio.Event()
            self._clock = asyncio.create_task(self._heartbeats(), name="ftl-mock heartbeats")

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Close every stream and stop the scheduler.

        Each stream ends with its last chunk; one whose consumer has stopped reading cannot take it, so after
        `grace_s` seconds the connections still open are aborted (a shutdown never waits on a stuck client).
        """
        self.stopping = True
        for sub in list(self._streams):
            sub.close("shutdown")
        deadline = time.monotonic() + grace_s
        while self._streams and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for sub in list(self._streams):
            sub.abort()
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None

    # counters

    @property
    def open_streams(self) -> int:
        """Streams currently open (live and scripted)."""
        return self._open

    @property
    def dropped_slow(self) -> int:
        """Streams closed because their consumer fell more than `queue_size` messages behind."""
        return self._dropped_slow

    def streams(self) -> list[Subscription]:
        """The open streams, oldest first."""
        return sorted(self._streams, key=lambda sub: sub.started)

    def subscribers(self, job_id: str) -> int:
        """Open streams of one job that receive its predictions."""
        return len(self._jobs.get(job_id, ()))

    # subscriptions

    def subscribe(
        self,
        job_id: str,
        *,
        predictions: bool = True,
        heartbeats: bool = True,
        match: Any = None,
        client: str = "",
    ) -> Subscription:
        """Open a stream for `job_id` (to the `client` address; of only the items whose `filter` value is `match`,
        if given); release it with `unsubscribe`."""
        sub = Subscription(job_id, self.queue_size, match)
        sub.client = client
        sub.counters = self.counters
        self.counters.connected(job_id, _host(client))
        self._streams.add(sub)
        self._open += 1
        self.attach(sub, predictions=predictions, heartbeats=heartbeats)
        return sub

    def attach(self, sub: Subscription, *, predictions: bool = True, heartbeats: bool = False) -> None:
        """Start the job's predictions and/or the heartbeat clock on a stream opened without them."""
        if sub.closed:
            return
        if predictions:
            self._jobs.setdefault(sub.job_id, {})[sub] = None
        if heartbeats and not sub.beating:
            sub.beating = True
            self._schedule(sub, time.monotonic() + self.heartbeat_s)

    def unsubscribe(self, sub: Subscription) -> None:
        """Release a stream at once: no more fan-out to it; its heartbeat entry is dropped lazily."""
        sub.close(sub.reason or "released")
        subs = self._jobs.get(sub.job_id)
        if subs is not None and sub in subs:
            del subs[sub]
            if not subs:
                del self._jobs[sub.job_id]
                self._forget_batch(sub.job_id)
        self._open -= 1
        self._streams.discard(sub)
        sub.queue.clear()
        self.counters.closed(sub.job_id, _host(sub.client), time.monotonic() - sub.started)

    def on_prediction(self, job_id: str, row: dict[str, Any], total_count: int) -> None:
        """Store listener: frame the event once and queue it on every open stream of the job.

        In a `batch` design the row waits for the job's next flush instead (see `_hold`).
        """
        subs = self._jobs.get(job_id)
        if not subs:
            return
        if self.batch_s is not None and self._hold(job_id, row, total_count):
            return
        self._fan_out(job_id, [(row, total_count)])

    def _fan_out(self, job_id: str, items: Sequence[tuple[Mapping[str, Any], int]]) -> None:
        """Queue the items' event on every open stream of the job: framed once per `filter` value asked for."""
        subs = self._jobs.get(job_id)
        if not subs:
            return
        frames: dict[Any, bytes | None] = {}
        for sub in list(subs):
            if sub.match not in frames:
                frames[sub.match] = self._frame_items(job_id, items, sub.match)
            frame = frames[sub.match]
            if frame is not None:
                self._deliver(sub, frame)

    def _frame_items(self, job_id: str, items: Sequence[tuple[Mapping[str, Any], int]], match: Any) -> bytes | None:
        """The trigger event of the items a stream filtering on `match` receives (None: none of them)."""
        if match is not None and self._filter_pointer is not None:
            items = [item for item in items if pointers.get(item[0], self._filter_pointer, None) == match]
        if not items:
            return None
        name = self.events.trigger_event
        if self.batch_s is not None:
            return self.events.frame(name, self.events.batch_data(job_id, [row for row, _ in items], items[-1][1]))
        ((row, total_count),) = items
        return self.events.frame(name, self.events.prediction_data(job_id, row, total_count))

    # batches: at most one trigger event per job and window

    def _hold(self, job_id: str, row: Mapping[str, Any], total_count: int) -> bool:
        """Keep the row for the job's next flush: at once after a quiet window, else at the window's end.

        The flush runs on the event loop after the current request, so the rows of one upload go out together.
        False (deliver now) when no event loop runs, as in a plain function call.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._pending.setdefault(job_id, []).append((row, total_count))
        if job_id not in self._flushes:
            due = max(loop.time(), self._flushed_at.get(job_id, -math.inf) + (self.batch_s or 0.0))
            self._flushes[job_id] = loop.call_at(due, self._flush, job_id)
        return True

    def _flush(self, job_id: str) -> None:
        self._flushes.pop(job_id, None)
        items = self._pending.pop(job_id, [])
        self._flushed_at[job_id] = asyncio.get_running_loop().time()
        if items:
            self._fan_out(job_id, items)

    def _forget_batch(self, job_id: str) -> None:
        """A job without open streams keeps no batch: rows stored meanwhile are never delivered (ref §3.1)."""
        handle = self._flushes.pop(job_id, None)
        if handle is not None:
            handle.cancel()
        self._pending.pop(job_id, None)
        self._flushed_at.pop(job_id, None)

    # the per-user limit

    def admit(self, user_id: str) -> bool:
        """Count one more open stream of `user_id`; False (nothing counted) when the `limit` rule refuses it."""
        held = self._users.get(user_id, 0)
        if self.user_limit is not None and held >= self.user_limit:
            return False
        self._users[user_id] = held + 1
        return True

    def release(self, user_id: str) -> None:
        """One stream of `user_id` admitted by `admit` has closed."""
        held = self._users.get(user_id, 0) - 1
        if held > 0:
            self._users[user_id] = held
        else:
            self._users.pop(user_id, None)

    def _deliver(self, sub: Subscription, frame: bytes) -> None:
        if not sub.push(frame) and sub.reason == "slow" and sub in self._streams:
            self._dropped_slow += 1
            self._streams.discard(sub)
            subs = self._jobs.get(sub.job_id)
            if subs is not None:
                subs.pop(sub, None)
            # Its writer is stuck on a client that takes nothing: close the connection now, not when it reads.
            sub.abort()

    def frames(self, job_id: str) -> Iterator[bytes]:
        """The opening message of a live stream."""
        yield self.events.event(self.stream.first_event, job_id)

    # heartbeats

    def _schedule(self, sub: Subscription, due: float) -> None:
        was_empty = not self._beats or due < self._beats[0][0]
        heapq.heappush(self._beats, (due, next(self._seq), sub))
        if was_empty and self._kick is not None:
            self._kick.set()

    async def _heartbeats(self) -> None:
        assert self._kick is not None
        name = self.stream.heartbeat_event
        while True:
            if not self._beats:
                self._kick.clear()
                await self._kick.wait()
                continue
            delay = self._beats[0][0] - time.monotonic()
            if delay > 0:
                self._kick.clear()
                try:
                    async with asyncio.timeout(delay):
                        await self._kick.wait()
                except TimeoutError:
                    pass
                continue
            # One timestamp per tick: every stream of a job due in this tick gets the same bytes.
            frames: dict[str, bytes] = {}
            now = time.monotonic()
            while self._beats and self._beats[0][0] <= now:
                due, _, sub = heapq.heappop(self._beats)
                if sub.closed:
                    continue
                frame = frames.get(sub.job_id)
                if frame is None:
                    frame = frames[sub.job_id] = self.events.event(name, sub.job_id)
                self._deliver(sub, frame)
                if sub.closed:
                    continue
                heapq.heappush(self._beats, (max(due + self.heartbeat_s, now), next(self._seq), sub))
            await asyncio.sleep(0)


def _host(client: str) -> str:
    # A reconnection comes from a new port of the same host.
    return client.rpartition(":")[0] or client


# --- the response -----------------------------------------------------------------------------


def stream_headers(stream: StreamContract) -> list[tuple[bytes, bytes]]:
    """The success response's headers whose values the spec fixes (`const`, or the example of a required one)."""
    headers = []
    for name, header in stream.operation.success.headers.items():
        schema = header.get("schema") or {}
        value = schema.get("const", header.get("example") if header.get("required") else None)
        if value is not None:
            headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    return headers


def peer(scope: Scope) -> str:
    """The client's address of a request (`127.0.0.1:51234`), or empty when the server gives none."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else ""


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class StreamWriter:
    """Writes one stream's chunks, one `send` each, and notices the client leaving.

    Under `ftl-mock`'s server the scope offers `ftl.abort`, which drops the connection of a consumer that stopped
    reading; without it (another server, an in-process test) such a stream ends when its client next reads.
    """

    def __init__(
        self, sub: Subscription, send: Send, receive: Receive, scope: Scope | None = None, *, coding: str | None = None
    ) -> None:
        self.sub = sub
        self._send = send
        self._receive = receive
        sub.aborter = (scope or {}).get("extensions", {}).get(ABORT_EXTENSION)
        self._watch: asyncio.Future[None] | None = None
        self.deliver: Callable[[bytes], Awaitable[None]] = self.write
        # `wire.content_coding: gzip`: one gzip member over the whole stream, flushed after every message.
        self._gzip = zlib.compressobj(wbits=GZIP_WBITS) if coding == "gzip" else None

    async def start(self, headers: list[tuple[bytes, bytes]], status: int = 200) -> None:
        """Send the response head and start watching for the client to go away."""
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        self._watch = asyncio.ensure_future(_until_disconnect(self._receive))
        self._watch.add_done_callback(self._left)

    def _left(self, _: asyncio.Future[None]) -> None:
        self.sub.close("client")

    @property
    def client_gone(self) -> bool:
        """True once the client has disconnected."""
        return self._watch is not None and self._watch.done()

    async def flush(self) -> None:
        """Send every queued chunk, one send per chunk; close the stream if the client has left."""
        queue = self.sub.queue
        while queue:
            if self.client_gone:
                # Close now rather than in the watcher's done callback: until that runs, a writer that
                # found chunks queued would loop without ever yielding to the event loop.
                self.sub.close("client")
                return
            await self.deliver(queue.popleft())

    async def write(self, chunk: bytes) -> None:
        """Send one chunk now (waiting while the client's connection is full)."""
        body = chunk if self._gzip is None else self._gzip.compress(chunk) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        await self._send({"type": "http.response.body", "body": body, "more_body": True})
        self.sub.wrote(chunk)  # what was sent, before the coding: the tail and the event counters read it

    async def run(self) -> None:
        """Write queued chunks until the stream closes."""
        while not self.sub.closed:
            await self.flush()
            await self.sub.wait()
        if self.sub.reason != "client":
            await self.flush()

    async def finish(self) -> None:
        """End the response (if the client is still there) and stop watching."""
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
            last = self._gzip.flush() if self._gzip is not None else b""
            with contextlib.suppress(OSError):
                await self._send({"type": "http.response.body", "body": last, "more_body": False})


class EventStream(Response):
    """A stream as a Starlette response: status and headers known up front, the body written by `__call__`."""

    def __init__(self, hub: StreamHub, job_id: str, status: int = 200) -> None:
        self.hub = hub
        self.job_id = job_id
        self.status_code = status
        self.background = None
        self.body = b""
        self.raw_headers = stream_headers(hub.stream)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class LiveStream(EventStream):
    """A live stream: `connected`, then heartbeats and the job's stored predictions until the client leaves.

    `match` is the `filter` value the request asked for; `user_id` the caller admitted by `StreamHub.admit`, released
    when the stream ends.
    """

    def __init__(
        self, hub: StreamHub, job_id: str, status: int = 200, *, match: Any = None, user_id: str | None = None
    ) -> None:
        super().__init__(hub, job_id, status)
        self.match = match
        self.user_id = user_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.hub
        coding = content_coding(hub.stream, scope)
        headers = [*self.raw_headers, (b"content-encoding", coding.encode())] if coding else self.raw_headers
        sub = hub.subscribe(self.job_id, match=self.match, client=peer(scope))
        writer = StreamWriter(sub, send, receive, scope, coding=coding)
        try:
            sub.queue.extend(hub.frames(self.job_id))
            await writer.start(headers)
            await writer.run()
        finally:
            hub.unsubscribe(sub)
            if self.user_id is not None:
                hub.release(self.user_id)
            await writer.finish()


def content_coding(stream: StreamContract, scope: Scope) -> str | None:
    """The contract's `wire.content_coding` when the request's `Accept-Encoding` accepts it, else None."""
    coding = stream.content_coding
    if coding is None:
        return None
    for name, value in scope.get("headers", ()):
        if name == b"accept-encoding" and accepts(value.decode("latin-1"), coding):
            return coding
    return None


def accepts(accept_encoding: str, coding: str) -> bool:
    """True when an `Accept-Encoding` value accepts `coding` (by name or `*`, with a q-value above 0)."""
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() not in (coding, "*"):
            continue
        q = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False
