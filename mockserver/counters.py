"""Plain counters the request path and the streams update inline, read only when someone scrapes the metrics.

No locks and no label objects on the hot path: one event loop updates them, `mockserver.metrics` exposes them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

UNMATCHED = "unmatched"  # the operation label of a request no operation serves
OTHER = "_other"  # the label past a label set's cap: a client cannot grow the metrics without bound
MAX_JOBS = 1_000  # job labels of the stream counters
MAX_EVENT_NAMES = 100  # event-name labels (scenarios may emit any name)
MAX_REMEMBERED = 10_000  # (job, client) pairs remembered to tell a reconnection from a first connection

LATENCY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DURATION_BOUNDS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class Histogram:
    """Counts per bucket (upper bounds, then +Inf) and the sum of the observed values."""

    __slots__ = ("bounds", "buckets", "sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.buckets = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one value."""
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """Values observed."""
        return sum(self.buckets)

    def cumulative(self) -> list[tuple[str, int]]:
        """`(le, count of values <= le)` per bucket, `+Inf` last, as Prometheus exposes a histogram."""
        running = 0
        out = []
        for bound, count in zip((*self.bounds, float("inf")), self.buckets, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


class RequestCounters:
    """Contract requests by operation, status and validation outcome, and their latency by operation."""

    def __init__(self) -> None:
        self.outcomes: dict[tuple[str, int | None, str], int] = {}
        self.latency: dict[str, Histogram] = {}

    def record(
        self, operation_id: str | None, status: int | None, violations: Sequence[object] | None, seconds: float | None
    ) -> None:
        """Count one answered (or dropped) request; `seconds` is None for a stream, timed as a connection instead."""
        outcome = "skipped" if violations is None else "failed" if violations else "passed"
        key = (operation_id or UNMATCHED, status, outcome)
        outcomes = self.outcomes
        outcomes[key] = outcomes.get(key, 0) + 1
        if seconds is not None:
            histogram = self.latency.get(key[0])
            if histogram is None:
                histogram = self.latency[key[0]] = Histogram(LATENCY_BOUNDS)
            histogram.observe(seconds)

    def total(self) -> int:
        """Requests counted."""
        return sum(self.outcomes.values())


def event_name(chunk: bytes) -> bytes | None:
    """The event a written chunk starts (`message` for a data-only one), or None for comments and partial chunks."""
    if chunk.startswith(b"event:"):
        end = chunk.find(b"\n", 6)
        return (chunk[6:] if end < 0 else chunk[6:end]).split(b"\r", 1)[0].strip()
    if chunk.startswith(b"data:"):
        return b"message"
    return None


class StreamCounters:
    """Stream connections and reconnections per job, their durations, and the events written by name.

    A reconnection is a stream opened for a job by a client address that had a stream of that job before it.
    """

    def __init__(self) -> None:
        self.connections: dict[str, int] = {}
        self.reconnections: dict[str, int] = {}
        self.events: dict[bytes, int] = {}
        self.duration = Histogram(DURATION_BOUNDS)
        self._closed: dict[tuple[str, str], None] = {}

    def connected(self, job_id: str, client: str) -> None:
        """A stream opened."""
        connections = self.connections
        label = job_id if job_id in connections or len(connections) < MAX_JOBS else OTHER
        connections[label] = connections.get(label, 0) + 1
        if (job_id, client) in self._closed:
            self.reconnections[label] = self.reconnections.get(label, 0) + 1

    def closed(self, job_id: str, client: str, seconds: float) -> None:
        """A stream ended after `seconds`."""
        self.duration.observe(seconds)
        closed = self._closed
        closed[(job_id, client)] = None
        if len(closed) > MAX_REMEMBERED:
            del closed[next(iter(closed))]

    def sent(self, name: bytes) -> None:
        """An event was written."""
        events = self.events
        if name not in events and len(events) >= MAX_EVENT_NAMES:
            name = OTHER.encode()
        events[name] = events.get(name, 0) + 1

    @property
    def reconnection_ratio(self) -> float:
        """Reconnections per connection since start (0 with none)."""
        connections = sum(self.connections.values())
        return sum(self.reconnections.values()) / connections if connections else 0.0
