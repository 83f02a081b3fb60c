"""ftl-load reads an ftl-mock's `GET /__mock/metrics`: its scrape, the difference over a run, and other targets."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest

from load.server_metrics import ServerMetrics
from load.target import Target
from mockserver.app import create_app
from mockserver.metrics import MockMetrics
from mockserver.process import MockProcess
from mockserver.settings import Settings
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, path_of


def scrape(metrics: MockMetrics) -> ServerMetrics:
    return ServerMetrics.parse(metrics.exposition(None)[0].decode())


def test_the_difference_of_two_scrapes_gives_the_runs_figures() -> None:
    app = create_app(Settings())
    metrics = MockMetrics(app.state)
    before = scrape(metrics)
    requests, counters = app.state.requests, app.state.streams.counters
    requests.record("get_prediction_trends", 200, (), 0.002)
    requests.record("get_prediction_trends", 404, (), 0.001)
    requests.record("stream_predictions", 200, (), None)
    counters.connected("job-1", "127.0.0.1")
    counters.closed("job-1", "127.0.0.1", 3.0)
    counters.connected("job-1", "127.0.0.1")
    counters.closed("job-1", "127.0.0.1", 1.0)
    for name in (b"connected", b"connected", b"prediction"):
        counters.sent(name)
    figures = scrape(metrics).since(before, wall_s=2.0)
    assert figures["requests"] == {"get_prediction_trends": 2, "stream_predictions": 1}
    assert figures["requests_total"] == 3
    assert figures["client_errors"] == 1
    assert (figures["connections"], figures["reconnections"], figures["reconnection_rate"]) == (2, 1, 0.5)
    assert figures["mean_connection_s"] == 2.0
    assert figures["events_sent"] == {"connected": 2, "prediction": 1}
    assert figures["events_per_s"] == 1.5
    assert figures["cpu_s"] is not None and figures["cpu_s"] >= 0


def test_metrics_that_are_not_an_ftl_mocks_are_refused() -> None:
    with pytest.raises(ValueError, match="not the metrics of an ftl-mock"):
        ServerMetrics.parse("# TYPE http_requests_total counter\nhttp_requests_total 3\n")


@pytest.fixture
def not_a_mock() -> Iterator[str]:
    """A server that answers 404 to everything, as a backend without the admin API does."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_a_target_that_is_not_an_ftl_mock_has_no_metrics(not_a_mock: str) -> None:
    target = Target(not_a_mock, ALICE_KEY, ALICE_SESSION_TOKEN)
    assert target.metrics() is None
    assert target.open_streams() is None
    assert target.settled() is None


def test_a_running_mock_reports_its_open_streams_through_its_metrics(mock: MockProcess) -> None:
    target = Target(mock.url, ALICE_KEY, ALICE_SESSION_TOKEN)
    before = target.metrics()
    assert before is not None and target.open_streams() == 0
    httpx.get(mock.url + path_of("list_jobs"), headers={"X-API-Key": ALICE_KEY}, timeout=10)
    after = target.settled()
    assert after is not None
    assert after.since(before, 1.0)["requests"] == {"list_jobs": 1}
