"""Error and example responses in the shapes the spec declares, and the mock's one exception type.

An operation's error body follows the `x-error-shape` (E1..E5) of its declared response for that status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from mockserver.wire import JSON, dumps
from spec import Operation

TEXT = "text/plain; charset=utf-8"

# The `type` of an E3 (OpenAI-style) error by status class; the spec's enum lists these values.
E3_TYPES: Mapping[int, str] = {401: "invalid_api_key", 403: "insufficient_scope"}


class MockError(Exception):
    """A mock that cannot start or a request it cannot serve; the message says what to change."""


def shape_body(shape: str, status: int, message: str, **extra: Any) -> Any:
    """The body of an error in one of the platform's five shapes (E5 is the bare text)."""
    if shape == "E5":
        return message
    if shape == "E3":
        kind = E3_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"error": {"message": message, "type": kind, "code": status}, **extra}
    if shape == "E4":
        return {"success": False, "error": message, **extra}
    return {"error": message, **extra}


def error_response(
    op: Operation, status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    """An error response of `op` with `status`, in the shape the spec declares for it."""
    shape = op.error_shape(status)
    body = shape_body(shape, status, message, **extra)
    if shape == "E5":
        return Response(str(body), status_code=status, headers=dict(headers or {}), media_type=TEXT)
    return Response(dumps(body), status_code=status, headers=dict(headers or {}), media_type=JSON)


def plain_error(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """An E1 error for requests that match no operation (unknown path, wrong method, admin API)."""
    return Response(
        dumps({"error": message, **extra}), status_code=status, headers=dict(headers or {}), media_type=JSON
    )


def example_response(op: Operation, status: int | None = None) -> Response:
    """The spec's example for the success (or given) status, served as is."""
    code = status or op.success_status
    declared = op.response(code)
    media = (declared.media(JSON) or next(iter(declared.content.values()), None)) if declared else None
    if media is None:
        return Response(b"", status_code=code)
    example = _example(media.example, media.raw)
    if media.name == JSON or media.name.endswith("+json"):
        return Response(dumps(example), status_code=code, media_type=media.name)
    text = example if isinstance(example, str) else dumps(example).decode()
    return Response(text, status_code=code, media_type=media.name)


def declared_headers(op: Operation) -> dict[int, list[tuple[str, str]]]:
    """Per status, the response headers whose value the spec fixes, to add where a response lacks them.

    A `const` header is always fixed; a required header without one takes its example or first enum value.
    """
    found: dict[int, list[tuple[str, str]]] = {}
    for status, response in op.responses.items():
        if not status.isdigit():
            continue
        for name, header in response.headers.items():
            if name.lower() in ("content-type", "content-length", "connection"):
                continue
            value = _header_value(header)
            if value is not None:
                found.setdefault(int(status), []).append((name, value))
    return found


def _header_value(header: Mapping[str, Any]) -> str | None:
    schema = header.get("schema") or {}
    if "const" in schema:
        return str(schema["const"])
    if not header.get("required"):
        return None
    for candidate in (header.get("example"), schema.get("example"), (schema.get("enum") or [None])[0]):
        if candidate is not None:
            return str(candidate)
    return None


def _example(example: Any, raw: Mapping[str, Any]) -> Any:
    if example is not None:
        return example
    examples = raw.get("examples") or {}
    for named in examples.values():
        if isinstance(named, Mapping) and "value" in named:
            return named["value"]
    return {}
