"""Deliberately broken servers for the gate's self-test: the real mock app behind an ASGI middleware with one defect.

Each `Defect` names the operations it breaks, how (a request rewrite, a short-circuit, a response or a
stream-message rewrite) and the gate check that must catch it. `DefectServer` serves the wrapped app
under uvicorn on a free loopback port. Names, statuses and events come from the spec.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from conftest import ALICE_KEY
from servers import ProcessServer

import spec
from contracts.ownership import CROSS_USER_ACCESS
from mockserver.app import create_app
from mockserver.settings import Settings
from mockserver.state import MockState
from spec import Contract, Operation, pointers

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]
CONTRACT = spec.load()
STREAM = CONTRACT.stream
JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Defect:
    """One way of breaking the contract on some operations, and the check that must report it."""

    name: str
    operations: tuple[str, ...]
    check: str
    request: Callable[[Scope, Operation], Scope | Reply] | None = None
    response: Callable[[Operation, int, list[tuple[bytes, bytes]], bytes], Reply] | None = None
    event: Callable[[str, Any], list[tuple[str, Any]]] | None = None
    # Acts on the mock's own store before the mock sees the request (the owner checks a platform lacks).
    owner: Callable[[Seen, MockState], Reply | None] | None = None
    # The known divergences that describe this very defect on the platform (the self-test leaves them out).
    reproduces: tuple[str, ...] = ()
    # Defects of one group run together in the full-run test (each on its own operations or events).
    group: int = 1


@dataclass(frozen=True)
class Seen:
    """A request as an `owner` defect sees it: its operation, path parameters, headers and JSON body."""

    operation: Operation
    params: dict[str, str]
    headers: dict[str, str]
    body: Any

    def caller(self, state: MockState) -> str | None:
        """The user the request's credentials name (a key or a session)."""
        accounts = state.store.accounts
        key = self.headers.get("x-api-key")
        bearer = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
        found = accounts.api_key(key or bearer) if key or bearer.startswith("wak_") else None
        return found.user_id if found is not None else accounts.session_user(bearer)


# --- request rewrites ------------------------------------------------------------------------


def _without_query(name: str) -> Callable[[Scope, Operation], Scope]:
    def rewrite(scope: Scope, operation: Operation) -> Scope:
        pairs = [(k, v) for k, v in parse_qsl(scope["query_string"].decode(), keep_blank_values=True) if k != name]
        return {**scope, "query_string": urlencode(pairs).encode()}

    return rewrite


