"""ftl-mock under hostile input: no 5xx, no traceback, memory bounded in bytes, slow clients cut off.

Every case runs against a real mock process; its log (stdout and stderr) must stay free of tracebacks,
and its memory is read from /proc/<pid>/status.
"""

from __future__ import annotations

import json
import math
import random
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from mockserver.cli import GRACEFUL_SHUTDOWN_S
from mockserver.process import MockProcess
from mockserver.resources._shapes import mean
from mockserver.resources.traces import _trend
from mockserver.wire import MAX_DEPTH, depth, text, too_deep
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN, path_of

MIB = 1024 * 1024
KEY = {"X-API-Key": ALICE_KEY}
SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}


def rss(pid: int) -> int:
    """The resident memory of a process in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def address(mock: MockProcess) -> tuple[str, int]:
    host, _, port = mock.url.removeprefix("http://").rpartition(":")
    return host, int(port)


def connect(mock: MockProcess, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(address(mock), timeout=timeout)
    return sock


def request_head(mock: MockProcess, method: str, path: str, headers: dict[str, str], version: str = "1.1") -> bytes:
    host, port = address(mock)
    lines = [f"{method} {path} HTTP/{version}", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    received = bytearray()
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return bytes(received)


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The response head and whatever body bytes came with it."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a response head: {received!r}")
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def header_values(head: bytes, name: str) -> list[str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [value.strip() for key, _, value in (line.partition(":") for line in lines) if key.lower() == name]


def assert_clean(mock: MockProcess) -> None:
    log = mock.logged()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def wait_until(condition, timeout: float = 10.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def health(mock: MockProcess) -> dict:
    return httpx.get(f"{mock.admin}/health", timeout=10).json()


@pytest.fixture
def fresh(mock_factory) -> MockProcess:  # type: ignore[no-untyped-def]
    """A mock of its own (its log is read, its process may be stopped)."""
    return mock_factory("--time-scale", "0.05")


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# --- the nesting scan ------------------------------------------------------------------------------


def random_value(rng: random.Random, level: int) -> object:
    roll = rng.random()
    if level > 12 or roll < 0.3:
        return rng.choice(["plain", "a[b{c", "]]}}", '\\"[', "\\\\", 7, None, True, "\u2028[x]"])
    if roll < 0.65:
        return [random_value(rng, level + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}[": random_value(rng, level + 1) for i in range(rng.randint(0, 3))}


def test_the_nesting_scan_agrees_with_the_parsed_depth_and_ignores_brackets_in_strings() -> None:
    rng = random.Random(13)
    for _ in range(2000):
        value = random_value(rng, 0)
        raw = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        for limit in (0, 1, 3, 8):
            assert too_deep(raw, limit) == (depth(value) > limit), (limit, raw)
    assert not too_deep(json.dumps({"text": "[" * 500}).encode())
    assert too_deep(json.dumps(["]" * 500, nested(MAX_DEPTH + 1)]).encode())
    assert not too_deep(json.dumps(nested(MAX_DEPTH)).encode())


# --- deep nesting: request bodies, uploaded files, stored values ------------------------------------


def test_a_deeply_nested_body_is_a_400_naming_the_limit_before_authentication(fresh) -> None:
    deep = b"[" * 256 + b"]" * 256
    for operation in ("create_predictions", "create_job", "create_metrics_batch"):
        response = httpx.post(
            fresh.url + path_of(operation), content=deep, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert response.status_code == 400, (operation, response.text)
        assert f"more than {MAX_DEPTH} levels" in response.text
    assert_clean(fresh)


def test_a_deeply_nested_dataset_file_is_an_invalid_dataset(fresh) -> None:
    deep = ("[" * 2000 + "]" * 2000 + "\n").encode()
    for content in (deep, b'{"text": "fine"}\n' + deep):
        response = httpx.post(
            fresh.url + path_of("upload_dataset"),
            data={"name": "deep", "format": "jsonl"},
            files={"file": ("deep.jsonl", content, "application/x-ndjson")},
            headers=SESSION,
            timeout=10,
        )
        if content is deep:
            assert response.status_code == 400, response.text
            assert any(f"more than {MAX_DEPTH} levels" in detail for detail in response.json()["details"])
        else:
            assert response.status_code == 200, response.text
            assert response.json()["dataset"]["metadata"]["errors"] == [
                f"line 2: nests arrays and objects more than {MAX_DEPTH} levels deep"
            ]
    assert_clean(fresh)


def test_a_deep_stored_value_is_refused_and_the_data_dump_keeps_working(fresh) -> None:
    created = httpx.post(
        fresh.url + path_of("create_job"), json={"job_id": "job_deep", "config": nested(600)}, headers=KEY, timeout=10
    )
    assert created.status_code == 400 and f"more than {MAX_DEPTH} levels" in created.text
    jobs = httpx.get(f"{fresh.admin}/data", params={"secrets": 1}, timeout=10).json()["jobs"]
    loaded = httpx.put(f"{fresh.admin}/data", json={"jobs": [{**jobs[0], "config": nested(600)}]}, timeout=10)
    assert loaded.status_code == 400 and "levels deep" in loaded.text
    fits = {**jobs[0], "id": "job_fits", "config": nested(MAX_DEPTH - 1)}
    assert httpx.put(f"{fresh.admin}/data", json={"jobs": [*jobs, fits]}, timeout=10).status_code == 200
    assert httpx.get(f"{fresh.admin}/data", timeout=10).status_code == 200
    assert_clean(fresh)


# --- numbers at a float's edge -----------------------------------------------------------------------


def test_the_wire_writes_nan_and_infinities_as_null_like_json_stringify() -> None:
    written = text({"a": [1.5, math.inf, -math.inf], "b": {"c": math.nan}, "d": (2, 3)})
    assert written == '{"a":[1.5,null,null],"b":{"c":null},"d":[2,3]}'
    assert text({"a": 1.7e308}) == '{"a":1.7e+308}'  # finite numbers untouched


def test_analytics_over_the_largest_and_smallest_floats_stay_finite() -> None:
    assert mean([1.7e308] * 3) == pytest.approx(1.7e308) and mean([]) is None
    # A tiny first point makes the change no float: no percentage, as with a first point of 0.
    assert _trend([5e-324, 1e308]) == {"direction": "stable", "changePercent": 0, "dataPoints": 2, "confidence": "low"}
    assert _trend([-1.7e308, 1.7e308])["changePercent"] == 0
    assert _trend([1.0, 2.0])["changePercent"] == 100.0


# --- memory bounded in bytes -----------------------------------------------------------------------


def test_fifty_rejected_9_mib_bodies_leave_memory_within_the_journal_budget(mock_factory) -> None:
    budget = 4 * MIB
    mock = mock_factory("--journal-bytes", "4MiB")
    url = mock.url + path_of("create_predictions")
    body = b'{"job_id":"job_demo_001","predictions":"' + b"x" * (9 * MIB) + b'"}'
    with httpx.Client(timeout=60) as client:
        client.post(url, content=b"{}", headers={"Content-Type": "application/json"})
        before = rss(mock.pid)
        statuses = {
            client.post(url, content=body, headers={"Content-Type": "application/json"}).status_code for _ in range(50)
        }
        after = rss(mock.pid)
    journal = health(mock)["journal"]
    assert statuses == {400}
    assert journal["bytes"] <= budget and journal["total"] >= 51
    # The journal keeps at most 8 KiB of each body; what else stays is one request's working set at most
    # (its raw body, the text and the parsed value), not fifty of them.
    assert after - before <= budget + 3 * len(body), f"RSS {before / MIB:.0f} -> {after / MIB:.0f} MiB"
    entry = httpx.get(f"{mock.admin}/journal", params={"limit": 1}, timeout=10).json()["entries"][0]
    assert entry["body_bytes"] == len(body) and len(entry["body"]) < 9 * 1024
    assert_clean(mock)


def test_one_megabyte_headers_are_refused_with_431_and_not_kept(fresh) -> None:
    before = rss(fresh.pid)
    for _ in range(100):
        response = httpx.get(fresh.url + "/nowhere", headers={"X-Big": "b" * MIB}, timeout=10)
        assert response.status_code == 431
        assert "--header-limit" in response.json()["error"]
    assert rss(fresh.pid) - before <= 16 * MIB
    assert health(fresh)["journal"]["total"] == 0, "a refused head never reaches the journal"
    assert_clean(fresh)


def test_the_journal_keeps_a_bounded_part_of_each_body_and_header(mock) -> None:
    big = "h" * 20_000
    body = b'{"pad": "' + b"p" * 100_000 + b'"}'
    response = httpx.post(
        mock.url + path_of("create_predictions"),
        content=body,
        headers={"Content-Type": "application/json", "X-Padding": big},
        timeout=10,
    )
    assert response.status_code == 400
    entry = httpx.get(f"{mock.admin}/journal", params={"limit": 1}, timeout=10).json()["entries"][0]
    assert entry["body_bytes"] == len(body) and entry["body"].endswith("more bytes)") and len(entry["body"]) < 8300
    assert entry["headers_bytes"] > 20_000
    assert entry["headers"]["x-padding"].endswith(f"({20_000 - 1024} more bytes)")


def test_the_journal_drops_the_oldest_entries_past_its_byte_budget(mock_factory) -> None:
    mock = mock_factory("--journal-bytes", "64KiB")
    for _ in range(40):
        httpx.post(
            mock.url + path_of("create_predictions"),
            content=b'{"pad": "' + b"p" * 8000 + b'"}',
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    journal = health(mock)["journal"]
    assert journal["bytes"] <= 64 * 1024 and journal["entries"] < 40 == journal["total"]


def test_admin_bodies_have_their_own_limit(mock_factory) -> None:
    mock = mock_factory("--admin-body-limit", "1KiB")
    response = httpx.put(f"{mock.admin}/faults", json={"*": {"latency_ms": 1}, "pad": "x" * 2000}, timeout=10)
    assert response.status_code == 413 and "at most 1024 bytes" in response.json()["error"]
    assert httpx.put(f"{mock.admin}/faults", json={}, timeout=10).status_code == 200


# --- slow and lying clients ------------------------------------------------------------------------


def test_a_slowloris_head_is_cut_off_after_the_read_timeout_while_others_are_served(mock_factory) -> None:
    mock = mock_factory("--read-timeout", "1")
    started = time.monotonic()  # before the connect: the server's clock starts when it accepts, never earlier
    slow = connect(mock)
    slow.sendall(b"GET /__mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
    idle = connect(mock)  # connects and never sends a byte
    served = []
    while time.monotonic() - started < 0.8:
        try:
            slow.sendall(b"a")
        except OSError:
            break
        served.append(httpx.get(f"{mock.admin}/health", timeout=5).status_code)
    answer = read_until_closed(slow)
    elapsed = time.monotonic() - started
    assert served and set(served) == {200}, "other clients are served meanwhile"
    assert answer.startswith(b"HTTP/1.1 408 ") and b"--read-timeout" in answer
    # asyncio's timers may fire up to a clock tick early; the point is "not at once, and not never"
    assert 0.9 <= elapsed < 5.0, f"closed after {elapsed:.2f} s"
    assert read_until_closed(idle) == b"", "a silent connection is closed without an answer"
    assert_clean(mock)


def test_a_lying_content_length_gets_a_408_and_the_connection_closes(mock_factory) -> None:
    mock = mock_factory("--read-timeout", "1")
    sock = connect(mock)
    head = request_head(
        mock,
        "POST",
        path_of("create_predictions"),
        {"Content-Type": "application/json", "Content-Length": "1000", "Authorization": f"Bearer {DEMO_JOB_TOKEN}"},
    )
    started = time.monotonic()
    sock.sendall(head + b'{"job_id": ')
    answer = read_until_closed(sock)
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"must arrive within 1 s" in answer and b"connection: close" in answer.lower()
    assert 0.9 <= elapsed < 5.0, f"closed after {elapsed:.2f} s"
    # A route that never reads the body answers at once; the unsent rest must still come within the bound.
    sock = connect(mock)
    started = time.monotonic()
    sock.sendall(request_head(mock, "GET", "/__mock/health", {"Content-Length": "1000"}) + b"x")
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ") and 0.9 <= time.monotonic() - started < 5.0
    assert_clean(mock)


def test_a_stream_with_a_pipelined_request_ends_quietly_when_the_client_leaves(fresh) -> None:
    sock = connect(fresh)
    stream = request_head(fresh, "GET", path_of("stream_predictions", jobId=DEMO_JOB), KEY)
    sock.sendall(stream + request_head(fresh, "GET", "/__mock/health", {}))
    head, _ = read_head(sock)
    assert head.startswith(b"HTTP/1.1 200 ")
    wait_until(lambda: health(fresh)["open_streams"] == 1, what="the stream to open")
    sock.close()
    wait_until(lambda: health(fresh)["open_streams"] == 0, what="the stream to be released")
    # The heartbeat clock keeps writing to the other streams; give it a beat to hit a closed transport.
    httpx.post(f"{fresh.admin}/jobs/{DEMO_JOB}/predictions", json={"count": 2}, timeout=10)
    assert_clean(fresh)


def test_an_http_1_0_stream_client_gets_a_close_delimited_stream(fresh) -> None:
    sock = connect(fresh)
    sock.sendall(request_head(fresh, "GET", path_of("stream_predictions", jobId=DEMO_JOB), KEY, version="1.0"))
    head, body = read_head(sock)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert header_values(head, "connection") == ["close"]
    assert header_values(head, "transfer-encoding") == [] and header_values(head, "content-length") == []
    while b"\n\n" not in body:
        body += sock.recv(65536)
    assert body.startswith(b"event: connected\ndata: {"), body[:80]
    sock.close()
    wait_until(lambda: health(fresh)["open_streams"] == 0, what="the stream to be released")
    response = httpx.get(fresh.url + path_of("get_predictions", jobId=DEMO_JOB), headers=KEY, timeout=10)
    assert response.status_code == 200, "HTTP/1.1 clients are unaffected"
    assert_clean(fresh)


def stuck_consumer(mock: MockProcess) -> socket.socket:
    """A stream client whose socket takes a few KiB and then nothing (it never reads)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(address(mock))
    sock.sendall(request_head(mock, "GET", path_of("stream_predictions", jobId=DEMO_JOB), KEY))
    wait_until(lambda: health(mock)["open_streams"] == 1, what="the stream to open")
    return sock


