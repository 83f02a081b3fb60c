"""The stream checked live: create a job, open its stream, upload predictions while it is open, compare with REST.

Also the failures before a stream opens (no credentials, unknown job, another user's job). The
operations, links, pointers and events involved are all read from the spec (`x-stream-contract`,
the links of the operation that creates jobs, the request examples); every read is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.credentials import Authenticator
from contracts.curl import curl
from contracts.pointers import MISSING, replaced, resolve, substituted
from contracts.progress import Progress
from contracts.results import Results, Violation
from contracts.stream_capture import StreamCapture, StreamSession, Upload
from contracts.stream_checks import STREAM_CHECKS, Skip, Timing, evaluate
from spec import Contract, Operation, StreamContract

LIVE_CHECKS = ("live_setup", "live_prediction_delivery", "live_event_matches_upload", "live_counter_rest")
PRE_STREAM_CHECKS = ("stream_rejects_no_credentials", "stream_unknown_job", "stream_foreign_job")
ALL_CHECKS = (*STREAM_CHECKS, *LIVE_CHECKS, *PRE_STREAM_CHECKS)
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
        self.findings: dict[str, list[Violation]] = {name: [] for name in LIVE_CHECKS}
        self.ran: set[str] = set()
        self.skips: dict[str, str] = {}

    def run(self) -> None:
        """Run every stream check once (blocking)."""
        self.progress.start(PART, total=None)
        asyncio.run(self._run())
        self.progress.finish(PART)

    async def _run(self) -> None:
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
        self._record_live()

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
        example_id = resolve(example_response, pointer)
        new_id = f"gate-{uuid.uuid4().hex[:12]}"
        body = substituted(
            _request_example(creator),
            {str(example_id): new_id},
        )
        url = self.base_url + creator.path
        response = await self._send(client, creator.method, url, headers, body)
        self.ran.add("live_setup")
        if response is None or not 200 <= response.status_code < 300:
            self._violation(
                "live_setup",
                f"{creator.operation_id} with its spec example answered {_status(response)}",
                curl(creator.method, url, headers, body, secret_headers=self.auth.secret_headers),
                _excerpt(response),
            )
            return self._given_job(f"{creator.operation_id} failed")
        created = response.json()
        self.auth.tokens.learn(created)
        job_id = resolve(created, pointer)
        if not isinstance(job_id, str):
            self._violation("live_setup", f"{creator.operation_id} response has no job id at {pointer}")
            return self._given_job(f"{creator.operation_id} named no job")
        values = {str(example_id): job_id}
        if isinstance(example_response, dict):
            for key, example_value in example_response.items():
                if isinstance(example_value, str) and isinstance(created.get(key), str):
                    values.setdefault(example_value, created[key])
        return _Job(job_id, values, created=True)

    def _given_job(self, reason: str) -> _Job | None:
        for name in LIVE_CHECKS:
            self.skips.setdefault(name, reason)
        if self.options.stream_job:
            return _Job(self.options.stream_job)
        for name in (*STREAM_CHECKS, *PRE_STREAM_CHECKS):
            self.results.skipped(self.operation.operation_id, name, f"{reason} and no --stream-job was given")
        self._record_live()
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
            self._judge_pre_stream(name, capture, declared, what)

    def _judge_pre_stream(self, name: str, capture: StreamCapture, declared: list[str], what: str) -> None:
        found = []
        if str(capture.status) not in declared:
            found.append(f"request {what} got HTTP {capture.status or capture.error}, not {' or '.join(declared)}")
        else:
            response = self.operation.responses[str(capture.status)]
            media = list(response.content) or [str(self.stream.rules.get("pre_stream_errors", {}).get("media_type"))]
            if capture.content_type not in media:
                found.append(
                    f"HTTP {capture.status} {what} is {capture.content_type or 'untyped'}, not {' or '.join(media)}"
                )
        for message in found:
            self._violation(name, message, capture.curl, capture.excerpt())
        if not found:
            self.results.passed(self.operation.operation_id, name)

    # --- the live stream -------------------------------------------------------------------------

    def _window(self) -> float:
        return self.options.window(self.stream)

    def _stream_url(self, job_id: str) -> tuple[str, dict[str, str]]:
        params = {p.name: job_id for p in self.operation.parameters_in("path")}
        path = self.operation.path
        for name, value in params.items():
            path = path.replace("{" + name + "}", value)
        return self.base_url + path, params

    async def _read(
        self, client: httpx.AsyncClient, job_id: str, headers: Mapping[str, str], *, max_events: int, seconds: float
    ) -> StreamCapture:
        session = self._session(client, job_id, headers, max_events=max_events, seconds=seconds)
        capture = await session.run()
        self._count()
        return capture

    def _session(
        self, client: httpx.AsyncClient, job_id: str, headers: Mapping[str, str], *, max_events: int, seconds: float
    ) -> StreamSession:
        url, params = self._stream_url(job_id)
        capture = StreamCapture(
            url=url,
            path_params=params,
            time_scale=self.options.timing.time_scale,
            curl=curl("GET", url, headers, secret_headers=self.auth.secret_headers, stream=True),
        )
        return StreamSession(client, capture, headers, max_events=max_events, max_seconds=seconds)

    async def _live(self, client: httpx.AsyncClient, job: _Job) -> StreamCapture:
        headers = self.auth.headers_for(self.operation) or {}
        window = self._window()
        uploads = self.options.uploads if job.created else ()
        budget = window + len(uploads) * self.options.delivery_bound + self.options.delivery_bound
        session = self._session(client, job.job_id, headers, max_events=self.options.max_events, seconds=budget)
        reader = asyncio.ensure_future(session.run())
        await session.wait_for(lambda frames: bool(frames), self.options.delivery_bound)
        ready = self.stream.rules.get("delivered_after")
        if uploads and ready:
            # Items stored before the server's subscription is active are lost by contract; wait for its sign.
            allowed = self.options.timing.heartbeat_allowed(self.stream)
            await session.wait_for(lambda frames: any(f.event == ready for f in frames), allowed)
        if uploads and session.capture.status and 200 <= session.capture.status < 300:
            session.capture.counter_baseline = await self._rest_count(client, job.job_id)
            for items in uploads:
                if not await self._upload(client, session, job, items):
                    break  # an upload that was refused or never streamed makes the later ones say nothing new
            await self._compare_rest(client, session.capture, job.job_id)
        else:
            reason = "no job was created" if not uploads else f"the stream did not open (HTTP {session.capture.status})"
            for name in LIVE_CHECKS:
                self.skips.setdefault(name, reason)
        session.stop_at(max(time.monotonic(), session.capture.opened_at + window))
        capture = await reader
        self._count()
        return capture

    async def _upload(self, client: httpx.AsyncClient, session: StreamSession, job: _Job, items: int) -> bool:
        """Upload `items` predictions and wait for their events; True when they all arrived."""
        trigger = self.stream.trigger
        operation = self.contract.operation(str(trigger["operation_id"]))
        event = str(trigger["event"])
        template = substituted(
            _request_example(operation),
            job.values,
        )
        pointer = str(trigger["items"])
        example_items = resolve(template, pointer)
        if not isinstance(example_items, list) or not example_items:
            self.skips.setdefault(
                "live_prediction_delivery", f"the example of {operation.operation_id} has no items at {pointer}"
            )
            return False
        sent_items = [dict(example_items[0]) for _ in range(items)]
        body = replaced(template, pointer, sent_items)
        headers = self.auth.headers_for(operation, job_values=[job.job_id]) or {}
        url = self.base_url + operation.path
        before = sum(1 for frame in session.capture.frames if frame.event == event)
        sent_at = time.monotonic()
        response = await self._send(client, operation.method, url, headers, body)
        command = curl(operation.method, url, headers, body, secret_headers=self.auth.secret_headers)
        upload = Upload(
            sent_at=sent_at,
            items=items,
            status=response.status_code if response else 0,
            answered_at=time.monotonic(),
            first_frame=before,
        )
        session.capture.uploads.append(upload)
        if response is None or not 200 <= response.status_code < 300:
            self._violation(
                "live_setup",
                f"{operation.operation_id} with the job's token answered {_status(response)}",
                command,
                _excerpt(response),
            )
            return False
        self.ran.add("live_prediction_delivery")
        arrived = await session.wait_for(
            lambda frames: sum(1 for f in frames if f.event == event) >= before + items, self.options.delivery_bound
        )
        delivered = [f for f in session.capture.frames if f.event == event][before : before + items]
        if not arrived:
            self._violation(
                "live_prediction_delivery",
                f"upload #{len(session.capture.uploads)} of {items} item(s) produced {len(delivered)} {event} event(s) "
                f"within {self.options.delivery_bound:g} s",
                command,
            )
        else:
            upload.delivered_at = delivered[-1].received_at
        self._match_items(sent_items, delivered, command)
        return arrived

    def _match_items(self, sent: list[dict[str, Any]], delivered: list[Any], command: str) -> None:
        pointer = str(self.stream.trigger.get("item_pointer", ""))
        if not delivered:
            self.skips.setdefault("live_event_matches_upload", f"no {self.stream.trigger['event']} event to compare")
        for item, frame in zip(sent, delivered, strict=False):
            self.ran.add("live_event_matches_upload")
            try:
                row = resolve(json.loads(frame.data), pointer)
            except ValueError:
                row = MISSING
            if not isinstance(row, dict):
                self._violation("live_event_matches_upload", f"{frame.event} has no stored row at {pointer}", command)
                continue
            wrong = [key for key, value in item.items() if row.get(key) != value]
            if wrong:
                shown = ", ".join(f"{key}={row.get(key)!r} (sent {item[key]!r})" for key in wrong[:3])
                self._violation(
                    "live_event_matches_upload", f"{frame.event} row differs from the upload: {shown}", command
                )

    async def _rest_count(self, client: httpx.AsyncClient, job_id: str) -> int | None:
        rest = self.stream.counter.get("rest") or {}
        operation = self.contract.operations.get(str(rest.get("operation_id")))
        if operation is None:
            return None
        headers = self.auth.headers_for(operation) or {}
        path = operation.path
        for parameter in operation.parameters_in("path"):
            path = path.replace("{" + parameter.name + "}", job_id)
        response = await self._send(client, operation.method, self.base_url + path, headers, None)
        if response is None or not 200 <= response.status_code < 300:
            return None
        try:
            value = resolve(response.json(), str(rest.get("pointer", "")))
        except ValueError:
            return None
        return value if isinstance(value, int) else None

    async def _compare_rest(self, client: httpx.AsyncClient, capture: StreamCapture, job_id: str) -> None:
        counter = self.stream.counter
        rest = counter.get("rest") or {}
        counted = [f for f in capture.frames if f.event == counter["event"]]
        if not counted:
            self.skips.setdefault("live_counter_rest", f"no {counter['event']} event arrived")
            return
        try:
            streamed = resolve(json.loads(counted[-1].data), str(counter["pointer"]))
        except ValueError:
            streamed = MISSING
        restful = await self._rest_count(client, job_id)
        self.ran.add("live_counter_rest")
        if restful is None:
            self._violation("live_counter_rest", f"{rest.get('operation_id')} gave no count at {rest.get('pointer')}")
        elif streamed != restful:
            self._violation(
                "live_counter_rest",
                f"REST {rest.get('operation_id')} {rest.get('pointer')} is {restful}, "
                f"the stream's last {counter['pointer']} is {streamed!r}",
            )

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

    def _violation(self, check: str, message: str, command: str | None = None, response: str | None = None) -> None:
        violation = Violation(self.operation.operation_id, check, message, command, response)
        if check in self.findings:
            self.findings[check].append(violation)
        else:
            self.results.failed(violation)

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

    def _record_live(self) -> None:
        operation = self.operation.operation_id
        for name in LIVE_CHECKS:
            for violation in self.findings[name]:
                self.results.failed(violation)
            if self.findings[name]:
                continue
            if name in self.ran:
                self.results.passed(operation, name)
            else:
                self.results.skipped(operation, name, self.skips.get(name, "the live check did not get that far"))
        self.findings = {name: [] for name in LIVE_CHECKS}


def _example(media: Any) -> Any:
    return getattr(media, "example", None) if media is not None else None


def _request_example(operation: Operation) -> Any:
    body = operation.request_body
    return _example(body.content.get("application/json")) if body is not None else None


def _status(response: httpx.Response | None) -> str:
    return f"HTTP {response.status_code}" if response is not None else "no response"


def _excerpt(response: httpx.Response | None, limit: int = 600) -> str | None:
    if response is None:
        return None
    text = response.text[:limit]
    return f"HTTP {response.status_code} ({response.headers.get('content-type', 'no Content-Type')})\n{text}"
