"""Requests per second of ftl-mock's predictions read against bare Starlette apps with the same body.

Each runs under uvicorn (one worker, own process, free port); wrk drives each at 1 and 50 connections.
The bare apps answer the same bytes pre-encoded (the stricter reference) and through JSONResponse.
Usage: python -m load.benchmarks.mock_throughput [--runs N] [--duration S] [--connections 1,50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockserver import process
from mockserver.process import MockProcess

JOB = "job_demo_001"
PATH = f"/api/training/predictions/{JOB}"
QUERY = "limit=10"
KEY = "wak_j6S4qYhLagyZf5dM0YG2x1AqBunB27b4"
WRK_HINT = "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu), `brew install wrk` (macOS)"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or the platform's guess."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


# --- the bare reference app --------------------------------------------------------------------


def serve_bare(body_file: Path, encode: bool) -> None:
    """Serve the body of `body_file` on the predictions path: pre-encoded bytes, or JSON encoded per request."""
    raw = body_file.read_bytes()
    payload = json.loads(raw)

    async def predictions(request: Request) -> Response:
        if encode:
            return JSONResponse(payload)
        return Response(raw, media_type="application/json")

    app = Starlette(routes=[Route("/api/training/predictions/{jobId}", predictions)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"  url:       http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


# --- processes ---------------------------------------------------------------------------------


def _pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def start_mock(cpu: int | None) -> MockProcess:
    """Start ftl-mock on a free port and wait until it is healthy."""
    try:
        return process.start("--log-level", "warning", prefix=_pin(cpu))
    except process.LaunchError as exc:
        raise SystemExit(str(exc)) from None


def start_bare(name: str, args: list[str], cpu: int | None) -> MockProcess:
    """Start a bare app (`python *args`, printing `url: http://…`), and wait until it answers 200 on the path."""
    try:
        return process.launch([*_pin(cpu), sys.executable, *args], name=name, last="url:", health=f"{PATH}?{QUERY}")
    except process.LaunchError as exc:
        raise SystemExit(str(exc)) from None


MOCK = "ftl-mock"
BARE = "bare Starlette, bytes"
BARE_JSON = "bare Starlette, JSONResponse"


@contextlib.contextmanager
def servers(cpu: int | None) -> Iterator[tuple[dict[str, MockProcess], int]]:
    """The mock and two bare apps serving the same body; yields them by name and the body size."""
    started: dict[str, MockProcess] = {}
    handle = tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False)  # noqa: SIM115 - removed below
    try:
        started[MOCK] = start_mock(cpu)
        body = httpx.get(f"{started[MOCK].url}{PATH}?{QUERY}", headers={"X-API-Key": KEY}, timeout=5).content
        count = len(json.loads(body).get("predictions", []))
        if count != 10:
            print(f"warning: the mock returned {count} predictions for {PATH}?{QUERY}, not 10", file=sys.stderr)
        with handle:
            handle.write(body)
        bare = ["-m", "load.benchmarks.mock_throughput", "--serve-bare", handle.name]
        started[BARE] = start_bare(BARE, bare, cpu)
        started[BARE_JSON] = start_bare(BARE_JSON, [*bare, "--encode"], cpu)
        for name in (BARE, BARE_JSON):
            size = len(httpx.get(f"{started[name].url}{PATH}?{QUERY}", timeout=5).content)
            if size != len(body):
                print(f"warning: body sizes differ: mock {len(body)} B, {name} {size} B", file=sys.stderr)
        yield started, len(body)
    finally:
        for server in started.values():
            server.stop()
        Path(handle.name).unlink(missing_ok=True)


# --- load generation ---------------------------------------------------------------------------


def wrk(url: str, connections: int, duration: float, cpu: int | None) -> float:
    """Requests per second wrk reaches against `url`; SystemExit if any response is not 2xx."""
    command = [
        *_pin(cpu),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "-H",
        f"X-API-Key: {KEY}",
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors against {url}:\n{out}")
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not found:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="mock_throughput", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per target and concurrency [3]")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run [5]")
    parser.add_argument("--connections", default="1,50", help="comma list of concurrent connections [1,50]")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and wrk to different CPUs")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--encode", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.encode)
        return 0
    if shutil.which("wrk") is None:
        print(WRK_HINT, file=sys.stderr)
        return 2
    levels = [int(c) for c in args.connections.split(",")]
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    server_cpu, client_cpu = (0, 1) if pin else (None, None)
    results: dict[tuple[str, int], list[float]] = {}
    with servers(server_cpu) as (started, size):
        url = {name: f"{server.url}{PATH}?{QUERY}" for name, server in started.items()}
        for name in url:
            wrk(url[name], max(levels), 1.0, client_cpu)  # warm-up
        for connections in levels:
            for _ in range(args.runs):
                for name in url:  # interleaved, so drift in machine load hits every target alike
                    results.setdefault((name, connections), []).append(
                        wrk(url[name], connections, args.duration, client_cpu)
                    )
    report(results, levels, size, args, pin)
    return 0


def report(results: dict[tuple[str, int], list[float]], levels: list[int], size: int, args: Any, pin: bool) -> None:
    """The Markdown table: medians per target, the ratios, and every run."""
    print(f"`GET {PATH}?{QUERY}` ({size} B body), uvicorn one worker each (httptools, uvloop), wrk -t1, ")
    print(f"{args.duration:g} s per run, median of {args.runs} runs; nproc={os.cpu_count()}, {cpu_model()}, ")
    print(f"Python {platform.python_version()}; servers and wrk pinned to different CPUs: {'yes' if pin else 'no'}.")
    print()
    print(f"| connections | {MOCK} | {BARE} | {BARE_JSON} | mock / bytes | mock / JSONResponse |")
    print("|---:|---:|---:|---:|---:|---:|")
    for connections in levels:
        m, b, j = (statistics.median(results[(name, connections)]) for name in (MOCK, BARE, BARE_JSON))
        print(f"| {connections} | {m:,.0f} | {b:,.0f} | {j:,.0f} | {m / b:.2f}x | {m / j:.2f}x |")
    print()
    print("Every run (req/s):")
    print()
    for (name, connections), runs in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
        print(f"- {name}, {connections} connections: {', '.join(f'{r:,.0f}' for r in runs)}")


if __name__ == "__main__":
    raise SystemExit(main())
