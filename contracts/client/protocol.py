"""The protocol between `ftl-gate client` and the client under test: variables in, JSON lines out.

In: the stream's URL, the API's URL and key, the job, the time scale and the contract's bounds at that scale.
Out, one JSON object per stdout line: `{"type": "event", "event": NAME, "data": STRING}` (or `"json": VALUE`
for a client that only exposes parsed data), `{"type": "error", "message": TEXT}`, `{"type": "closed"}`.
Any other line is kept and shown as ignored output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

STREAM_URL = "FTL_STREAM_URL"
API_URL = "FINETUNE_LAB_API_URL"
API_KEY = "FINETUNE_LAB_API_KEY"
JOB_ID = "FTL_JOB_ID"

EVENT, ERROR, CLOSED, IGNORED = "event", "error", "closed", "ignored"


@dataclass(frozen=True)
class ClientLine:
    """One stdout line of the client, read at `at` (epoch seconds)."""

    at: float
    kind: str
    text: str
    event: str | None = None
    data: str | None = None
    value: Any = None
    parsed: bool = False
    message: str | None = None
    why: str | None = None

    def shown(self) -> str:
        """The line as the report quotes it."""
        return self.text if len(self.text) <= 200 else self.text[:200] + "…"


def read_line(text: str, at: float) -> ClientLine:
    """A stdout line as the protocol reads it; anything it does not define is IGNORED with the reason."""
    text = text.rstrip("\r\n")
    try:
        line = json.loads(text)
    except ValueError:
        return ClientLine(at, IGNORED, text, why="not JSON")
    kind = line.get("type") if isinstance(line, dict) else None
    if kind == EVENT:
        return _event(line, text, at)
    if kind == ERROR:
        message = line.get("message")
        return ClientLine(at, ERROR, text, message=message if isinstance(message, str) else json.dumps(message))
    if kind == CLOSED:
        return ClientLine(at, CLOSED, text)
    return ClientLine(at, IGNORED, text, why="no type event, error or closed")


def _event(line: dict[str, Any], text: str, at: float) -> ClientLine:
    name = line.get("event")
    if not isinstance(name, str):
        return ClientLine(at, IGNORED, text, why='an event line needs "event" (a string)')
    if isinstance(line.get("data"), str) and "json" not in line:
        return ClientLine(at, EVENT, text, event=name, data=line["data"])
    if "json" in line and "data" not in line:
        return ClientLine(at, EVENT, text, event=name, value=line["json"], parsed=True)
    return ClientLine(at, IGNORED, text, why='an event line needs "data" (a string) or "json", not both')