def _with_demo_key(scope: Scope, operation: Operation) -> Scope:
    """Let a request without credentials through as if it carried the demo key."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"authorization", b"x-api-key")]
    has_auth = len(headers) != len(scope["headers"])
    if has_auth:
        return scope
    return {**scope, "headers": [*headers, (b"x-api-key", ALICE_KEY.encode())]}


def _read_instead(scope: Scope, operation: Operation) -> Scope:
    """Serve a delete as a read of the same path: authenticated and 404-aware, but nothing is deleted."""
    return {**scope, "method": "GET"}


def _success_example(operation: Operation, status: int, headers: list, body: bytes) -> Reply:
    if status != operation.success_status:
        return status, headers, body
    media = operation.success.media()
    return status, JSON_HEADERS, json.dumps(media.example if media else {}).encode()


# --- response rewrites -----------------------------------------------------------------------


def _undeclared_success(operation: Operation, status: int, headers: list, body: bytes) -> Reply:
    if status != operation.success_status:
        return status, headers, body
    other = next(code for code in (201, 202, 203, 200) if str(code) not in operation.responses)
    return other, headers, body


def _required_fields(operation: Operation) -> list[str]:
    media = operation.success.media()
    raw = media.schema.raw if media is not None and media.schema is not None else {}
    return list(raw.get("required", ())) if isinstance(raw, dict) else []


def _edit_json(edit: Callable[[dict[str, Any], list[str]], None]) -> Callable[..., Reply]:
    def rewrite(operation: Operation, status: int, headers: list, body: bytes) -> Reply:
        if status != operation.success_status:
            return status, headers, body
        document = json.loads(body)
        edit(document, _required_fields(operation))
        return status, headers, json.dumps(document).encode()

    return rewrite


def _drop_first_required(document: dict[str, Any], required: list[str]) -> None:
    document.pop(required[0], None)


def _retype_first_required(document: dict[str, Any], required: list[str]) -> None:
    value = document.get(required[0])
    document[required[0]] = str(value) if not isinstance(value, str) else 12345


def _content_type(media_type: bytes) -> Callable[..., Reply]:
    def rewrite(operation: Operation, status: int, headers: list, body: bytes) -> Reply:
        kept = [(k, v) for k, v in headers if k.lower() != b"content-type"]
        return status, [*kept, (b"content-type", media_type)], body

    return rewrite


def _bad_input_as(status: int, success_body: bool) -> Callable[..., Reply]:
    def rewrite(operation: Operation, got: int, headers: list, body: bytes) -> Reply:
        if got != operation.bad_input_status:
            return got, headers, body
        if success_body:
            media = operation.success.media()
            return status, JSON_HEADERS, json.dumps(media.example if media else {}).encode()
        return status, JSON_HEADERS, b'{"error":"Internal server error","details":"boom"}'

    return rewrite


# --- stream message rewrites -----------------------------------------------------------------


def _drop(name: str) -> Callable[[str, Any], list[tuple[str, Any]]]:
    return lambda event, data: [] if event == name else [(event, data)]


def _rename(name: str, new: str) -> Callable[[str, Any], list[tuple[str, Any]]]:
    return lambda event, data: [(new if event == name else event, data)]


def _set_at(event_name: str, pointer: str, value: Any) -> Callable[[str, Any], list[tuple[str, Any]]]:
    def rewrite(event: str, data: Any) -> list[tuple[str, Any]]:
        if event == event_name and isinstance(data, dict):
            pointers.set(data, pointer, value)
        return [(event, data)]

    return rewrite


def _subject_pointer(event: str) -> str:
    return next(str(rule["pointer"]) for rule in STREAM.subjects if rule["event"] == event)


STREAM_OP = (STREAM.operation.operation_id,)
OWNERSHIP = CROSS_USER_ACCESS
COUNTED = str(STREAM.counter["event"])


def _server_error(scope: Scope, operation: Operation) -> Reply:
    return 500, JSON_HEADERS, b'{"error":"Internal server error"}'


# --- missing owner checks (the platform's holes, §1.5) -------------------------------------------


def _upsert_takes_over(seen: Seen, state: MockState) -> Reply | None:
    """The job upsert finds a job across all users and hands it to the caller (§4.4)."""
    job_id = seen.body.get("job_id") if isinstance(seen.body, dict) else None
    job = state.store.jobs.get(job_id) if isinstance(job_id, str) else None
    caller = seen.caller(state)
    if job is not None and caller is not None and job.get("user_id") != caller:
        state.store.jobs.put({**job, "user_id": caller})
    return None


def _items_under_their_own_job(seen: Seen, state: MockState) -> Reply | None:
    """A job token opens the envelope's job; each item is stored under its own `job_id` (§2.5)."""
    body = seen.body if isinstance(seen.body, dict) else {}
    job = state.store.jobs.get(str(body.get("job_id")))
    items = body.get("predictions")
    token = seen.headers.get("authorization", "").removeprefix("Bearer ")
    if job is None or job.get("job_token") != token or not isinstance(items, list):
        return None
    media = seen.operation.request_body.content["application/json"] if seen.operation.request_body else None
    if media is None or media.schema is None or not media.schema.is_valid(body):
        return None  # the mock's validation answers it
    if not all(state.store.jobs.get(item["job_id"]) for item in items):
        return None
    if all(item["job_id"] == job["id"] for item in items):
        return None
    stored = state.store.predictions.insert(items)
    return 200, JSON_HEADERS, json.dumps({"success": True, "count": len(stored)}).encode()


