"""The stream checked live: create a job, open its stream, upload predictions while it is open, compare with REST.

Also the failures before a stream opens (no credentials, unknown job, another user's job, one stream more than a
design's `limit`). The operations, links, pointers and events involved are all read from the spec
(`x-stream-contract`, the links of the operation that creates jobs, the request examples); every read is bounded.
A design's rules change what is sent and expected: a `filter` opens the stream on the example item's value and
stores one item outside it first, a `batch` delivers several items per event, a `push` is compared with REST.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from contracts.checks import CHECKS, Kind, excerpt, names, of_kind
from contracts.credentials import Authenticator
from contracts.curl import curl
from contracts.progress import Progress
from contracts.results import Results, Violation
from contracts.session_checks import (
    Answer,
    Counted,
    Delivery,
    LimitTrial,
    LiveSession,
    Pushed,
    Refusal,
    Sent,
)
from contracts.sse_reader import Frame
from contracts.stream_capture import StreamCapture, StreamSession, Upload
from contracts.stream_checks import Skip, Timing, evaluate
from spec import Contract, Operation, StreamContract, pointers
from spec.pointers import MISSING, replaced, substituted

# The live cross-check's and the pre-stream checks' rules, in `contracts.session_checks`.
LIVE_CHECKS = names(Kind.LIVE)
PRE_STREAM_CHECKS = names(Kind.PRE_STREAM)
# How long a stream closed by the client may still count against a design's per-user limit.
RELEASE_S = 2.0
ALL_CHECKS = names(Kind.STREAM, Kind.LIVE, Kind.PRE_STREAM)
RESPONSE_BODY = "$response.body#"
PART = "stream"


@dataclass(frozen=True)
class StreamOptions:
    """Bounds and switches of the stream checks."""

    timing: Timing = field(default_factory=Timing)
    max_events: int = 200
    seconds: float | None = None
    delivery_bound: float = 5.0
    uploads: tuple[int, ...] = (1, 3, 1)
    live: bool = True
    stream_job: str | None = None
    request_timeout: float = 10.0
    # How long one read of the open stream may wait (Timing.read_timeout); at least the request timeout.
    read_timeout: float | None = None

    def window(self, stream: StreamContract) -> float:
        """How long the stream is read: the given bound, or long enough for two heartbeat gaps."""
        return self.seconds if self.seconds is not None else max(1.0, 2 * self.timing.heartbeat_allowed(stream))


@dataclass
class _Job:
    """The job whose stream is read and what creating it taught about the examples' values."""

    job_id: str
    values: dict[str, Any] = field(default_factory=dict)
    created: bool = False


