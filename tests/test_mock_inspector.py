"""The inspector at `/__mock/`: the page for a browser, the JSON index for everyone else, and its live feed.

The feed (`GET /__mock/events`) is read over real HTTP as server-sent events; the browser itself is driven in
tests/test_mock_inspector_browser.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from mockserver.access import ADMIN_TOKEN_HEADER
from mockserver.admin import ROUTES
from mockserver.app import create_app
from mockserver.inspector import feed as feed_module
from mockserver.inspector.feed import Feed, FeedBusy
from mockserver.metrics import MockMetrics
from mockserver.process import MockProcess
from mockserver.settings import Settings
from tests.conftest import ALICE_KEY, DEMO_JOB, path_of

KEY = {"X-API-Key": ALICE_KEY}
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
TOKEN = "inspector-token-0123456789"


def test_a_browser_gets_the_page_and_every_other_client_the_json_index(mock: MockProcess) -> None:
    page = httpx.get(f"{mock.admin}/", headers=HTML, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/__mock/inspector/inspector.js"' in page.text
    index = httpx.get(f"{mock.admin}/", timeout=10)
    assert index.headers["content-type"] == "application/json"
    assert set(index.json()["endpoints"]) == {f"{route.method} {route.full_path}" for route in ROUTES}
    assert {"GET /__mock/metrics", "GET /__mock/events"} <= set(index.json()["endpoints"])


def test_the_page_loads_only_files_the_mock_itself_serves(mock: MockProcess) -> None:
    html = httpx.get(f"{mock.admin}/", headers=HTML, timeout=10).text
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links, "the page links its script and style sheet"
    assert not [link for link in links if "//" in link], "no CDN, no other host: the page works offline"
    kinds = {}
    for link in links:
        if link.startswith("data:"):
            continue
        answer = httpx.get(mock.url + link, timeout=10)
        assert answer.status_code == 200, link
        kinds[link.rsplit(".", 1)[1]] = answer.headers["content-type"]
    assert kinds == {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


@pytest.mark.parametrize("name", ["nothing.js", "index.html", "..%2fadmin.py"])
def test_the_inspector_serves_no_other_file(mock: MockProcess, name: str) -> None:
    answer = httpx.get(f"{mock.admin}/inspector/{name}", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"].startswith(("asset: the inspector has no file", "Not found: the admin API has no"))


@pytest.fixture
def locked(mock_factory: Any) -> MockProcess:
    return mock_factory(env={"FTL_MOCK_ADMIN_TOKEN": TOKEN})


def test_with_an_admin_token_the_page_loads_without_it_and_every_figure_needs_it(locked: MockProcess) -> None:
    assert httpx.get(f"{locked.admin}/", headers=HTML, timeout=10).status_code == 200
    assert httpx.get(f"{locked.admin}/inspector/inspector.js", timeout=10).status_code == 200
    assert httpx.get(f"{locked.admin}/", timeout=10).status_code == 401, "the JSON index still needs the token"
    for path in ("/events", "/metrics", "/journal"):
        assert httpx.get(f"{locked.admin}{path}", headers=HTML, timeout=10).status_code == 401, path
    with feed(locked, {ADMIN_TOKEN_HEADER: TOKEN}) as events:
        assert next(events).event == "hello"


@contextlib.contextmanager
def feed(mock: MockProcess, headers: dict[str, str] | None = None) -> Iterator[Iterator[ServerSentEvent]]:
    """The mock's live feed as an iterator of events (10 s without one is a failure)."""
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=10)) as client,
        connect_sse(client, "GET", f"{mock.admin}/events", headers=dict(headers or {})) as source,
    ):
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        yield source.iter_sse()


def until(events: Iterator[ServerSentEvent], name: str, test: Callable[[Any], bool] = lambda _: True) -> Any:
    """The data of the next `name` event that passes `test` (the feed sends only what changed)."""
    for event in events:
        if event.event == name:
            data = json.loads(event.data)
            if test(data):
                return data
    raise AssertionError(f"the feed ended before a {name} event")