def _delete_any_owner(seen: Seen, state: MockState) -> Reply | None:
    """A delete that looks the configuration up by id alone, whoever owns it."""
    config = state.store.configs.get(seen.params.get("id", ""))
    caller = seen.caller(state)
    if config is not None and caller is not None:
        state.store.configs.put({**config, "user_id": caller})
    return None


# HTTP defects break operations on a job (so only provisioning reaches their success answers), one
# operation each; `group` says which defects can share one server without hiding each other, so that
# the default full run is proven on every defect with a handful of runs.
DEFECTS: tuple[Defect, ...] = (
    Defect("success_status_changed", ("get_predictions",), "status_code_conformance", response=_undeclared_success),
    Defect(
        "required_field_removed",
        ("get_prediction_epochs",),
        "response_schema_conformance",
        response=_edit_json(_drop_first_required),
    ),
    Defect(
        "field_type_changed",
        ("get_metrics",),
        "response_schema_conformance",
        response=_edit_json(_retype_first_required),
    ),
    Defect("wrong_content_type", ("get_job_status",), "content_type_conformance", response=_content_type(b"text/html")),
    Defect("accepts_no_credentials", ("get_prediction_trends",), "ignored_auth", request=_with_demo_key),
    Defect("invalid_input_500", ("list_local_jobs",), "not_a_server_error", response=_bad_input_as(500, False)),
    Defect("invalid_input_200", ("get_logs",), "negative_data_rejection", response=_bad_input_as(200, True)),
    Defect("limit_ignored", ("list_local_metrics",), "pagination_limit", request=_without_query("limit")),
    Defect(
        "delete_does_not_delete",
        ("delete_dataset",),
        "use_after_free",
        request=_read_instead,
        response=_success_example,
    ),
    Defect("server_error_everywhere", ("get_predictions",), "not_a_server_error", request=_server_error, group=2),
    Defect("stream_without_connected", STREAM_OP, "stream_first_event", event=_drop(STREAM.first_event)),
    Defect("heartbeats_stopped", STREAM_OP, "stream_heartbeat", event=_drop(STREAM.heartbeat_event), group=2),
    Defect(
        "renamed_event",
        STREAM_OP,
        "stream_event_declared",
        event=_rename(STREAM.first_event, STREAM.first_event + "_v2"),
        group=2,
    ),
    Defect(
        "total_count_not_rising", STREAM_OP, "stream_counter", event=_set_at(COUNTED, str(STREAM.counter["pointer"]), 1)
    ),
    Defect(
        "job_id_of_another_job",
        STREAM_OP,
        "stream_subject",
        event=_set_at(COUNTED, _subject_pointer(COUNTED), "job_someone_else"),
    ),
    Defect("prediction_never_streamed", STREAM_OP, "live_prediction_delivery", event=_drop(COUNTED), group=2),
    Defect("stream_as_text_plain", STREAM_OP, "stream_content_type", response=_content_type(b"text/plain")),
    # Ownership defects (the checks the platform lacks): each on its own operation, so they share group 2.
    Defect(
        "takeover_by_upsert",
        ("create_job",),
        OWNERSHIP,
        owner=_upsert_takes_over,
        reproduces=("job-upsert-takes-over",),
        group=2,
    ),
    Defect(
        "cross_job_write",
        ("create_predictions",),
        OWNERSHIP,
        owner=_items_under_their_own_job,
        reproduces=("predictions-item-other-job",),
        group=2,
    ),
    Defect("delete_without_owner_check", ("delete_config",), OWNERSHIP, owner=_delete_any_owner, group=2),
)
BY_NAME = {defect.name: defect for defect in DEFECTS}


# --- the middleware --------------------------------------------------------------------------


