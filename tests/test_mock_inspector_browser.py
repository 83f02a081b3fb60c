"""The inspector page in a real headless Chromium (Debian's `chromium`, driven by Playwright) against a real mock.

It watches a request fail validation, a stream's events arrive, a fault toggled from the page fail the next
request, and the admin token asked for once. Screenshots go to `reports/inspector/` (not committed); the
README's `docs/inspector.png` is one of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.process import MockProcess
from tests.conftest import ALICE_KEY, DEMO_JOB, ROOT, path_of
from tests.test_mock_cors import CHROMIUM, CHROMIUM_FLAGS
from tests.test_mock_hostile import wait_until

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
expect = sync_api.expect

# The flags tests/test_mock_cors.py starts chromium with, less those Playwright sets itself.
ARGS = [flag for flag in CHROMIUM_FLAGS if not flag.startswith(("--headless", "--remote-debugging-port"))]
SHOTS = ROOT / "reports" / "inspector"
KEY = {"X-API-Key": ALICE_KEY}
TOKEN = "inspector-browser-token-0123"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system, launched by Playwright (its own browser download is not used)."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    expect.set_options(timeout=15_000)
    yield opened
    context.close()


def shot(page: Any, name: str) -> Path:
    """Save a screenshot of the whole page under reports/inspector/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class StreamClient:
    """An SDK-like client holding a job's stream on a thread, noting the events it receives."""

    def __init__(self, mock: MockProcess, job: str) -> None:
        self.url = mock.url + path_of("stream_predictions", jobId=job)
        self.events: list[str] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with httpx.stream("GET", self.url, headers=KEY, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("event:"):
                    self.events.append(line.split(":", 1)[1].strip())
                if self.done.is_set():
                    return

    def close(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)


def test_the_page_shows_a_violation_a_stream_tail_and_a_fault_toggled_from_it(mock_factory: Any, page: Any) -> None:
    mock = mock_factory("--time-scale", "0.1")
    page.goto(f"{mock.admin}/")
    expect(page.locator("#status")).to_have_text("live")

    # A request that fails validation shows up with each violation and its rule.
    bad = httpx.get(mock.url + path_of("list_jobs"), params={"limit": "many"}, headers=KEY, timeout=10)
    assert bad.status_code == 400
    entry = page.locator("#journal .entry[data-status='400']").first
    expect(entry).to_contain_text("list_jobs")
    entry.locator(".summary").click()
    violation = entry.locator(".violation").first
    expect(violation).to_contain_text("limit")
    expect(violation.locator(".rule")).to_have_text("Type")
    expect(entry.locator(".headers")).to_contain_text("wak_j6S4…")  # the key, shortened as the journal keeps it
    shot(page, "violation")

    # A client's stream appears with its tail; predictions inserted from the page reach it and the tail.
    client = StreamClient(mock, DEMO_JOB)
    try:
        stream = page.locator(f"#streams .stream[data-job='{DEMO_JOB}']")
        expect(stream.locator(".tail .msg[data-event='connected']")).to_have_count(1)
        page.fill("#insert-job", DEMO_JOB)
        page.fill("#insert-count", "3")
        page.click("#insert-form button[type='submit']")
        expect(page.locator("#message")).to_contain_text(f"3 predictions inserted into {DEMO_JOB}")
        expect(stream.locator(".tail .msg[data-event='prediction']")).to_have_count(3)
        wait_until(lambda: client.events.count("prediction") == 3, what="the client to get the three predictions")
        expect(page.locator("#metrics dd[data-metric='open streams']")).to_have_text("1")
        shot(page, "stream")

        # A scenario bound from the page.
        page.fill("#bind-job", "job_demo_paused")
        page.select_option("#bind-scenario", "flaky")
        page.click("#bind-form button[type='submit']")
        expect(page.locator("#bindings .binding[data-job='job_demo_paused']")).to_contain_text("flaky")
        assert httpx.get(f"{mock.admin}/streams", timeout=10).json()["bindings"]["job_demo_paused"]["name"] == "flaky"

        # A fault toggled on from the page fails the next request; toggled off, the next one passes again.
        page.select_option("#fault-operation", "list_jobs")
        page.fill("#fault-status", "503")
        page.click("#fault-form button[type='submit']")
        fault = page.locator("#faults tr[data-operation='list_jobs']")
        expect(fault).to_contain_text("HTTP 503")
        assert httpx.get(mock.url + path_of("list_jobs"), headers=KEY, timeout=10).status_code == 503
        expect(page.locator("#journal .entry[data-status='503']")).to_have_count(1)
        shot(page, "inspector")  # the README's docs/inspector.png
        fault.locator("button").click()
        expect(fault).to_have_count(0)
        assert httpx.get(mock.url + path_of("list_jobs"), headers=KEY, timeout=10).status_code == 200

        # The journal filters by operation and status.
        page.select_option("#filter-status", "5xx")
        expect(page.locator("#journal .entry")).to_have_count(1)
        page.select_option("#filter-status", "")
        page.select_option("#filter-operation", "stream_predictions")
        expect(page.locator("#journal .entry")).to_have_count(1)
    finally:
        client.close()
    # The page itself talks only to the admin API: nothing of it lands in the contract's journal.
    paths = {e["path"] for e in httpx.get(f"{mock.admin}/journal", timeout=10).json()["entries"]}
    assert paths == {path_of("list_jobs"), path_of("stream_predictions", jobId=DEMO_JOB)}


def test_a_locked_mock_asks_for_the_token_once_and_the_page_goes_live(mock_factory: Any, page: Any) -> None:
    mock = mock_factory(env={"FTL_MOCK_ADMIN_TOKEN": TOKEN})
    page.goto(f"{mock.admin}/")
    expect(page.locator("#token-form")).to_be_visible()
    expect(page.locator("#status")).to_have_text("locked")
    page.fill("#token", TOKEN + "-wrong")
    page.click("#token-form button[type='submit']")
    expect(page.locator("#token-form")).to_be_visible()  # refused again: asked again
    page.fill("#token", TOKEN)
    page.click("#token-form button[type='submit']")
    expect(page.locator("#status")).to_have_text("live")
    expect(page.locator("#token-form")).to_be_hidden()
    httpx.get(mock.url + path_of("list_jobs"), headers=KEY, timeout=10)
    expect(page.locator("#journal .entry[data-status='200']")).to_have_count(1)
    # A write from the page carries the token and the JSON type the admin API requires.
    page.select_option("#fault-operation", "list_jobs")
    page.fill("#fault-latency", "5")
    page.click("#fault-form button[type='submit']")
    expect(page.locator("#faults tr[data-operation='list_jobs']")).to_contain_text("+5 ms")
    # The token lives in this tab's session storage only.
    assert page.evaluate("sessionStorage.getItem('ftl-mock-admin-token')") == TOKEN
    assert page.evaluate("localStorage.length") == 0
