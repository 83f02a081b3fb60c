"""Prediction-stream capacity of one ftl-mock worker against a bare Starlette broadcast app.

Measures streams held with heartbeats at a scaled rate and server memory per stream (RSS delta / streams),
then the time from one prediction upload to its event at every one of N subscribers of the job (p50, p99).
Both servers run under uvicorn in their own process; clients are raw asyncio sockets in separate processes,
each on its own loopback address. Usage:
    python -m load.benchmarks.sse_capacity [--streams 10000] [--subscribers 1000,5000] [--uploads 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing as mp
import os
import re
import resource
import socket
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

import spec
from mockserver import process as launcher
from mockserver.process import MockProcess

try:
    import uvloop
except ImportError:  # uvicorn[standard] brings it on every platform but Windows
    uvloop = None  # type: ignore[assignment]

START_TIMEOUT_S = 60.0
OPEN_TIMEOUT_S = 180.0
EVENT_TIMEOUT_S = 30.0
CONNECT_BATCH = 200
TOTAL = re.compile(rb'"total_count":(\d+)')


def env_default(name: str, default: str) -> str:
    """A default overridable by the FTL_LOAD_<NAME> environment variable."""
    return os.environ.get(f"FTL_LOAD_{name.upper()}", default)


def raise_fd_limit() -> int:
    """Raise the open-files limit to the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- the bare reference app -------------------------------------------------------------------


