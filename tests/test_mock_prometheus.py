"""`GET /__mock/metrics`: the Prometheus text format, parsed by prometheus_client, with counts that move exactly.

Every test scrapes a real mock on a free port before and after what it does and asserts the exact difference.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mockserver.app import create_app
from mockserver.counters import MAX_JOBS, OTHER, StreamCounters, event_name
from mockserver.metrics import MockMetrics
from mockserver.process import MockProcess
from mockserver.settings import Settings
from tests.conftest import ALICE_KEY, DEMO_JOB, path_of
from tests.test_mock_hostile import read_until_closed, stuck_consumer, wait_until

KEY = {"X-API-Key": ALICE_KEY}
FAMILIES = {
    "ftl_mock_requests": "counter",
    "ftl_mock_client_errors": "counter",
    "ftl_mock_request_duration_seconds": "histogram",
    "ftl_mock_open_streams": "gauge",
    "ftl_mock_stream_connections": "counter",
    "ftl_mock_stream_reconnections": "counter",
    "ftl_mock_stream_reconnection_ratio": "gauge",
    "ftl_mock_stream_connection_duration_seconds": "histogram",
    "ftl_mock_stream_events_sent": "counter",
    "ftl_mock_stream_slow_consumers_dropped": "counter",
    "ftl_mock_journal_entries": "gauge",
    "ftl_mock_journal_bytes": "gauge",
    "process_cpu_seconds": "counter",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(mock: MockProcess, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of the mock's metrics, keyed by name and labels, parsed by prometheus_client."""
    response = httpx.get(f"{mock.admin}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    """A sample's key in `Samples`."""
    return name, frozenset(labels.items())


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when the mock has not exposed it yet (a label set counted nothing so far)."""
    return samples.get(key(name, **labels), 0.0)


def moved(before: Samples, after: Samples) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The `ftl_mock_` counters and histogram counts that changed, with their difference."""
    keys = set(before) | set(after)
    return {
        key: after.get(key, 0.0) - before.get(key, 0.0)
        for key in keys
        if key[0].startswith("ftl_mock_")
        and (key[0].endswith("_total") or key[0].endswith("_count"))
        and after.get(key, 0.0) != before.get(key, 0.0)
    }


def test_the_metrics_parse_as_prometheus_text_with_conventional_names(mock: MockProcess) -> None:
    response = httpx.get(f"{mock.admin}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert {name: families[name].type for name in FAMILIES if name in families} == FAMILIES
    for family in families.values():
        assert family.documentation, f"{family.name} has no help text"
    for family in families.values():
        if family.type == "counter":
            assert all(sample.name == family.name + "_total" for sample in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
    # A scraper that asks for OpenMetrics gets it.
    openmetrics = httpx.get(f"{mock.admin}/metrics", headers={"Accept": "application/openmetrics-text"}, timeout=10)
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")


def test_requests_count_by_operation_status_and_validation(mock: MockProcess) -> None:
    jobs = mock.url + path_of("list_jobs")
    before = scrape(mock)
    with httpx.Client(timeout=10) as client:
        assert client.get(jobs, headers=KEY).status_code == 200
        assert client.get(jobs, headers=KEY).status_code == 200
        assert client.get(jobs, params={"limit": "abc"}, headers=KEY).status_code == 400
        assert client.get(jobs).status_code == 401
        assert client.get(mock.url + "/nothing-here").status_code == 404
    after = scrape(mock)
    requests = "ftl_mock_requests_total"
    latency = "ftl_mock_request_duration_seconds_count"
    errors = "ftl_mock_client_errors_total"

    assert moved(before, after) == {
        key(requests, operation_id="list_jobs", status="200", validation="passed"): 2,
        key(requests, operation_id="list_jobs", status="400", validation="failed"): 1,
        key(requests, operation_id="list_jobs", status="401", validation="passed"): 1,
        key(requests, operation_id="unmatched", status="404", validation="skipped"): 1,
        key(errors, operation_id="list_jobs", status="400"): 1,
        key(errors, operation_id="list_jobs", status="401"): 1,
        key(errors, operation_id="unmatched", status="404"): 1,
        key(latency, operation_id="list_jobs"): 4,
        key(latency, operation_id="unmatched"): 1,
    }
    # The latency buckets are cumulative and end at +Inf with the count.
    buckets = {
        labels["le"]: v
        for k, v in after.items()
        if k[0] == "ftl_mock_request_duration_seconds_bucket"
        and (labels := dict(k[1])).get("operation_id") == "unmatched"
    }
    assert buckets["+Inf"] == value(after, latency, operation_id="unmatched")
    assert value(after, "ftl_mock_journal_entries") == 5


def test_an_injected_fault_counts_as_a_request_that_was_never_validated(mock: MockProcess) -> None:
    assert httpx.put(f"{mock.admin}/faults", json={"list_jobs": {"error_status": 503}}, timeout=10).status_code == 200
    before = scrape(mock)
    assert httpx.get(mock.url + path_of("list_jobs"), headers=KEY, timeout=10).status_code == 503
    after = scrape(mock)
    assert moved(before, after) == {
        key("ftl_mock_requests_total", operation_id="list_jobs", status="503", validation="skipped"): 1,
        key("ftl_mock_request_duration_seconds_count", operation_id="list_jobs"): 1,
    }


def open_stream(mock: MockProcess, job: str, events: list[str], ready: threading.Event, stop: threading.Event) -> None:
    """Read a job's stream on this thread, noting each event name, until `stop` is set and an event arrives."""
    url = mock.url + path_of("stream_predictions", jobId=job)
    with httpx.stream("GET", url, headers=KEY, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
                ready.set()
                if stop.is_set():
                    return


@pytest.fixture
def quiet_mock(mock_factory: Any) -> MockProcess:
    """A mock whose heartbeats come every 150 s, so a test's event counts are exact."""
    return mock_factory("--time-scale", "10")


@pytest.fixture
def reader(quiet_mock: MockProcess) -> Iterator[Any]:
    """Start stream readers on threads; each one ends after the next event once its stop is set."""
    threads: list[tuple[threading.Thread, threading.Event]] = []

    def start(job: str) -> tuple[list[str], threading.Event]:
        events: list[str] = []
        ready, stop = threading.Event(), threading.Event()
        thread = threading.Thread(target=open_stream, args=(quiet_mock, job, events, ready, stop), daemon=True)
        thread.start()
        assert ready.wait(10), "the stream did not open"
        threads.append((thread, stop))
        return events, stop

    yield start
    for thread, stop in threads:
        stop.set()
        thread.join(timeout=1)


def insert(mock: MockProcess, job: str, count: int) -> None:
    response = httpx.post(f"{mock.admin}/jobs/{job}/predictions", json={"count": count}, timeout=10)
    assert response.status_code == 200, response.text


def test_streams_count_connections_reconnections_durations_and_events(quiet_mock: MockProcess, reader: Any) -> None:
    mock = quiet_mock
    before = scrape(mock)
    events, stop = reader(DEMO_JOB)
    assert value(scrape(mock), "ftl_mock_open_streams") == 1
    insert(mock, DEMO_JOB, 3)
    wait_until(lambda: events.count("prediction") == 3, what="three predictions")
    stop.set()
    insert(mock, DEMO_JOB, 1)  # the reader leaves after this one
    wait_until(lambda: value(scrape(mock), "ftl_mock_open_streams") == 0, what="the stream to close")
    # The same client opens the job's stream again: a reconnection.
    again, stop_again = reader(DEMO_JOB)
    stop_again.set()
    insert(mock, DEMO_JOB, 1)
    wait_until(lambda: value(scrape(mock), "ftl_mock_open_streams") == 0, what="the second stream to close")
    after = scrape(mock)
    assert moved(before, after) == {
        key("ftl_mock_stream_connections_total", job_id=DEMO_JOB): 2,
        key("ftl_mock_stream_reconnections_total", job_id=DEMO_JOB): 1,
        key("ftl_mock_stream_connection_duration_seconds_count"): 2,
        key("ftl_mock_stream_events_sent_total", event="connected"): 2,
        key("ftl_mock_stream_events_sent_total", event="prediction"): 5,
        key("ftl_mock_requests_total", operation_id="stream_predictions", status="200", validation="passed"): 2,
    }
    assert events == ["connected", "prediction", "prediction", "prediction", "prediction"]
    assert again == ["connected", "prediction"]
    assert value(after, "ftl_mock_stream_reconnection_ratio") == 0.5
    # A stream is timed as a connection, not as a request.
    assert value(after, "ftl_mock_request_duration_seconds_count", operation_id="stream_predictions") == 0


def test_a_slow_consumer_dropped_is_counted(mock_factory: Any) -> None:
    mock = mock_factory("--stream-queue", "5", "--time-scale", "10")
    sock = stuck_consumer(mock)
    insert(mock, DEMO_JOB, 3000)
    wait_until(lambda: value(scrape(mock), "ftl_mock_open_streams") == 0, what="the slow stream to be dropped")
    after = scrape(mock)
    read_until_closed(sock)
    assert value(after, "ftl_mock_stream_slow_consumers_dropped_total") == 1
    assert value(after, "ftl_mock_stream_connections_total", job_id=DEMO_JOB) == 1
    assert value(after, "ftl_mock_stream_connection_duration_seconds_count") == 1


def test_the_metrics_need_the_admin_token_when_one_is_set(mock_factory: Any) -> None:
    token = "metrics-token-0123456789"
    mock = mock_factory(env={"FTL_MOCK_ADMIN_TOKEN": token})
    assert httpx.get(f"{mock.admin}/metrics", timeout=10).status_code == 401
    assert value(scrape(mock, {"X-Mock-Admin-Token": token}), "ftl_mock_open_streams") == 0


def test_two_mocks_in_one_process_keep_their_own_registries() -> None:
    first, second = create_app(Settings()), create_app(Settings())
    first.state.requests.record("list_jobs", 200, (), 0.001)
    texts = [MockMetrics(app.state).exposition(None)[0].decode() for app in (first, second)]
    assert 'ftl_mock_requests_total{operation_id="list_jobs",status="200",validation="passed"} 1.0' in texts[0]
    assert "ftl_mock_requests_total{" not in texts[1]
    # Nothing lands in prometheus_client's global registry.
    assert not [m for m in prometheus_client.REGISTRY.collect() if m.name.startswith("ftl_mock")]


def test_event_names_are_read_from_the_chunk_a_writer_sends() -> None:
    assert event_name(b"event: prediction\ndata: {}\n\n") == b"prediction"
    assert event_name(b"event:heartbeat\r\ndata:{}\r\n\r\n") == b"heartbeat"
    assert event_name(b"data: {}\n\n") == b"message"
    assert event_name(b": a comment\n\n") is None
    assert event_name(b'":1}\n\n') is None  # the second part of a split message


def test_job_labels_stop_growing_past_their_cap() -> None:
    counters = StreamCounters()
    for n in range(MAX_JOBS + 5):
        counters.connected(f"job-{n}", "127.0.0.1")
    assert len(counters.connections) == MAX_JOBS + 1
    assert counters.connections[OTHER] == 5


def test_a_scripted_stream_counts_its_events_by_name(quiet_mock: MockProcess) -> None:
    mock = quiet_mock
    scenario = {"steps": [{"emit": "connected"}, {"emit": "heartbeat"}, {"comment": "hi"}, {"close": None}]}
    assert httpx.put(f"{mock.admin}/streams/{DEMO_JOB}", json={"scenario": scenario}, timeout=10).status_code == 200
    before = scrape(mock)
    url = mock.url + path_of("stream_predictions", jobId=DEMO_JOB)
    body = httpx.get(url, headers=KEY, timeout=10).text
    assert body.count("event: ") == 2
    wait_until(lambda: value(scrape(mock), "ftl_mock_open_streams") == 0, what="the scripted stream to end")
    after = scrape(mock)
    assert {dict(k[1])["event"]: v for k, v in moved(before, after).items() if k[0].endswith("events_sent_total")} == {
        "connected": 1,
        "heartbeat": 1,
    }
