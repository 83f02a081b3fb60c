"""Microseconds per request of ftl-mock's ASGI app called in-process, against a bare Starlette app with the same body.

No server and no sockets: the same scope is handed to each app N times per round, so what is measured is the
request path itself (routing, journal, validation, auth, handler, metrics). Both run in the same process and
rounds alternate, so the ratio holds on a noisy machine where the absolute times do not.
Usage: python -m load.benchmarks.mock_request_cost [--rounds 7] [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mockserver.app import create_app
from mockserver.settings import Settings

PATH = "/api/training/predictions/job_demo_001"
QUERY = b"limit=10"
KEY = b"wak_j6S4qYhLagyZf5dM0YG2x1AqBunB27b4"


def scope() -> dict[str, Any]:
    """The predictions read as uvicorn hands it to an app."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": QUERY,
        "headers": [(b"host", b"127.0.0.1:8765"), (b"x-api-key", KEY), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
        "extensions": {},
    }


async def receive() -> MutableMapping[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Sink:
    """An ASGI `send` that keeps the response body (to check it) and nothing else."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.body = b""
        else:
            self.body += message.get("body", b"")


def bare_app(body: bytes) -> ASGIApp:
    """Starlette answering the same bytes on the same path."""

    async def predictions(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/api/training/predictions/{jobId}", predictions)])


async def per_request_us(app: ASGIApp, requests: int) -> float:
    """Mean microseconds per call of `app` over `requests` calls."""
    sink = Sink()
    started = time.perf_counter_ns()
    for _ in range(requests):
        await app(scope(), receive, sink)
    return (time.perf_counter_ns() - started) / requests / 1000


async def measure(rounds: int, requests: int) -> tuple[list[float], list[float], int]:
    mock = create_app(Settings(journal_size=10_000))
    sink = Sink()
    await mock(scope(), receive, sink)
    assert sink.status == 200, sink.body[:200]
    bare = bare_app(sink.body)
    await per_request_us(mock, 500)
    await per_request_us(bare, 500)
    mock_us, bare_us = [], []
    for _ in range(rounds):
        mock_us.append(await per_request_us(mock, requests))
        bare_us.append(await per_request_us(bare, requests))
    return mock_us, bare_us, len(sink.body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    mock_us, bare_us, size = asyncio.run(measure(args.rounds, args.requests))
    mock_median, bare_median = statistics.median(mock_us), statistics.median(bare_us)
    print(f"nproc={os.cpu_count()} {platform.processor() or platform.machine()} Python {platform.python_version()}")
    print(f"GET {PATH}?{QUERY.decode()} ({size} bytes), {args.rounds} rounds of {args.requests} requests each")
    print(f"ftl-mock:  median {mock_median:.2f} µs/request  (rounds: {', '.join(f'{v:.1f}' for v in mock_us)})")
    print(f"bare app:  median {bare_median:.2f} µs/request  (rounds: {', '.join(f'{v:.1f}' for v in bare_us)})")
    print(f"ratio mock / bare: {mock_median / bare_median:.2f}x")


if __name__ == "__main__":
    main()
