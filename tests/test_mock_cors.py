"""CORS on the mock: a page from another origin can call every operation and read the prediction stream.

First as a browser speaks it, with headers (preflight, then the cross-origin request), then once in a real
headless Chromium when Debian's `chromium` is installed (`.ci/run` installs it where apt-get works).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

import spec
from mockserver.process import MockProcess
from tests.conftest import ALICE_KEY, DEMO_JOB, path_of

ORIGIN = "http://dashboard.example:3000"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


def filled(operation: spec.Operation) -> str:
    """A path of the contract with every template filled (a preflight does not care which resource)."""
    return operation.path_for(**{p.name: p.name for p in operation.parameters_in("path")})


def preflight(
    client: httpx.Client, method: str, path: str, headers: str = "authorization, x-api-key"
) -> httpx.Response:
    return client.options(
        path,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def test_every_operation_answers_a_browser_preflight(mock: MockProcess) -> None:
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        for operation in spec.load().operations.values():
            answer = preflight(client, operation.method, filled(operation))
            assert answer.status_code == 200, (operation.operation_id, answer.text)
            assert answer.headers["access-control-allow-origin"] == "*"
            assert operation.method in answer.headers["access-control-allow-methods"]
            assert answer.headers["access-control-allow-headers"] == "authorization, x-api-key"
        # The admin API is same-origin only: another site's preflight is refused and allows nothing.
        admin = preflight(client, "PUT", "/__mock/faults", "content-type")
        assert admin.status_code == 403
        assert "access-control-allow-origin" not in admin.headers


def test_a_cross_origin_stream_read_gets_its_events_and_the_allow_origin_header(mock: MockProcess) -> None:
    stream = path_of("stream_predictions", jobId=DEMO_JOB)
    headers = {"Origin": ORIGIN, "X-API-Key": ALICE_KEY, "Accept": "text/event-stream"}
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        assert preflight(client, "GET", stream, "x-api-key").status_code == 200
        with client.stream("GET", stream, headers=headers) as answer:
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == "*"
            assert answer.headers["access-control-expose-headers"] == "*"
            assert answer.headers["content-type"].startswith("text/event-stream")
            first = next(answer.iter_lines())
    assert first == "event: connected"


def test_a_request_without_origin_gets_no_cors_headers(mock: MockProcess) -> None:
    answer = httpx.get(mock.url + path_of("list_jobs"), headers={"X-API-Key": ALICE_KEY}, timeout=10)
    assert answer.status_code == 200
    assert not [name for name in answer.headers if name.startswith("access-control-")]
    # Without Origin an OPTIONS is no preflight: the contract's router answers it (no operation takes OPTIONS).
    assert httpx.options(mock.url + path_of("list_jobs"), timeout=10).status_code == 405


@pytest.mark.parametrize(("args", "env"), [(("--no-cors",), {}), ((), {"FTL_MOCK_CORS": "off"})])
def test_cors_can_be_turned_off(mock_factory, args: tuple[str, ...], env: dict[str, str]) -> None:
    handle = mock_factory(*args, env=env)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        assert preflight(client, "GET", path_of("list_jobs")).status_code == 405
        answer = client.get(path_of("list_jobs"), headers={"Origin": ORIGIN, "X-API-Key": ALICE_KEY})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


# --- a real browser -------------------------------------------------------------------------------

# What the dashboard's own hook does (reference §3.2): fetch the stream with a header and read it as it
# arrives; plus a JSON call whose header makes the browser send a preflight first.
PAGE_SCRIPT = """
async (mock, stream, jobs, key) => {
  const listed = await fetch(mock + jobs, {headers: {"X-API-Key": key}});
  const response = await fetch(mock + stream, {headers: {"X-API-Key": key, "Accept": "text/event-stream"}});
  const reader = response.body.getReader();
  let text = "";
  while (!text.includes("\\n\\n")) {
    const {value, done} = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  return {origin: location.origin, listed: listed.status, status: response.status,
          type: response.headers.get("content-type"), first: text.split("\\n\\n")[0]};
}
"""


@contextlib.contextmanager
def page_server() -> Iterator[str]:
    """An HTTP server on another port: the origin the page comes from."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>dashboard</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium(url: str) -> Iterator[str]:
    """Headless Chromium showing `url`; yields the DevTools websocket of that page."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            socket_url = page_socket(Path(profile) / "DevToolsActivePort", url, process)
            wait_loaded(socket_url, url)
            yield socket_url
        finally:
            # Chromium's helper processes share its session: stop them all, then wait for the browser.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def page_socket(port_file: Path, url: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "chromium exited"
        if port_file.exists() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
            for page in pages:
                if page.get("type") == "page" and page.get("url") == url:
                    return str(page["webSocketDebuggerUrl"])
        time.sleep(0.2)
    raise AssertionError("chromium did not open the page within 30 s")


def wait_loaded(socket_url: str, url: str) -> None:
    """Wait until the page's own document has loaded: a fetch started in the blank one before it is cancelled."""
    deadline = time.monotonic() + 30
    while evaluate(socket_url, "document.readyState + ' ' + location.href") != f"complete {url}":
        assert time.monotonic() < deadline, "chromium did not load the page within 30 s"
        time.sleep(0.1)


def evaluate(socket_url: str, expression: str) -> Any:
    """Evaluate an async expression in the page (DevTools protocol) and return its value."""
    with connect(socket_url, max_size=None, open_timeout=10) as devtools:
        devtools.send(
            json.dumps(
                {
                    "id": 1,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expression, "awaitPromise": True, "returnByValue": True},
                }
            )
        )
        while True:
            message = json.loads(devtools.recv(timeout=30))
            if message.get("id") == 1:
                result = message["result"]
                assert "exceptionDetails" not in result, result["exceptionDetails"]
                return result["result"]["value"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_headless_chromium_on_another_origin_calls_the_mock_and_reads_the_stream(mock: MockProcess) -> None:
    stream, jobs = path_of("stream_predictions", jobId=DEMO_JOB), path_of("list_jobs")
    with page_server() as page, chromium(page) as socket_url:
        arguments = ", ".join(json.dumps(value) for value in (mock.url, stream, jobs, ALICE_KEY))
        seen = evaluate(socket_url, f"({PAGE_SCRIPT})({arguments})")
    assert seen["origin"] == page.rstrip("/")
    assert seen["listed"] == 200
    assert seen["status"] == 200
    assert seen["type"].startswith("text/event-stream")
    assert seen["first"].startswith("event: connected\ndata: ")
    # The browser really went cross-origin: the mock journaled its preflights and the Origin it sent.
    journal = httpx.get(f"{mock.admin}/journal", timeout=10).json()["entries"]
    origins = {entry["headers"].get("origin") for entry in journal if entry["operation_id"] == "stream_predictions"}
    assert page.rstrip("/") in origins
