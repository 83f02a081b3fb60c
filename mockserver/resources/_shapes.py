"""What resource handlers read from an operation's declared shapes, and small shared helpers.

Key lists, header constants and request properties come from the spec, never from handler code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from spec import Operation
from spec.pointers import schema_at

T = TypeVar("T")


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in [schema, *(schema.get("allOf") or [])]:
        found.update(part.get("properties") or {})
    return found


@cache
def response_keys(op: Operation, pointer: str = "", status: int | None = None) -> tuple[str, ...]:
    """Property names of the (success) response schema at a data pointer (`/jobs/*`), in spec order."""
    response = op.response(status) if status is not None else op.success
    media = response.media() if response is not None else None
    raw = media.schema.raw if media is not None and media.schema is not None else {}
    return tuple(_properties(schema_at(raw, pointer)))


@cache
def request_keys(op: Operation, pointer: str = "") -> tuple[str, ...]:
    """Property names of the JSON request body schema at a data pointer (`/config`), in spec order."""
    body = op.request_body
    media = body.content.get("application/json") if body is not None else None
    raw = media.schema.raw if media is not None and media.schema is not None else {}
    return tuple(_properties(schema_at(raw, pointer)))


@cache
def request_default(op: Operation, pointer: str) -> Any:
    """The `default` the JSON request body schema declares at a data pointer (`/config/prompt_limit`)."""
    body = op.request_body
    media = body.content.get("application/json") if body is not None else None
    raw = media.schema.raw if media is not None and media.schema is not None else {}
    return schema_at(raw, pointer).get("default")


def project(row: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The row's values of `keys` (keys the row lacks are left out)."""
    return {key: row[key] for key in keys if key in row}


def const_headers(op: Operation, status: int | None = None) -> dict[str, str]:
    """The headers an operation's response declares with a constant value (CORS, deprecation)."""
    response = op.response(status) if status is not None else op.success
    if response is None:
        return {}
    found = {}
    for name, header in response.headers.items():
        schema = header.get("schema") or {}
        if "const" in schema:
            found[name] = str(schema["const"])
    return found


def example_body(op: Operation, status: int | None = None) -> Any:
    """The spec's example body of an operation's response."""
    response = op.response(status) if status is not None else op.success
    media = response.media() if response is not None else None
    return media.example if media is not None else None


def page(items: Sequence[T], limit: int, offset: int) -> list[T]:
    """Items `[offset, offset + limit)`."""
    return list(items[offset : offset + limit])


def js_round(value: float) -> int:
    """`Math.round` of JavaScript: halves round up."""
    return math.floor(value + 0.5)


def mean(values: Sequence[float]) -> float | None:
    """The mean, None for no values; finite for finite values, however large (each is divided before the sum)."""
    return sum(value / len(values) for value in values) if values else None


def round_to(value: float, digits: int = 2) -> float:
    """A value rounded to `digits` decimals (as `toFixed` then `parseFloat` would)."""
    return round(value + 0.0, digits)


def now_ms() -> int:
    """The current time in epoch milliseconds (`Date.now()`)."""
    return int(time.time() * 1000)
