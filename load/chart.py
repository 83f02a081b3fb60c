"""The dashboard's predictions trends chart (`PredictionsTrendsChart`, reference §13 and §3.2): what it requests.

Client behaviour the contract cannot state, named once here; a plan checks every operation against the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One request of the chart: its key among a job's routes, its kind (its Locust entry's prefix), the operation.

    `live` requests keep an open chart up to date (what the design note's "99 %" counts); `label` names them in
    the comparison table.
    """

    key: str
    kind: str
    operation_id: str
    query: Mapping[str, str] = field(default_factory=dict)
    live: bool = False
    label: str = ""


MOUNT_CHECK = Request("mount_check", "mount", "get_predictions", {"limit": "1"})
MOUNT = Request("mount", "mount", "get_prediction_trends")
POLL = Request("poll", "poll", "get_prediction_trends", live=True, label="trends polls")
REFETCH = Request("refetch", "refetch", "get_prediction_trends", live=True, label="trends refetches (on event)")

VISIBLE_ROWS = "/trends/*/sample_count"
"""Where the trends body says how many predictions the chart shows: their sum over the epochs."""

ON_MOUNT = (MOUNT_CHECK, MOUNT)
"""What mounting the chart fetches, in order: a `?limit=1` existence check, then the trends."""
REQUESTS = (*ON_MOUNT, POLL, REFETCH)
KINDS = tuple(dict.fromkeys(request.kind for request in REQUESTS))
LIVE = tuple(request for request in REQUESTS if request.live)