def serve_bare(heartbeat_s: float) -> None:
    """A bare Starlette app: StreamingResponse per stream, one asyncio.Queue each, a plain broadcast."""
    queues: set[asyncio.Queue[bytes]] = set()
    published = [0]

    def frame(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

    async def stream(request: Request) -> Response:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        queues.add(queue)

        async def events() -> Any:
            try:
                yield frame("connected", {"jobId": request.path_params["job"], "timestamp": time.time()})
                while True:
                    try:
                        yield await asyncio.wait_for(queue.get(), heartbeat_s)
                    except TimeoutError:
                        yield frame("heartbeat", {"timestamp": time.time()})
            finally:
                queues.discard(queue)

        headers = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def publish(request: Request) -> Response:
        row = await request.json()
        published[0] += 1
        message = frame("prediction", {"prediction": row, "total_count": published[0], "timestamp": time.time()})
        for queue in list(queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)
        return JSONResponse({"success": True, "count": 1})

    async def health(request: Request) -> Response:
        return JSONResponse({"open_streams": len(queues), "total_count": published[0]})

    app = Starlette(
        routes=[
            Route("/stream/{job}", stream),
            Route("/publish", publish, methods=["POST"]),
            Route("/health", health),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"  url:       http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, backlog=4096)).run(sockets=[sock])


# --- servers ------------------------------------------------------------------------------------


@dataclass
class Target:
    """A server under test: how to subscribe, upload and read its open-stream count."""

    name: str
    server: MockProcess
    stream_path: str
    stream_headers: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def rss(self) -> int:
        """The server's resident memory in bytes."""
        return int(psutil.Process(self.server.pid).memory_info().rss)

    def open_streams(self) -> int:
        """Streams the server says are open."""
        if self.name == "ftl-mock":
            return int(self.server.admin_client.health()["open_streams"])
        return int(httpx.get(self.url + "/health", timeout=10).json()["open_streams"])

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop)."""
        self.server.stop(timeout=15)


def _report_errors(line: str) -> None:
    # The launcher keeps reading the server's output so a burst of log lines can never block it on a full pipe.
    if "Traceback" in line or "ERROR" in line:
        print(f"server: {line.rstrip()}", file=sys.stderr)


def start_mock(time_scale: float) -> Target:
    """ftl-mock on a free port with the bundled demo data."""
    server = launcher.start("--time-scale", str(time_scale), timeout=START_TIMEOUT_S, on_line=_report_errors)
    assert server.api_key is not None
    assert server.job_id is not None
    stream = spec.load().stream
    path = stream.operation.path_for(jobId=server.job_id)
    return Target("ftl-mock", server, path, {"X-API-Key": server.api_key, "Accept": "text/event-stream"})


def start_bare(heartbeat_s: float) -> Target:
    """The bare Starlette broadcast app on a free port."""
    command = [sys.executable, "-m", "load.benchmarks.sse_capacity", "--serve-bare", str(heartbeat_s)]
    server = launcher.launch(
        command, name="bare starlette", last="url:", health="/health", timeout=START_TIMEOUT_S, on_line=_report_errors
    )
    return Target("bare starlette", server, "/stream/job_bench", {"Accept": "text/event-stream"})


class Uploader:
    """Stores one prediction on a target: the mock's upload operation or the bare app's publish."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = httpx.Client(timeout=30)
        if target.name == "ftl-mock":
            contract = spec.load()
            identities = target.server.admin_client.identities(secrets=True)
            demo = identities.demo
            assert demo.job_id is not None
            assert demo.job_token is not None
            assert demo.api_key is not None
            self.job, self.token = demo.job_id, demo.job_token
            self.path = contract.operation(str(contract.stream.trigger["operation_id"])).path_for()
            listing = contract.operation(str(contract.stream.counter["rest"]["operation_id"]))
            url = target.url + listing.path_for(jobId=self.job)
            self.total = int(
                self.client.get(url, headers={"X-API-Key": demo.api_key}, params={"limit": 1}).json()["total_count"]
            )
            self.user = next(u.user_id for u in identities.users if any(j.job_id == self.job for j in u.jobs))
        else:
            self.total = int(self.client.get(target.url + "/health").json()["total_count"])

    def upload(self, index: int) -> int:
        """Store one prediction; the job's count it will carry."""
        row = {"epoch": 1, "step": index, "sample_index": index, "prompt": "bench", "prediction": "bench"}
        if self.target.name == "ftl-mock":
            item = {"job_id": self.job, "user_id": self.user, **row}
            response = self.client.post(
                self.target.url + self.path,
                json={"job_id": self.job, "predictions": [item]},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        else:
            response = self.client.post(self.target.url + "/publish", json=row)
        response.raise_for_status()
        self.total += 1
        return self.total


# --- client processes ---------------------------------------------------------------------------


class Book:
    """What one client process saw: connections, heartbeats and the arrival time of each counted event."""

    def __init__(self) -> None:
        self.connected = 0
        self.failed = 0
        self.lost = 0
        self.heartbeats = 0
        self.arrivals: dict[int, list[float]] = {}


class StreamProtocol(asyncio.Protocol):
    """One held stream; records arrivals without parsing more than it must."""

    def __init__(self, request: bytes, book: Book, opened: asyncio.Future[bool]) -> None:
        self.request = request
        self.book = book
        self.opened = opened
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        book = self.book
        if not self.opened.done():
            if b"event: connected" in data:
                self.opened.set_result(True)
            elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 200"):
                self.opened.set_result(False)
        book.heartbeats += data.count(b"event: heartbeat")
        if b"total_count" in data:
            for match in TOTAL.finditer(data):
                book.arrivals.setdefault(int(match.group(1)), []).append(now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_result(False)
        self.book.lost += 1


def client_main(conn: Connection, local_ip: str) -> None:
    """A client process: opens, holds and closes streams on command from the coordinator."""
    raise_fd_limit()
    gc.disable()
    if uvloop is not None:
        uvloop.install()
    asyncio.run(_client(conn, local_ip))


async def _client(conn: Connection, local_ip: str) -> None:
    loop = asyncio.get_running_loop()
    book = Book()
    transports: list[asyncio.Transport] = []
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        op = command["op"]
        if op == "open":
            await _open(command, local_ip, book, transports)
            conn.send({"connected": book.connected, "failed": book.failed})
        elif op == "stats":
            conn.send({"connected": book.connected, "heartbeats": book.heartbeats, "lost": book.lost})
        elif op == "arrivals":
            deadline = time.monotonic() + command["timeout"]
            total = command["total"]
            while len(book.arrivals.get(total, ())) < book.connected - book.lost and time.monotonic() < deadline:
                await asyncio.sleep(0.002)
            conn.send(book.arrivals.pop(total, []))
        elif op == "close":
            # Streams of the closed run keep reporting into the old book; the next run starts clean.
            book = Book()
            for transport in transports:
                transport.abort()
            transports.clear()
            conn.send({"closed": True})
        elif op == "exit":
            conn.send({"bye": True})
            return


async def _open(command: dict[str, Any], local_ip: str, book: Book, transports: list[asyncio.Transport]) -> None:
    loop = asyncio.get_running_loop()
    headers = "".join(f"{k}: {v}\r\n" for k, v in command["headers"].items())
    request = f"GET {command['path']} HTTP/1.1\r\nHost: {command['host']}\r\n{headers}\r\n".encode()
    remaining = command["count"]
    deadline = time.monotonic() + OPEN_TIMEOUT_S
    while remaining and time.monotonic() < deadline:
        batch = min(CONNECT_BATCH, remaining)
        remaining -= batch
        futures = [loop.create_future() for _ in range(batch)]
        attempts = [
            loop.create_connection(
                lambda f=f: StreamProtocol(request, book, f),  # type: ignore[misc]
                command["host"],
                command["port"],
                local_addr=(local_ip, 0),
            )
            for f in futures
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                book.failed += 1
            else:
                transports.append(result[0])
        waiting = [f for f, r in zip(futures, results, strict=True) if not isinstance(r, BaseException)]
        if waiting:
            done, _ = await asyncio.wait(waiting, timeout=max(1.0, deadline - time.monotonic()))
            ok = sum(1 for f in done if f.result())
            book.connected += ok
            book.failed += len(waiting) - ok


class Clients:
    """The client processes of one run; each holds a share of the streams from its own loopback address."""

    def __init__(self, count: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for i in range(count):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=client_main, args=(child, f"127.0.0.{2 + i}"), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def ask(self, commands: Sequence[dict[str, Any]], timeout: float) -> list[Any]:
        """Send one command to each process; their answers."""
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise RuntimeError(f"a client process did not answer {commands[0]['op']} in {timeout}s")
            answers.append(pipe.recv())
        return answers

    def broadcast(self, command: dict[str, Any], timeout: float) -> list[Any]:
        """The same command to every process."""
        return self.ask([command] * len(self.pipes), timeout)

    def open(self, target: Target, streams: int) -> int:
        """Open `streams` streams spread over the processes; how many got `connected`."""
        host, port = target.url.removeprefix("http://").split(":")
        share = [
            streams // len(self.pipes) + (1 if i < streams % len(self.pipes) else 0) for i in range(len(self.pipes))
        ]
        commands = [
            {
                "op": "open",
                "host": host,
                "port": int(port),
                "path": target.stream_path,
                "headers": target.stream_headers,
                "count": n,
            }
            for n in share
        ]
        answers = self.ask(commands, OPEN_TIMEOUT_S + 30)
        return sum(a["connected"] for a in answers)

    def close_streams(self) -> None:
        """Drop every held stream."""
        self.broadcast({"op": "close"}, 60)

    def stop(self) -> None:
        """End the client processes."""
        with contextlib.suppress(Exception):
            self.broadcast({"op": "exit"}, 10)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


# --- measurements ------------------------------------------------------------------------------


def until(condition: Any, timeout: float) -> float | None:
    """Seconds until `condition()` held, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(httpx.TransportError):
            if condition():
                return time.monotonic() - started
        time.sleep(0.05)
    return None


def capacity(target: Target, clients: Clients, streams: int, hold_s: float) -> dict[str, Any]:
    """Hold `streams` streams for `hold_s` seconds; memory per stream, heartbeats delivered, release time."""
    time.sleep(1.0)
    baseline = target.rss
    started = time.monotonic()
    connected = clients.open(target, streams)
    opened_s = time.monotonic() - started
    before = clients.broadcast({"op": "stats"}, 30)
    time.sleep(hold_s)
    after = clients.broadcast({"op": "stats"}, 30)
    server_open = target.open_streams()
    rss = target.rss
    beats = sum(a["heartbeats"] for a in after) - sum(b["heartbeats"] for b in before)
    lost = sum(a["lost"] for a in after)
    clients.close_streams()
    released_s = until(lambda: target.open_streams() == 0, 60)
    return {
        "streams_requested": streams,
        "streams_connected": connected,
        "streams_open_on_server": server_open,
        "streams_lost_while_held": lost,
        "open_time_s": round(opened_s, 2),
        "rss_baseline_mb": round(baseline / 2**20, 1),
        "rss_held_mb": round(rss / 2**20, 1),
        "kb_per_stream": round((rss - baseline) / max(connected, 1) / 1024, 2),
        "heartbeats_per_s": round(beats / hold_s, 1),
        "release_to_zero_s": None if released_s is None else round(released_s, 2),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def latency(target: Target, clients: Clients, subscribers: int, uploads: int) -> dict[str, Any]:
    """Time from each upload to its event at every subscriber, in milliseconds."""
    connected = clients.open(target, subscribers)
    uploader = Uploader(target)
    samples: list[float] = []
    complete: list[float] = []
    missing = 0
    for index in range(uploads + 1):
        time.sleep(0.3)
        sent = time.monotonic()
        total = uploader.upload(index)
        arrivals = [
            t
            for share in clients.broadcast(
                {"op": "arrivals", "total": total, "timeout": EVENT_TIMEOUT_S}, EVENT_TIMEOUT_S + 10
            )
            for t in share
        ]
        if index == 0:
            continue  # warm-up
        missing += connected - len(arrivals)
        delays = [(t - sent) * 1000 for t in arrivals]
        samples.extend(delays)
        if delays:
            complete.append(max(delays))
    clients.close_streams()
    until(lambda: target.open_streams() == 0, 60)
    return {
        "subscribers": connected,
        "uploads": uploads,
        "events_missing": missing,
        "p50_ms": round(percentile(samples, 50), 1) if samples else None,
        "p99_ms": round(percentile(samples, 99), 1) if samples else None,
        "max_ms": round(max(samples), 1) if samples else None,
        "all_arrived_median_ms": round(statistics.median(complete), 1) if complete else None,
    }


@contextlib.contextmanager
def serving(kind: str, time_scale: float, heartbeat_ms: int) -> Iterator[Target]:
    """A fresh server of `kind` for one measurement."""
    target = start_mock(time_scale) if kind == "ftl-mock" else start_bare(heartbeat_ms * time_scale / 1000)
    try:
        yield target
    finally:
        target.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement against ftl-mock and the bare app; print (and optionally write) the results."""
    parser = argparse.ArgumentParser(prog="sse_capacity", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--serve-bare", type=float, help=argparse.SUPPRESS)
    parser.add_argument(
        "--streams",
        type=int,
        default=int(env_default("streams", "10000")),
        help="streams held in the capacity run [default: 10000; env FTL_LOAD_STREAMS]",
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=float(env_default("hold", "10")),
        help="seconds the streams are held [default: 10; env FTL_LOAD_HOLD]",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=float(env_default("time_scale", "0.1")),
        help="server time scale; heartbeats every 15 s times this [default: 0.1; env FTL_LOAD_TIME_SCALE]",
    )
    parser.add_argument(
        "--subscribers",
        default=env_default("subscribers", "1000,5000"),
        help="subscriber counts of the latency runs [default: 1000,5000; env FTL_LOAD_SUBSCRIBERS]",
    )
    parser.add_argument(
        "--uploads",
        type=int,
        default=int(env_default("uploads", "20")),
        help="uploads timed per latency run [default: 20; env FTL_LOAD_UPLOADS]",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=int(env_default("clients", "4")),
        help="client processes [default: 4; env FTL_LOAD_CLIENTS]",
    )
    parser.add_argument(
        "--targets",
        default=env_default("targets", "ftl-mock,bare"),
        help="servers to measure [default: ftl-mock,bare; env FTL_LOAD_TARGETS]",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return 0
    heartbeat_ms = spec.load().stream.heartbeat_interval_ms
    limit = raise_fd_limit()
    if limit < args.streams + 1000:
        print(f"open-files limit {limit} is too low for {args.streams} streams; raise the hard limit", file=sys.stderr)
        return 2
    subscribers = [int(n) for n in args.subscribers.split(",") if n]
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "fd_limit": limit},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "serve_bare"},
        "runs": {},
    }
    clients = Clients(args.clients)
    try:
        for kind in args.targets.split(","):
            name = "ftl-mock" if kind == "ftl-mock" else "bare starlette"
            run: dict[str, Any] = {}
            with serving(kind, args.time_scale, heartbeat_ms) as target:
                run["capacity"] = capacity(target, clients, args.streams, args.hold)
                print(name, "capacity", json.dumps(run["capacity"]), flush=True)
            for count in subscribers:
                with serving(kind, args.time_scale, heartbeat_ms) as target:
                    run[f"latency_{count}"] = latency(target, clients, count, args.uploads)
                    print(name, f"latency {count}", json.dumps(run[f"latency_{count}"]), flush=True)
            results["runs"][name] = run
    finally:
        clients.stop()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
