"""The mock's wire format: JSON as the platform's Next.js handlers write it, and its time stamps.

The bottom layer of the mock: it imports nothing of `mockserver`, so every other module may use it.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

JSON = "application/json"
_SAFE_INTEGER = 2**53  # the largest whole number a JavaScript number holds exactly
# How deeply arrays and objects may nest in JSON the mock accepts (request bodies, uploaded files, stored
# values). Parsing, schema checks, copies and the data dump all recurse; this keeps them far from any limit.
MAX_DEPTH = 64
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_QUOTED = re.compile(rb'"[^"]*"')
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as `JSON.stringify` writes it (numbers as they are stored; see `js_numbers`)."""
    return text(value).encode("utf-8")


def text(value: Any) -> str:
    """Compact JSON as text (an SSE `data:` line, a stored JSONL line); NaN and infinities as `null`.

    JSON has no NaN or Infinity (Python would write the literals, which no JSON parser reads); `JSON.stringify`
    writes them as `null`, and so does the mock. Only a value that has one pays for the second pass.
    """
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    """`value` with every float that is not finite replaced by None (it recurses: values are bounded by `MAX_DEPTH`)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when JSON text nests arrays and objects more than `limit` levels deep; brackets in strings do not count.

    A scan of the bytes before parsing, at C speed: counting brackets settles most bodies; otherwise the text
    is cut down to its quotes and brackets, the strings are dropped and the running depth is summed.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:
        # Escaped backslashes, then escaped quotes: what is left of a backslash cannot end a string.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two quotes in a row end a string and start one, or enclose one without brackets: dropping them
    # keeps every bracket on its side of the quotes, and leaves few strings for the regular expression.
    skeleton = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _QUOTED.sub(b"", skeleton)
    steps = skeleton.translate(_BRACKET_STEP, b'"')
    return max(accumulate(memoryview(steps).cast("b")), default=0) > limit


def depth(value: Any) -> int:
    """How many levels of arrays and objects a decoded JSON value nests (a scalar is 0), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, level = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def js_numbers(value: Any) -> Any:
    """`value` with whole floats as integers, as JavaScript's one number type writes them (`1.0` is `1`).

    Applied where numbers enter data that the mock sends both over REST and on the stream (stored
    predictions, scenario and event data), so one encoder writes the same bytes on both. It recurses:
    every value that reaches it was bounded by `MAX_DEPTH` where it entered the mock.
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
