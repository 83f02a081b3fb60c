"""Deliberately broken servers for the gate's self-test: the real mock app behind an ASGI middleware with one defect.

Each `Defect` names the operations it breaks, how (a request rewrite, a short-circuit, a response or a
stream-message rewrite) and the gate check that must catch it. `DefectServer` serves the wrapped app
under uvicorn on a free loopback port. Names, statuses and events come from the spec.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from conftest import ALICE_KEY

import spec
from mockserver.app import create_app
from mockserver.settings import Settings
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
    # Stateful defects need a few more examples for Schemathesis to walk create -> delete -> read.
    max_examples: int = 5


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
COUNTED = str(STREAM.counter["event"])

DEFECTS: tuple[Defect, ...] = (
    Defect("success_status_changed", ("list_jobs",), "status_code_conformance", response=_undeclared_success),
    Defect(
        "required_field_removed",
        ("list_jobs",),
        "response_schema_conformance",
        response=_edit_json(_drop_first_required),
    ),
    Defect(
        "field_type_changed", ("list_jobs",), "response_schema_conformance", response=_edit_json(_retype_first_required)
    ),
    Defect("wrong_content_type", ("list_jobs",), "content_type_conformance", response=_content_type(b"text/html")),
    Defect("accepts_no_credentials", ("list_jobs",), "ignored_auth", request=_with_demo_key),
    Defect("invalid_input_500", ("list_local_jobs",), "not_a_server_error", response=_bad_input_as(500, False)),
    Defect("invalid_input_200", ("list_local_jobs",), "negative_data_rejection", response=_bad_input_as(200, True)),
    Defect("limit_ignored", ("list_local_jobs",), "pagination_limit", request=_without_query("limit")),
    Defect(
        "delete_does_not_delete",
        ("upload_dataset", "delete_dataset", "preview_dataset"),
        "use_after_free",
        request=lambda scope, op: _read_instead(scope, op) if op.method == "DELETE" else scope,
        response=lambda op, status, headers, body: (
            _success_example(op, status, headers, body) if op.method == "DELETE" else (status, headers, body)
        ),
        max_examples=10,
    ),
    Defect("stream_without_connected", STREAM_OP, "stream_first_event", event=_drop(STREAM.first_event)),
    Defect("heartbeats_stopped", STREAM_OP, "stream_heartbeat", event=_drop(STREAM.heartbeat_event)),
    Defect(
        "renamed_event",
        STREAM_OP,
        "stream_event_declared",
        event=_rename(STREAM.heartbeat_event, STREAM.heartbeat_event + "_v2"),
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
    Defect("prediction_never_streamed", STREAM_OP, "live_prediction_delivery", event=_drop(COUNTED)),
    Defect("stream_as_text_plain", STREAM_OP, "stream_content_type", response=_content_type(b"text/plain")),
)
BY_NAME = {defect.name: defect for defect in DEFECTS}


# --- the middleware --------------------------------------------------------------------------


class DefectMiddleware:
    """Wraps an ASGI app and applies `defect` to the operations it names (everything else passes)."""

    def __init__(self, app: Any, defect: Defect | None, contract: Contract = CONTRACT) -> None:
        self.app = app
        self.defect = defect
        self.contract = contract

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.contract.match(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        defect = self.defect
        if found is None or defect is None or found[0].operation_id not in defect.operations:
            await self.app(scope, receive, send)
            return
        operation = found[0]
        if defect.request is not None:
            rewritten = defect.request(scope, operation)
            if isinstance(rewritten, tuple):
                await _reply(send, *rewritten)
                return
            scope = rewritten
        if defect.event is not None:
            await self.app(scope, receive, _stream_rewriter(send, defect.event))
        elif defect.response is not None:
            await self.app(scope, receive, _buffered_rewriter(send, operation, defect.response))
        else:
            await self.app(scope, receive, send)


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


class DefectServer:
    """The mock app with one defect (or none), under uvicorn in a thread on a free loopback port."""

    def __init__(self, defect: Defect | None, *, time_scale: float) -> None:
        app = create_app(Settings(time_scale=time_scale, port=0))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            DefectMiddleware(app, defect), log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> DefectServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the defect server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