class DefectMiddleware:
    """Wraps an ASGI app and applies each defect to the operations it names (everything else passes).

    Several defects may run at once when they touch different operations, or different events of the
    stream (their event rewrites are chained).
    """

    def __init__(self, app: Any, defects: Defect | Iterable[Defect] | None, contract: Contract = CONTRACT) -> None:
        self.app = app
        self.defects = (defects,) if isinstance(defects, Defect) else tuple(defects or ())
        self.contract = contract

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.contract.match(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        chosen = [d for d in self.defects if found is not None and found[0].operation_id in d.operations]
        if found is None or not chosen:
            await self.app(scope, receive, send)
            return
        events = [d.event for d in chosen if d.event is not None]
        defect = Defect(
            "+".join(d.name for d in chosen),
            (found[0].operation_id,),
            "",
            request=next((d.request for d in chosen if d.request is not None), None),
            response=next((d.response for d in chosen if d.response is not None), None),
            event=_chained(events) if events else None,
            owner=next((d.owner for d in chosen if d.owner is not None), None),
        )
        operation = found[0]
        if defect.owner is not None:
            raw, receive = await _buffered(receive)
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            reply = defect.owner(Seen(operation, dict(found[1]), headers, body), self.app.state)
            if reply is not None:
                await _reply(send, *reply)
                return
        if defect.request is not None:
            rewritten = defect.request(scope, operation)
            if isinstance(rewritten, tuple):
                await _reply(send, *rewritten)
                return
            scope = rewritten
        # The app calls the last wrapper first: events are rewritten before the response start is.
        if defect.response is not None:
            send = _buffered_rewriter(send, operation, defect.response)
        if defect.event is not None:
            send = _stream_rewriter(send, defect.event)
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it to the app again."""
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.extend(message.get("body", b""))
        if not message.get("more_body"):
            break
    replay = [{"type": "http.request", "body": bytes(chunks), "more_body": False}]

    async def again() -> Message:
        return replay.pop() if replay else await receive()

    return bytes(chunks), again


def _chained(rewrites: list[Callable[[str, Any], list[tuple[str, Any]]]]) -> Callable[..., list[tuple[str, Any]]]:
    def rewrite(event: str, data: Any) -> list[tuple[str, Any]]:
        messages = [(event, data)]
        for step in rewrites:
            messages = [out for message in messages for out in step(*message)]
        return messages

    return rewrite


async def _reply(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _buffered_rewriter(send: Send, operation: Operation, rewrite: Callable[..., Reply]) -> Send:
    """Collect a whole response, rewrite it, send it; event streams only get their start rewritten."""
    start: dict[str, Any] = {}
    body = bytearray()

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            headers = list(message.get("headers", []))
            if any(k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers):
                status, new_headers, _ = rewrite(operation, message["status"], headers, b"")
                start["streaming"] = True
                await send({**message, "status": status, "headers": new_headers})
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        if start.get("streaming"):
            await send(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body"):
            return
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        status, headers, new_body = rewrite(operation, start["status"], headers, bytes(body))
        await _reply(send, status, headers, new_body)

    return wrapped


def _stream_rewriter(send: Send, rewrite: Callable[[str, Any], list[tuple[str, Any]]]) -> Send:
    """Rewrite each SSE message (the mock sends one per chunk) and keep the stream's framing."""

    streaming = False

    async def wrapped(message: Message) -> None:
        nonlocal streaming
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            streaming = any(k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers)
        if not streaming or message["type"] != "http.response.body" or not message.get("body"):
            await send(message)
            return
        out = bytearray()
        for block in message["body"].decode().split("\n\n"):
            if not block:
                continue
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
            if "event" not in fields or "data" not in fields:
                out += (block + "\n\n").encode()
                continue
            for event, data in rewrite(fields["event"], json.loads(fields["data"])):
                out += f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        if out or message.get("more_body") is False:
            await send({**message, "body": bytes(out)})

    return wrapped


# --- serving ---------------------------------------------------------------------------------


class DefectServer(ProcessServer):
    """The mock app with some defects (or none), under uvicorn in a child process on a free loopback port."""

    def __init__(self, defects: Defect | Iterable[Defect] | None, *, time_scale: float) -> None:
        super().__init__(lambda: DefectMiddleware(create_app(Settings(time_scale=time_scale, port=0)), defects))
