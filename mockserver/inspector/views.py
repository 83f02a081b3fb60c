"""What the inspector page shows of a journal entry and of an open stream, as JSON.

An entry is the admin API's journal entry plus each violation's location, rule and message; a stream is its
job, client, opening time, events written and the last messages, split into event name and data.
"""

from __future__ import annotations

from typing import Any

from mockserver.journal import Entry, Secrets
from mockserver.sse import Subscription
from mockserver.wire import iso

DATA_SHOWN = 2048  # characters of one tail message's data the page gets


def entry_view(entry: Entry, secrets: Secrets) -> dict[str, Any]:
    """A journal entry as `GET /__mock/journal` shows it (secrets shortened), with every violation's rule."""
    view = entry.as_json(secrets)
    view["violations"] = [
        {"location": v.location, "rule": v.rule, "message": v.message} for v in (entry.violations or ())
    ]
    return view


def message_view(chunk: bytes) -> dict[str, Any]:
    """One written chunk as `{event, data, raw}`: its `event:` and `data:` fields, or the raw text when it has none."""
    text = chunk.decode("utf-8", "replace")
    event = None
    data: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if event is None and not data:
        return {"event": None, "data": None, "raw": text[:DATA_SHOWN]}
    joined = "\n".join(data)
    return {"event": event or "message", "data": joined[:DATA_SHOWN], "raw": None}


def stream_view(sub: Subscription) -> dict[str, Any]:
    """An open stream: job, client, since when, events written and its tail, newest message last."""
    return {
        "id": f"{id(sub):x}",
        "job_id": sub.job_id,
        "client": sub.client,
        "opened": iso(sub.opened),
        "events": sub.events,
        "closing": sub.closed,
        "tail": [message_view(chunk) for chunk in list(sub.tail)],
    }
