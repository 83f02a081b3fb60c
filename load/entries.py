"""The names of ftl-load's entries in Locust's statistics: `<kind>: <detail>`, such as `poll: get_prediction_trends`.

The users and the stream reader write them; the summaries of `compare` and `capacity` read them by kind and name.
"""

from __future__ import annotations

SSE = "SSE"
"""The request type of the stream's measurements (HTTP requests keep their method)."""
FTL = "ftl-load"
"""The request type (and kind) of a user's own failures: it could not prepare or missed the start."""

EVENT = "event"
"""The kind of one entry per event name (`event: prediction`): its bytes and its timing."""
STREAM = "stream"
"""The kind of the stream's own measurements, and the key of the stream among a job's routes."""
CONNECT = f"{STREAM}: connect"
FIRST_EVENT = f"{STREAM}: first event"
HELD = f"{STREAM}: held"
RECONNECT = f"{STREAM}: reconnect"
GAVE_UP = f"{STREAM}: gave up"
PREPARE = f"{FTL}: prepare"
BARRIER = f"{FTL}: start barrier"

CHART = "chart"
"""The request type of `update: visible`: one stored prediction becoming visible on a tab's chart."""
UPDATE = "update"
VISIBLE = f"{UPDATE}: visible"
"""Its time is the delay from the upload to the chart showing the row, in simulated time (see `load.tab`)."""
CODED = f"{STREAM}: coded"
"""A stream connection whose body came with a content coding (`stream: coded gzip`); its bytes are on the wire."""


def name(kind: str, detail: str) -> str:
    """The entry name of one kind and detail."""
    return f"{kind}: {detail}"


def kind_of(entry_name: str) -> str:
    """The kind of an entry name: what comes before its first colon."""
    return entry_name.partition(":")[0].strip()


def detail_of(entry_name: str) -> str:
    """The detail of an entry name: what follows its first colon."""
    return entry_name.partition(":")[2].strip()