class LiveCheck:
    """Runs the pre-stream checks, the stream rules and the live cross-check, recording into `Results`."""

    def __init__(
        self,
        contract: Contract,
        auth: Authenticator,
        base_url: str,
        options: StreamOptions,
        results: Results,
        progress: Progress,
    ) -> None:
        self.contract = contract
        self.stream = contract.stream
        self.operation = self.stream.operation
        self.auth = auth
        self.base_url = base_url.rstrip("/")
        self.options = options
        self.results = results
        self.progress = progress
        self.seen = LiveSession(self.stream, options.delivery_bound)

    def run(self) -> None:
        """Run every stream check once (blocking)."""
        self.progress.start(PART, total=None)
        asyncio.run(self._run())
        self.progress.finish(PART)

    async def _run(self) -> None:
        self.seen = LiveSession(self.stream, self.options.delivery_bound)
        read = max(self.options.request_timeout, self.options.read_timeout or 0.0)
        timeout = httpx.Timeout(self.options.request_timeout, read=read)
        async with httpx.AsyncClient(timeout=timeout) as client:
            self.progress.update(PART, "creating a job")
            job = await self._job(client)
            if job is None:
                return
            self.progress.update(PART, "pre-stream failures")
            await self._pre_stream(client, job.job_id)
            self.progress.update(PART, "reading the stream")
            capture = await self._live(client, job)
        self._record_stream(capture)
        self._record_live(self.seen)

    # --- the job ---------------------------------------------------------------------------------

    def _creator(self) -> tuple[Operation, str] | None:
        """The operation whose success links to the stream, and the pointer of the job id in its response."""
        for operation in self.contract.operations.values():
            for link in operation.success.links.values():
                if link.get("operationId") != self.operation.operation_id:
                    continue
                for expression in (link.get("parameters") or {}).values():
                    if isinstance(expression, str) and expression.startswith(RESPONSE_BODY):
                        return operation, expression.removeprefix(RESPONSE_BODY)
        return None

    async def _job(self, client: httpx.AsyncClient) -> _Job | None:
        if not self.options.live:
            return self._given_job("the live check is off (--no-live)")
        found = self._creator()
        if found is None:
            return self._given_job("no operation of the spec links to the stream")
        creator, pointer = found
        headers = self.auth.headers_for(creator)
        if headers is None:
            return self._given_job(f"no credential satisfies {creator.operation_id}")
        example_response = _example(creator.success.media())
        example_id = pointers.get(example_response, pointer)
        new_id = f"gate-{uuid.uuid4().hex[:12]}"
        body = substituted(
            _request_example(creator),
            {str(example_id): new_id},
        )
        url = self.base_url + creator.path
        response = await self._send(client, creator.method, url, headers, body)
        command = curl(creator.method, url, headers, body, secret_headers=self.auth.secret_headers)
        self.seen.created = _sent(creator, command, response)
        self.seen.job_pointer = pointer
        if not self.seen.created.ok:
            return self._given_job(f"{creator.operation_id} failed")
        assert response is not None
        created = response.json()
        self.auth.tokens.learn(created)
        job_id = pointers.get(created, pointer)
        if not isinstance(job_id, str):
            return self._given_job(f"{creator.operation_id} named no job")
        self.seen.job_named = True
        values = {str(example_id): job_id}
        if isinstance(example_response, dict):
            for key, example_value in example_response.items():
                if isinstance(example_value, str) and isinstance(created.get(key), str):
                    values.setdefault(example_value, created[key])
        return _Job(job_id, values, created=True)

    def _given_job(self, reason: str) -> _Job | None:
        for name in LIVE_CHECKS:
            self.seen.skips.setdefault(name, reason)
        if self.options.stream_job:
            return _Job(self.options.stream_job)
        for name in names(Kind.STREAM, Kind.PRE_STREAM):
            self.results.skipped(self.operation.operation_id, name, f"{reason} and no --stream-job was given")
        self._record_live(self.seen)
        return None

    # --- before the stream opens -----------------------------------------------------------------

    async def _pre_stream(self, client: httpx.AsyncClient, job_id: str) -> None:
        headers = self.auth.headers_for(self.operation) or {}
        unknown = f"gate-unknown-{uuid.uuid4().hex[:12]}"
        other = self.auth.credentials.other_api_key
        other_headers = self.auth.headers_for(self.operation, api_key=other) if other else None
        cases: list[tuple[str, str, dict[str, str] | None, tuple[str, ...], str]] = [
            ("stream_rejects_no_credentials", job_id, {}, ("401", "403"), "without credentials"),
            ("stream_unknown_job", unknown, headers, ("404",), "for an unknown job"),
            ("stream_foreign_job", job_id, other_headers, ("404",), "with another user's credentials"),
        ]
        for name, job, sent, statuses, what in cases:
            declared = [status for status in statuses if status in self.operation.responses]
            if sent is None:
                self.results.skipped(
                    self.operation.operation_id, name, "no credentials of another user (--other-api-key)"
                )
                continue
            if not declared:
                self.results.skipped(
                    self.operation.operation_id, name, f"the spec declares none of {', '.join(statuses)}"
                )
                continue
            capture = await self._read(client, job, sent, max_events=1, seconds=min(2.0, self._window()))
            refusal = Refusal(self.stream, what, tuple(declared), capture)
            self._judge(name, refusal, capture.curl, capture.excerpt())
        await self._user_limit(client, job_id, headers)

    async def _user_limit(self, client: httpx.AsyncClient, job_id: str, headers: Mapping[str, str]) -> None:
        """A design's `limit`: that many streams of one user open, one more, and one more after closing one."""
        name = "stream_user_limit"
        rule = self.stream.limit
        if rule is None:
            self.results.skipped(self.operation.operation_id, name, "the contract sets no per-user stream limit")
            return
        allowed, status = int(rule["streams"]), str(rule["status"])
        url, _ = self._stream_url(job_id)
        command = curl("GET", url, headers, secret_headers=self.auth.secret_headers, stream=True)
        held: list[httpx.Response] = []
        admitted: list[Answer] = []
        extra_answer = reopened_answer = None
        try:
            for _ in range(allowed):
                response = await self._open(client, url, headers)
                if response is not None:
                    held.append(response)
                admitted.append(_answer(response))
                if response is None or response.status_code != 200:
                    break
            else:
                extra = await self._open(client, url, headers)
                extra_answer = _answer(extra)
                if extra is not None:
                    await extra.aclose()
                await held.pop().aclose()
                reopened = await self._reopen(client, url, headers)
                reopened_answer = _answer(reopened)
                if reopened is not None:
                    held.append(reopened)
        finally:
            for response in held:
                await response.aclose()
        trial = LimitTrial(self.stream, allowed, status, tuple(admitted), extra_answer, reopened_answer)
        self._judge(name, trial, command)

    def _judge(self, name: str, seen: object, command: str | None = None, response: str | None = None) -> None:
        """Record what the registered check `name` finds in one observation of the stream before it opens."""
        found = CHECKS[name].function(seen)
        for message in found:
            self.results.failed(Violation(self.operation.operation_id, name, message, command, response))
        if not found:
            self.results.passed(self.operation.operation_id, name)

    async def _open(self, client: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> httpx.Response | None:
        """A stream request's response, its body left unread (the caller closes it)."""
        self._count()
        try:
            request = client.build_request("GET", url, headers=dict(headers))
            return await asyncio.wait_for(client.send(request, stream=True), self.options.request_timeout)
        except (httpx.HTTPError, TimeoutError):
            return None

    async def _reopen(self, client: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> httpx.Response | None:
        """Open a stream again until it is admitted or `RELEASE_S` passes (the server notices a close at once)."""
        deadline = time.monotonic() + RELEASE_S
        while True:
            response = await self._open(client, url, headers)
            if (response is not None and response.status_code == 200) or time.monotonic() >= deadline:
                return response
            if response is not None:
                await response.aclose()
            await asyncio.sleep(0.05)

    # --- the live stream -------------------------------------------------------------------------

    def _window(self) -> float:
        return self.options.window(self.stream)

    def _stream_url(self, job_id: str) -> tuple[str, dict[str, str]]:
        params = {p.name: job_id for p in self.operation.parameters_in("path")}
        return self.base_url + self.operation.path_for(**params), params

    async def _read(
        self, client: httpx.AsyncClient, job_id: str, headers: Mapping[str, str], *, max_events: int, seconds: float
    ) -> StreamCapture:
        session = self._session(client, job_id, headers, max_events=max_events, seconds=seconds)
        capture = await session.run()
        self._count()
        return capture

    def _session(
        self,
        client: httpx.AsyncClient,
        job_id: str,
        headers: Mapping[str, str],
        *,
        max_events: int,
        seconds: float,
        query: Mapping[str, Any] | None = None,
    ) -> StreamSession:
        url, params = self._stream_url(job_id)
        shown = f"{url}?{urlencode(query)}" if query else url
        capture = StreamCapture(
            url=url,
            path_params=params,
            time_scale=self.options.timing.time_scale,
            curl=curl("GET", shown, headers, secret_headers=self.auth.secret_headers, stream=True),
            query=dict(query or {}),
        )
        return StreamSession(client, capture, headers, max_events=max_events, max_seconds=seconds)

    async def _room(self, client: httpx.AsyncClient, job_id: str, headers: Mapping[str, str]) -> None:
        """Under a `limit` rule, wait (at most the request timeout) until this user may open one more stream.

        The fuzzer's stream requests, just before, may still count against the user's limit on the server.
        """
        if self.stream.limit is None:
            return
        url, _ = self._stream_url(job_id)
        deadline = time.monotonic() + self.options.request_timeout
        while True:
            response = await self._open(client, url, headers)
            if response is not None:
                await response.aclose()
            if (response is not None and response.status_code == 200) or time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.05)

    async def _live(self, client: httpx.AsyncClient, job: _Job) -> StreamCapture:
        headers = self.auth.headers_for(self.operation) or {}
        await self._room(client, job.job_id, headers)
        window = self._window()
        uploads = self.options.uploads if job.created else ()
        filtered = self._filter_query(job) if uploads else None
        budget = window + (len(uploads) + 1) * self.options.delivery_bound + self.options.delivery_bound
        session = self._session(
            client, job.job_id, headers, max_events=self.options.max_events, seconds=budget, query=filtered
        )
        reader = asyncio.ensure_future(session.run())
        await session.wait_for(lambda frames: bool(frames), self.options.delivery_bound)
        if uploads:
            # Nothing is stored yet: what the opening event pushes is what REST answers now.
            await self._compare_push(client, session.capture, job.job_id, opening=True)
        ready = self.stream.rules.get("delivered_after")
        if uploads and ready:
            # Items stored before the server's subscription is active are lost by contract; wait for its sign.
            allowed = self.options.timing.heartbeat_allowed(self.stream)
            await session.wait_for(lambda frames: any(f.event == ready for f in frames), allowed)
        if uploads and session.capture.status and 200 <= session.capture.status < 300:
            session.capture.counter_baseline = await self._rest_count(client, job.job_id)
            if filtered:
                # One item outside the filter first: events keep insertion order, so if the stream sent it,
                # it arrives before the next upload's.
                await self._upload(client, session, job, 1, excluded=True)
            for items in uploads:
                if not await self._upload(client, session, job, items):
                    break  # an upload that was refused or never streamed makes the later ones say nothing new
            await self._compare_rest(client, session.capture, job.job_id)
            await self._compare_push(client, session.capture, job.job_id, opening=False)
        else:
            reason = "no job was created" if not uploads else f"the stream did not open (HTTP {session.capture.status})"
            for name in LIVE_CHECKS:
                self.seen.skips.setdefault(name, reason)
        session.stop_at(max(time.monotonic(), session.capture.opened_at + window))
        capture = await reader
        self._count()
        return capture

    async def _upload(
        self, client: httpx.AsyncClient, session: StreamSession, job: _Job, items: int, *, excluded: bool = False
    ) -> bool:
        """Upload `items` predictions and wait for their events; True when they all arrived.

        `excluded` items carry a value outside the stream's `filter`: none may arrive, so none is awaited.
        """
        trigger = self.stream.trigger
        operation = self.contract.operation(str(trigger["operation_id"]))
        template = substituted(
            _request_example(operation),
            job.values,
        )
        pointer = str(trigger["items"])
        example_items = pointers.get(template, pointer)
        if not isinstance(example_items, list) or not example_items:
            self.seen.skips.setdefault(
                "live_prediction_delivery", f"the example of {operation.operation_id} has no items at {pointer}"
            )
            return False
        sent_items = [self._outside(example_items[0]) if excluded else dict(example_items[0]) for _ in range(items)]
        body = replaced(template, pointer, sent_items)
        headers = self.auth.headers_for(operation, job_values=[job.job_id]) or {}
        url = self.base_url + operation.path
        before = len(self._delivered(session.capture.frames))
        response = await self._send(client, operation.method, url, headers, body)
        command = curl(operation.method, url, headers, body, secret_headers=self.auth.secret_headers)
        session.capture.uploads.append(Upload(items=items, status=response.status_code if response else 0))
        number = len(session.capture.uploads)
        sent = _sent(operation, command, response)
        if not sent.ok or excluded:
            self.seen.uploads.append(Delivery(number, sent, tuple(sent_items), excluded=excluded))
            if sent.ok:
                session.capture.filtered_out += items
            return sent.ok
        arrived = await session.wait_for(
            lambda frames: len(self._delivered(frames)) >= before + items, self.options.delivery_bound
        )
        delivered = self._delivered(session.capture.frames)[before : before + items]
        self.seen.uploads.append(Delivery(number, sent, tuple(sent_items), tuple(delivered), arrived))
        if not delivered:
            self.seen.skips.setdefault("live_event_matches_upload", f"no {self.stream.trigger_event} event to compare")
        return arrived

    def _delivered(self, frames: list[Frame]) -> list[tuple[Frame, Any]]:
        """Each stored item the trigger events brought, with its event (a batch brings several)."""
        event = self.stream.trigger_event
        return [(frame, item) for frame in frames if frame.event == event for item in self._items(frame)]

    def _items(self, frame: Frame) -> list[Any]:
        try:
            decoded = json.loads(frame.data)
        except ValueError:
            return [MISSING]
        return self.stream.items_of(decoded) or [MISSING]

    def _filter_query(self, job: _Job) -> dict[str, Any] | None:
        """The stream's `filter` parameter set to the upload example's own value (None without a filter)."""
        rule = self.stream.filter
        item = self._example_item(job)
        if rule is None or item is None:
            return None
        value = pointers.get(item, str(rule["item_pointer"]))
        return None if value is MISSING else {str(rule["parameter"]): value}

    def _example_item(self, job: _Job) -> dict[str, Any] | None:
        trigger = self.stream.trigger
        template = substituted(_request_example(self.contract.operation(str(trigger["operation_id"]))), job.values)
        items = pointers.get(template, str(trigger["items"]))
        return dict(items[0]) if isinstance(items, list) and items and isinstance(items[0], dict) else None

    def _outside(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The item with a `filter` value other than the example's (a number one higher, else another string)."""
        rule = self.stream.filter
        assert rule is not None
        pointer = str(rule["item_pointer"])
        value = pointers.get(item, pointer)
        other = value + 1 if isinstance(value, int) and not isinstance(value, bool) else f"{value}-other"
        return dict(replaced(dict(item), pointer, other))

    async def _compare_push(
        self, client: httpx.AsyncClient, capture: StreamCapture, job_id: str, *, opening: bool
    ) -> None:
        """A design's `push`: what the event carries equals what its operation answers over REST at that moment."""
        name = "live_push_matches_rest"
        push = self.stream.push
        if push is None:
            self.seen.skips.setdefault(name, "the contract pushes nothing in the stream")
            return
        events = set(push["events"])
        if opening:
            frames = [f for f in capture.frames[:1] if f.event in events]
        else:
            frames = [f for f in capture.frames if f.event == self.stream.trigger_event and f.event in events][-1:]
        if not frames:
            self.seen.skips.setdefault(name, f"no {' or '.join(sorted(events))} event arrived to compare")
            return
        operation = self.contract.operation(str(push["operation_id"]))
        path = operation.path_for(**{p.name: job_id for p in operation.parameters_in("path")})
        response = await self._send(
            client, operation.method, self.base_url + path, self.auth.headers_for(operation) or {}, None
        )
        pushed: Any = MISSING
        try:
            pushed = pointers.get(json.loads(frames[0].data), str(push["pointer"]))
            answered = (
                response.json()
                if response is not None and response.status_code == operation.success_status
                else MISSING
            )
        except ValueError:
            answered = MISSING
        status = response.status_code if response is not None else None
        self.seen.pushes.append(Pushed(frames[0].event, operation.operation_id, pushed, answered, status))

    async def _rest_count(self, client: httpx.AsyncClient, job_id: str) -> int | None:
        rest = self.stream.counter.get("rest") or {}
        operation = self.contract.operations.get(str(rest.get("operation_id")))
        if operation is None:
            return None
        headers = self.auth.headers_for(operation) or {}
        path = operation.path_for(**{p.name: job_id for p in operation.parameters_in("path")})
        response = await self._send(client, operation.method, self.base_url + path, headers, None)
        if response is None or not 200 <= response.status_code < 300:
            return None
        try:
            value = pointers.get(response.json(), str(rest.get("pointer", "")))
        except ValueError:
            return None
        return value if isinstance(value, int) else None

    async def _compare_rest(self, client: httpx.AsyncClient, capture: StreamCapture, job_id: str) -> None:
        counter = self.stream.counter
        counted = [f for f in capture.frames if f.event == counter["event"]]
        if not counted:
            self.seen.skips.setdefault("live_counter_rest", f"no {counter['event']} event arrived")
            return
        try:
            streamed = pointers.get(json.loads(counted[-1].data), str(counter["pointer"]))
        except ValueError:
            streamed = MISSING
        self.seen.counted = Counted(streamed, await self._rest_count(client, job_id))

    # --- recording -------------------------------------------------------------------------------

    async def _send(
        self, client: httpx.AsyncClient, method: str, url: str, headers: Mapping[str, str], body: Any
    ) -> httpx.Response | None:
        self._count()
        try:
            # httpx bounds each read, not the whole answer; a body that never ends must not hold the gate.
            request = client.request(method, url, headers=dict(headers), json=body)
            return await asyncio.wait_for(request, 2 * self.options.request_timeout)
        except (httpx.HTTPError, TimeoutError):
            return None

    def _count(self) -> None:
        self.results.count_requests()
        self.progress.advance(PART)

    def _record_stream(self, capture: StreamCapture) -> None:
        operation = self.operation.operation_id
        for name, outcome in evaluate(capture, self.stream, self.options.timing):
            if isinstance(outcome, Skip):
                self.results.skipped(operation, name, str(outcome))
            elif outcome:
                for message in outcome:
                    self.results.failed(Violation(operation, name, message, capture.curl, capture.excerpt()))
            else:
                self.results.passed(operation, name)

    def _record_live(self, seen: LiveSession) -> None:
        operation = self.operation.operation_id
        for check in of_kind(Kind.LIVE):
            try:
                found = check.function(seen)
            except Skip as skip:
                self.results.skipped(operation, check.name, str(skip))
                continue
            for finding in found:
                self.results.failed(Violation(operation, check.name, *finding))
            if not found:
                self.results.passed(operation, check.name)


def _example(media: Any) -> Any:
    return getattr(media, "example", None) if media is not None else None


def _request_example(operation: Operation) -> Any:
    body = operation.request_body
    return _example(body.content.get("application/json")) if body is not None else None


def _excerpt(response: httpx.Response | None) -> str | None:
    if response is None:
        return None
    return excerpt(response.status_code, response.headers.get("content-type"), response.text)


def _sent(operation: Operation, command: str, response: httpx.Response | None) -> Sent:
    status = response.status_code if response is not None else None
    return Sent(operation.operation_id, command, status, _excerpt(response))


def _answer(response: httpx.Response | None) -> Answer:
    if response is None:
        return Answer(None)
    return Answer(response.status_code, response.headers.get("content-type", "").split(";")[0].strip().lower())
