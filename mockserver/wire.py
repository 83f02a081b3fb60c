"""The mock's wire format: JSON as the platform's Next.js handlers write it, and its time stamps.

The bottom layer of the mock: it imports nothing of `mockserver`, so every other module may use it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

JSON = "application/json"
_SAFE_INTEGER = 2**53  # the largest whole number a JavaScript number holds exactly


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as `JSON.stringify` writes it (numbers as they are stored; see `js_numbers`)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def text(value: Any) -> str:
    """Compact JSON as text (an SSE `data:` line, a stored JSONL line)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def js_numbers(value: Any) -> Any:
    """`value` with whole floats as integers, as JavaScript's one number type writes them (`1.0` is `1`).

    Applied where numbers enter data that the mock sends both over REST and on the stream (stored
    predictions, scenario and event data), so one encoder writes the same bytes on both.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _SAFE_INTEGER else value
    if isinstance(value, dict):
        return {key: js_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [js_numbers(item) for item in value]
    return value


def iso(seconds: float) -> str:
    """An epoch time as the platform writes it: ISO 8601, milliseconds, `Z`."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """The current time as the platform writes it: ISO 8601, milliseconds, `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instant(timestamp: Any) -> float:
    """Seconds since the epoch of an ISO 8601 time stamp (0 when absent or unreadable)."""
    if not isinstance(timestamp, str) or not timestamp:
        return 0.0
    try:
        parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
