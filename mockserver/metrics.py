"""The mock's metrics in the Prometheus format (`GET /__mock/metrics`): the design note's Phase 5, measured here first.

A custom collector reads the plain counters of `mockserver.counters` at scrape time; each app has its own
`CollectorRegistry` (never prometheus_client's global one), so mocks and tests run side by side.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from mockserver.counters import Histogram
from mockserver.state import MockState

PREFIX = "ftl_mock"


def _status(status: int | None) -> str:
    return "none" if status is None else str(status)


def _histogram(name: str, doc: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def _per_job(name: str, doc: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["job_id"])
    for job, count in sorted(counts.items()):
        family.add_metric([job], count)
    return family


def _add(family: HistogramMetricFamily, labels: list[str], histogram: Histogram) -> None:
    family.add_metric(labels, buckets=histogram.cumulative(), sum_value=histogram.sum)


class MockCollector(Collector):
    """Every `ftl_mock_*` metric of one mock, read from its state when scraped."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._streams()
        yield from self._journal()

    def _requests(self) -> Iterator[Metric]:
        counters = self.state.requests
        requests = CounterMetricFamily(
            f"{PREFIX}_requests",
            "Contract requests answered, by operationId (unmatched: no operation), HTTP status (none: no answer "
            "sent) and validation outcome (passed, failed, skipped: never validated, e.g. a fault or no route).",
            labels=["operation_id", "status", "validation"],
        )
        errors = CounterMetricFamily(
            f"{PREFIX}_client_errors",
            "Contract requests answered with a 4xx status, by operationId and status.",
            labels=["operation_id", "status"],
        )
        client_errors: dict[tuple[str, str], int] = {}
        for (operation, status, outcome), count in sorted(self.state.requests.outcomes.items(), key=str):
            requests.add_metric([operation, _status(status), outcome], count)
            if status is not None and 400 <= status < 500:
                key = (operation, str(status))
                client_errors[key] = client_errors.get(key, 0) + count
        for labels, count in client_errors.items():
            errors.add_metric(list(labels), count)
        latency = _histogram(
            "request_duration_seconds",
            "Time from a contract request's arrival to the end of its answer, by operationId (an open stream is "
            "timed as a connection instead: ftl_mock_stream_connection_duration_seconds).",
            ["operation_id"],
        )
        for operation, histogram in sorted(counters.latency.items()):
            _add(latency, [operation], histogram)
        yield from (requests, errors, latency)

    def _streams(self) -> Iterator[Metric]:
        hub = self.state.streams
        counters = hub.counters
        yield GaugeMetricFamily(f"{PREFIX}_open_streams", "Prediction streams open now.", value=hub.open_streams)
        connections = _per_job(
            "stream_connections", "Prediction streams opened, by job (past 1000 jobs: _other).", counters.connections
        )
        reconnections = _per_job(
            "stream_reconnections",
            "Prediction streams opened by a client address that had a stream of the same job before, by job.",
            counters.reconnections,
        )
        ratio = GaugeMetricFamily(
            f"{PREFIX}_stream_reconnection_ratio",
            "Reconnections per stream connection since start (the per-second rate: rate() of the reconnections).",
            value=counters.reconnection_ratio,
        )
        duration = _histogram(
            "stream_connection_duration_seconds", "How long each closed prediction stream stayed open.", []
        )
        _add(duration, [], counters.duration)
        events = CounterMetricFamily(
            f"{PREFIX}_stream_events_sent",
            "Stream messages written, by event name (message: a data-only one; past 100 names: _other).",
            labels=["event"],
        )
        for name, count in sorted(counters.events.items()):
            events.add_metric([name.decode("utf-8", "replace")], count)
        dropped = CounterMetricFamily(
            f"{PREFIX}_stream_slow_consumers_dropped",
            "Streams closed because their client fell --stream-queue messages behind.",
            value=hub.dropped_slow,
        )
        yield from (connections, reconnections, ratio, duration, events, dropped)

    def _journal(self) -> Iterator[Metric]:
        journal = self.state.journal
        yield GaugeMetricFamily(f"{PREFIX}_journal_entries", "Requests the journal keeps now.", value=len(journal))
        yield GaugeMetricFamily(
            f"{PREFIX}_journal_bytes",
            "Bytes the journal's entries cost now (its budget: --journal-bytes).",
            journal.bytes,
        )


class MockMetrics:
    """One mock's registry: its `ftl_mock_*` collector and the process's CPU and memory."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.registry = CollectorRegistry()
        self.registry.register(MockCollector(state))
        ProcessCollector(registry=self.registry)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format the `Accept` header asks for (Prometheus text, or OpenMetrics), and its type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def summary(self) -> dict[str, Any]:
        """The figures of the inspector page's metrics panel."""
        requests = self.state.requests
        hub = self.state.streams
        counters = hub.counters
        by_class = {"2xx": 0, "4xx": 0, "5xx": 0}
        failed = 0
        for (_, status, outcome), count in requests.outcomes.items():
            if status is not None and f"{status // 100}xx" in by_class:
                by_class[f"{status // 100}xx"] += count
            failed += count if outcome == "failed" else 0
        latency_sum = sum(h.sum for h in requests.latency.values())
        latency_count = sum(h.count for h in requests.latency.values())
        duration = counters.duration
        return {
            "requests": requests.total(),
            "by_class": by_class,
            "validation_failed": failed,
            "mean_latency_ms": round(latency_sum / latency_count * 1000, 3) if latency_count else None,
            "open_streams": hub.open_streams,
            "stream_connections": sum(counters.connections.values()),
            "stream_reconnections": sum(counters.reconnections.values()),
            "mean_stream_s": round(duration.sum / duration.count, 3) if duration.count else None,
            "events_sent": {name.decode("utf-8", "replace"): n for name, n in sorted(counters.events.items())},
            "slow_consumers_dropped": hub.dropped_slow,
            "journal_entries": len(self.state.journal),
        }