def test_a_slow_consumer_is_disconnected_at_once_and_leaves_open_streams(mock_factory) -> None:
    mock = mock_factory("--stream-queue", "5", "--time-scale", "0.05")
    sock = stuck_consumer(mock)
    inserted = httpx.post(f"{mock.admin}/jobs/{DEMO_JOB}/predictions", json={"count": 3000}, timeout=30)
    assert inserted.status_code == 200
    wait_until(lambda: health(mock)["open_streams"] == 0, what="the slow stream to be released")
    assert httpx.get(f"{mock.admin}/streams", timeout=10).json()["dropped_slow"] == 1
    read_until_closed(sock)  # what was in flight, then the end: the connection is gone
    assert_clean(mock)


def test_sigterm_with_a_stuck_consumer_stops_promptly_and_quietly(mock_factory) -> None:
    mock = mock_factory("--stream-queue", "100000", "--time-scale", "0.05")
    sock = stuck_consumer(mock)
    httpx.post(f"{mock.admin}/jobs/{DEMO_JOB}/predictions", json={"count": 3000}, timeout=30)
    started = time.monotonic()
    mock.process.send_signal(signal.SIGTERM)
    code = mock.process.wait(timeout=10)
    elapsed = time.monotonic() - started
    sock.close()
    assert code == 0
    # Not held until uvicorn's graceful-shutdown timeout (which would also log "timeout graceful shutdown").
    assert elapsed < GRACEFUL_SHUTDOWN_S, f"stopped after {elapsed:.2f} s"
    log = mock.logged()
    assert "Traceback" not in log and "CancelledError" not in log and "timeout graceful shutdown" not in log, log
