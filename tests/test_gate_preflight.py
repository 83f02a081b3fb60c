"""Preflight: a target that is not this API is refused after the first requests, in one line with exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from servers import ThreadServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from contracts.cli import main

ARGS = ["--api-key", "wak_" + "A" * 32, "--bearer", "a-session", "--quiet"]


@pytest.fixture
def http_server() -> Iterator[str]:
    """`python -m http.server` on a free port (HTML 404 for every API path)."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        port = re.search(r"port (\d+)", banner)
        assert port, banner
        yield f"http://127.0.0.1:{port.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_plain_http_server_is_not_this_api(http_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--base-url", http_server, *ARGS], {}) == 2
    line = error_line(capsys)
    assert line.startswith(f"ftl-gate: error: {http_server} is not the FineTune Lab training API: ")
    assert "answered 404 text/html" in line


def test_an_app_answering_json_404_to_everything_is_not_this_api(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    async def anything(request: Request) -> JSONResponse:
        seen.append(request.url.path)
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    app = Starlette()
    app.add_route("/{path:path}", anything, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    with ThreadServer(app) as server:
        assert main(["--base-url", server.url, *ARGS], {}) == 2
    line = error_line(capsys)
    assert "is not the FineTune Lab training API" in line
    assert "answered 404 application/json" in line
    assert len(seen) <= 4, seen  # it said so after the first requests, not after a run
