"""Request validation against the matched operation, before any behaviour runs.

Order: body size (413), content type, UTF-8, JSON or multipart parsing, then parameters and body schema;
each failure is a `Rejection` whose violations name the field and the rule (`limit: must be <= 100`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

from mockserver.wire import MAX_DEPTH, too_deep
from spec import Operation, Parameter, Schema, Violation, coerce

JSON = "application/json"
MULTIPART = "multipart/form-data"
FORM = "application/x-www-form-urlencoded"
MAX_VIOLATIONS = 10


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file part of a multipart body."""

    filename: str
    content_type: str
    data: bytes


class Rejection(Exception):
    """A request that breaks its operation's rules: the status to answer and every violation found.

    `close` asks for the connection to be closed after the answer (the rest of the request may never come).
    """

    def __init__(self, status: int, violations: Sequence[Violation], *, close: bool = False) -> None:
        super().__init__("; ".join(str(v) for v in violations[:MAX_VIOLATIONS]))
        self.status = status
        self.violations = tuple(violations)
        self.close = close

    @property
    def message(self) -> str:
        """The violations as one line: `limit: must be <= 100; offset: must be >= 0`."""
        return str(self)


class ClientGone(Exception):
    """The client disconnected while the body was being read."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """The validated inputs of one request."""

    query: Mapping[str, Any]
    body: Any


@dataclass(frozen=True, slots=True)
class _ParamPlan:
    param: Parameter
    key: str
    items: Mapping[str, Any] | None
    coerce: Callable[[str], Any]

    @classmethod
    def of(cls, param: Parameter) -> _ParamPlan:
        key = param.name.lower() if param.location == "header" else param.name
        return cls(param, key, _array_items(param), _coercer(param))

    def value(self, raw: list[str]) -> Any:
        if self.items is not None:
            items = self.items
            return [coerce(v, items) for v in raw]
        return self.coerce(raw[-1])


def _coercer(param: Parameter) -> Callable[[str], Any]:
    """`param.coerce`, short-cut for the common plain string and integer schemas (same results)."""
    kind = param.raw_schema.get("type")
    if kind == "string":
        return str
    if kind == "integer":
        return lambda text: int(text) if _INTEGER.fullmatch(text.strip()) else text
    return param.coerce


_INTEGER = re.compile(r"[+-]?\d+")  # the pattern spec.coerce reads integers with


async def read_body(receive: Receive, headers: Headers, limit: int, timeout: float) -> bytes:
    """The whole request body: 413 once it passes `limit` bytes, 408 (closing) unless it all came within `timeout` s.

    ClientGone when the client disconnects first.
    """
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejection(413, [_too_large(limit)])
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise Rejection(413, [_too_large(limit)])
                if chunk:
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except TimeoutError:
        violation = Violation("body", "Timeout", f"must arrive within {timeout:g} s (got {size} bytes)")
        raise Rejection(408, [violation], close=True) from None


class RequestValidator:
    """The prepared checks of one operation; `validate` runs them on a request."""

    def __init__(self, op: Operation, body_limit: int, read_timeout: float = 30.0) -> None:
        self.op = op
        self.body_limit = body_limit
        self.read_timeout = read_timeout
        self.status = op.bad_input_status
        self.params = tuple(_ParamPlan.of(p) for p in op.parameters if p.location in ("path", "query", "header"))
        self.has_query = any(p.location == "query" for p in op.parameters)
        body = op.request_body
        self.body_required = bool(body and body.required)
        self.length_required = bool(op.extensions.get("x-requires-content-length"))
        self.media_types: Mapping[str, Schema | None] = (
            {name: media.schema for name, media in body.content.items()} if body else {}
        )
        self.file_fields = {
            name: _file_properties(media.schema) for name, media in (body.content.items() if body else ())
        }

    async def validate(
        self,
        scope: Scope,
        receive: Receive,
        path_params: Mapping[str, str],
        headers: Headers,
        on_body: Callable[[bytes], None] | None = None,
    ) -> Inputs:
        """The typed query and parsed body; `Rejection` when the request breaks a rule."""
        body: Any = None
        raw_body = b""
        if self.media_types:
            raw_body = await read_body(receive, headers, self.body_limit, self.read_timeout)
            if on_body is not None:
                on_body(raw_body)
            if raw_body and self.length_required and "content-length" not in headers:
                violation = Violation("Content-Length", "Required", "is required (a body without a length is refused)")
                raise Rejection(self.status, [violation])
            body = await self._parse_body(scope, raw_body, headers)
        pairs = _query_pairs(scope, self.status) if self.has_query else []
        query = self._parameters(path_params, pairs, headers)
        if raw_body:
            # Checked whenever a body was sent: a JSON `null` is a body too.
            self._check_body(body, headers)
        return Inputs(query, body)

    # --- parameters -------------------------------------------------------------------------

    def _parameters(
        self, path_params: Mapping[str, str], pairs: list[tuple[str, str]], headers: Headers
    ) -> dict[str, Any]:
        """Coerced query values with spec defaults; on any failure the spec package names the violations."""
        query: dict[str, Any] = {}
        by_name: dict[str, list[str]] = {}
        for key, value in pairs:
            by_name.setdefault(key, []).append(value)
        for plan in self.params:
            location = plan.param.location
            if location == "query":
                raw = by_name.get(plan.key)
            elif location == "path":
                raw = [path_params[plan.key]] if plan.key in path_params else None
            else:
                text = headers.get(plan.key)
                raw = [text] if text is not None else None
            if raw is None:
                if plan.param.required:
                    break
                if location == "query" and plan.param.default is not None:
                    query[plan.key] = plan.param.default
                continue
            value = plan.value(raw)
            if not plan.param.schema.is_valid(value):
                break
            if location == "query":
                query[plan.key] = value
        else:
            return query
        violations = self.op.check_parameters(path_params, pairs, dict(headers.items()))
        raise Rejection(self.status, violations or [Violation("parameters", "Invalid", "are invalid")])

    # --- body -------------------------------------------------------------------------------

    async def _parse_body(self, scope: Scope, raw: bytes, headers: Headers) -> Any:
        if not raw:
            if self.body_required:
                raise Rejection(self.status, [Violation("body", "Required", "is required")])
            return None
        header = headers.get("content-type", "")
        media = header.split(";", 1)[0].strip().lower()
        if media not in self.media_types:
            expected = ", ".join(self.media_types)
            got = f"got {header!r}" if header else "none sent"
            raise Rejection(self.status, [Violation("Content-Type", "Enum", f"must be {expected} ({got})")])
        if media in (MULTIPART, FORM):
            return await self._parse_form(scope, raw, media)
        return _parse_json(raw, self.status)

    async def _parse_form(self, scope: Scope, raw: bytes, media: str) -> dict[str, Any]:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        request = Request({**scope, "type": "http"}, replay)
        try:
            form = await request.form(max_part_size=self.body_limit)
        except (MultiPartException, HTTPException) as exc:
            detail = getattr(exc, "message", None) or getattr(exc, "detail", None) or str(exc)
            raise Rejection(
                self.status, [Violation("body", "Multipart", f"must be valid {media} ({detail})")]
            ) from None
        fields: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                await value.close()
                fields[name] = UploadedFile(
                    value.filename or "", value.content_type or "application/octet-stream", data
                )
            else:
                fields[name] = value
        return fields

    def _check_body(self, body: Any, headers: Headers) -> None:
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        schema = self.media_types.get(media)
        if schema is None:
            return
        violations: list[Violation] = []
        instance = body
        if isinstance(body, dict) and media in (MULTIPART, FORM):
            violations = _file_violations(body, self.file_fields.get(media, frozenset()))
            instance = {k: ("" if isinstance(v, UploadedFile) else v) for k, v in body.items()}
        if not violations and schema.is_valid(instance):
            return
        violations.extend(self.op.check_json_body(instance, media))
        raise Rejection(self.status, violations)


def _too_large(limit: int) -> Violation:
    return Violation("body", "MaxLength", f"must be at most {limit} bytes")


def _parse_json(raw: bytes, status: int) -> Any:
    if too_deep(raw):
        violation = Violation("body", "Depth", f"must not nest arrays and objects more than {MAX_DEPTH} levels deep")
        raise Rejection(status, [violation])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start : exc.start + 1].hex()
        raise Rejection(
            status, [Violation("body", "Encoding", f"must be valid UTF-8 (byte 0x{byte} at offset {exc.start})")]
        ) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise Rejection(status, [Violation("body", "JSON", f"must be valid JSON ({exc})")]) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _query_pairs(scope: Scope, status: int) -> list[tuple[str, str]]:
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        return []
    text = raw.decode("latin-1")
    if "%" not in text and "+" not in text:
        # Nothing to decode: the split parse_qsl would do, without its per-field unquoting.
        return [(name, value) for name, _, value in (part.partition("=") for part in text.split("&") if part)]
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        violation = Violation("query", "Encoding", f"must be valid UTF-8 once percent-decoded ({exc.reason})")
        raise Rejection(status, [violation]) from None


def _array_items(param: Parameter) -> Mapping[str, Any] | None:
    kind = param.raw_schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds:
        items = param.raw_schema.get("items")
        return items if isinstance(items, dict) else {}
    return None


def _file_properties(schema: Schema | None) -> frozenset[str]:
    """Form fields the schema declares as file contents (`contentMediaType` or `format: binary`)."""
    raw = schema.raw if schema is not None and isinstance(schema.raw, dict) else {}
    props = raw.get("properties") or {}
    return frozenset(
        name
        for name, sub in props.items()
        if isinstance(sub, dict) and ("contentMediaType" in sub or sub.get("format") == "binary")
    )


def _file_violations(form: Mapping[str, Any], files: frozenset[str]) -> list[Violation]:
    return [
        Violation(f"body.{name}", "File", "must be a file part (with a filename)")
        for name in sorted(files)
        if name in form and not isinstance(form[name], UploadedFile)
    ]