def test_the_feed_sends_a_new_request_with_every_violation_and_its_rule(mock: MockProcess) -> None:
    with feed(mock) as events:
        hello = until(events, "hello")
        assert "create_predictions" in hello["operations"]
        body = {"job_id": 3, "predictions": [{"epoch": "one"}]}
        answer = httpx.post(mock.url + path_of("create_predictions"), json=body, timeout=10)
        assert answer.status_code == 400
        journal = until(
            events, "journal", lambda d: any(e["operation_id"] == "create_predictions" for e in d["entries"])
        )
    (entry,) = [e for e in journal["entries"] if e["operation_id"] == "create_predictions"]
    assert entry["status"] == 400 and entry["validation"]["ok"] is False
    assert json.loads(entry["body"]) == body
    rules = {(v["location"], v["rule"]) for v in entry["violations"]}
    assert ("body.job_id", "Type") in rules
    assert len(entry["violations"]) == len(entry["validation"]["violations"])


def test_the_feed_lists_the_newest_request_first(mock: MockProcess) -> None:
    for limit in ("1", "2", "3"):
        httpx.get(mock.url + path_of("list_jobs"), params={"limit": limit}, headers=KEY, timeout=10)
    with feed(mock) as events:
        journal = until(events, "journal")
    assert [e["query"] for e in journal["entries"]] == ["limit=3", "limit=2", "limit=1"]


def test_the_feed_shows_an_open_stream_its_tail_and_every_panel_that_changes(mock_factory: Any) -> None:
    mock = mock_factory("--time-scale", "10")
    done = threading.Event()

    def read_stream() -> None:
        url = mock.url + path_of("stream_predictions", jobId=DEMO_JOB)
        with httpx.stream("GET", url, headers=KEY, timeout=30) as response:
            for _ in response.iter_lines():
                if done.is_set():
                    return

    reader = threading.Thread(target=read_stream, daemon=True)
    reader.start()
    try:
        with feed(mock) as events:
            until(events, "streams", lambda d: d["open"] == 1)
            httpx.post(f"{mock.admin}/jobs/{DEMO_JOB}/predictions", json={"count": 2}, timeout=10)
            streams = until(events, "streams", lambda d: d["shown"] and d["shown"][0]["events"] == 3)
            (stream,) = streams["shown"]
            assert stream["job_id"] == DEMO_JOB and stream["client"].startswith("127.0.0.1:")
            assert [m["event"] for m in stream["tail"]] == ["connected", "prediction", "prediction"]
            assert json.loads(stream["tail"][-1]["data"])["total_count"] >= 2
            metrics = until(events, "metrics", lambda d: d["events_sent"].get("prediction") == 2)
            assert metrics["open_streams"] == 1 and metrics["stream_connections"] == 1

            table = httpx.put(f"{mock.admin}/faults", json={"list_jobs": {"error_status": 503}}, timeout=10).json()
            assert until(events, "faults", bool) == table
            assert table["list_jobs"]["error_status"] == 503
            httpx.put(f"{mock.admin}/streams/job_demo_paused", json={"scenario": "flaky"}, timeout=10)
            bindings = until(events, "bindings", lambda d: bool(d["bindings"]))
            assert bindings["bindings"]["job_demo_paused"]["name"] == "flaky"
            httpx.delete(f"{mock.admin}/journal", timeout=10)
            until(events, "journal-cleared")
    finally:
        done.set()
        httpx.post(f"{mock.admin}/jobs/{DEMO_JOB}/predictions", json={"count": 1}, timeout=10)
        reader.join(timeout=5)


def test_head_on_the_feed_answers_at_once(mock: MockProcess) -> None:
    answer = httpx.head(f"{mock.admin}/events", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")


def test_a_mock_with_a_page_watching_stops_cleanly(mock_factory: Any) -> None:
    mock = mock_factory()
    opened = threading.Event()

    def watch() -> None:
        try:
            with feed(mock) as events:
                next(events)
                opened.set()
                for _ in events:
                    pass
        except httpx.HTTPError:
            pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert opened.wait(10)
    started = time.monotonic()
    mock.stop()
    assert mock.process.returncode == 0, "the mock had to be killed: the feed kept it from stopping"
    assert time.monotonic() - started < 5
    watcher.join(timeout=5)
    assert not watcher.is_alive(), "the page's feed did not end with the mock"


def test_the_feed_refuses_a_page_past_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_module, "MAX_WATCHERS", 2)
    app = create_app(Settings())
    live = Feed(app.state, MockMetrics(app.state))

    async def watch_three() -> None:
        first, second = live.open(), live.open()
        await anext(first)
        await anext(second)
        with pytest.raises(FeedBusy):
            live.open()
        await first.aclose()
        assert live.watchers == 1
        await anext(live.open())

    asyncio.run(watch_three())
