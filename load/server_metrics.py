"""The server's side of a run, read from an ftl-mock's `GET /__mock/metrics` (Prometheus text) before and after.

The difference gives the requests it answered by operation, its CPU time, and the design note's Phase 5
figures: stream connections and reconnections, their mean duration, events sent per second and client errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

MARKER = "ftl_mock_requests"  # a family only an ftl-mock exposes


@dataclass(frozen=True)
class ServerMetrics:
    """One scrape of an ftl-mock, summed over the labels a run does not need."""

    requests: Mapping[str, float] = field(default_factory=dict)
    client_errors: float = 0.0
    open_streams: float = 0.0
    connections: float = 0.0
    reconnections: float = 0.0
    streams_closed: float = 0.0
    stream_seconds: float = 0.0
    events: Mapping[str, float] = field(default_factory=dict)
    dropped_slow: float = 0.0
    cpu_seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> ServerMetrics:
        """Read a scrape; ValueError when the text is not an ftl-mock's metrics."""
        requests: dict[str, float] = {}
        events: dict[str, float] = {}
        sums: dict[str, float] = {}
        cpu = None
        names = set()
        for family in text_string_to_metric_families(text):
            names.add(family.name)
            for sample in family.samples:
                if sample.name == "ftl_mock_requests_total":
                    operation = sample.labels["operation_id"]
                    requests[operation] = requests.get(operation, 0.0) + sample.value
                elif sample.name == "ftl_mock_stream_events_sent_total":
                    events[sample.labels["event"]] = sample.value
                elif sample.name == "process_cpu_seconds_total":
                    cpu = sample.value
                else:
                    sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
        if MARKER not in names:
            raise ValueError("not the metrics of an ftl-mock")
        return cls(
            requests=requests,
            client_errors=sums.get("ftl_mock_client_errors_total", 0.0),
            open_streams=sums.get("ftl_mock_open_streams", 0.0),
            connections=sums.get("ftl_mock_stream_connections_total", 0.0),
            reconnections=sums.get("ftl_mock_stream_reconnections_total", 0.0),
            streams_closed=sums.get("ftl_mock_stream_connection_duration_seconds_count", 0.0),
            stream_seconds=sums.get("ftl_mock_stream_connection_duration_seconds_sum", 0.0),
            events=events,
            dropped_slow=sums.get("ftl_mock_stream_slow_consumers_dropped_total", 0.0),
            cpu_seconds=cpu,
        )

    def since(self, before: ServerMetrics, wall_s: float) -> dict[str, Any]:
        """What the server did between `before` and this scrape, over `wall_s` seconds of wall time."""
        requests = _delta(before.requests, self.requests)
        events = _delta(before.events, self.events)
        connections = round(self.connections - before.connections)
        reconnections = round(self.reconnections - before.reconnections)
        closed = self.streams_closed - before.streams_closed
        cpu = None
        if self.cpu_seconds is not None and before.cpu_seconds is not None:
            cpu = self.cpu_seconds - before.cpu_seconds
        return {
            "requests": requests,
            "requests_total": sum(requests.values()),
            "cpu_s": cpu,
            "connections": connections,
            "reconnections": reconnections,
            "reconnection_rate": reconnections / connections if connections else None,
            "mean_connection_s": (self.stream_seconds - before.stream_seconds) / closed if closed else None,
            "events_sent": events,
            "events_per_s": sum(events.values()) / wall_s if wall_s > 0 else None,
            "client_errors": round(self.client_errors - before.client_errors),
            "dropped_slow": round(self.dropped_slow - before.dropped_slow),
        }


def _delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, int]:
    return {
        name: round(value - before.get(name, 0.0)) for name, value in sorted(after.items()) if value != before.get(name)
    }
