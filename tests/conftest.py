"""Shared fixtures: real ftl-mock processes on free loopback ports.

`mock_factory` starts a mock with any flags; `mock` is one session-wide mock reset before each test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ALICE = "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60"
BOB = "3c1d9e7a-6f5b-4a2c-8e1d-0f9a8b7c6d5e"
ALICE_KEY = "wak_j6S4qYhLagyZf5dM0YG2x1AqBunB27b4"
ALICE_TRAINING_KEY = "wak_Z8Cfug0YHNQDWME8UCnjyd6mUwGLDvIx"
ALICE_WORKER_KEY = "wak_gMVUct7p7qbwCcRZpt6sPyQISr4UbrlF"
ALICE_PRODUCTION_KEY = "wak_QFep23gevhnZloVvNEK3RIZpqjpfztRt"
ALICE_TESTING_KEY = "wak_8JEtBOSefQEpYwGYL8VngdYqPyPATjhY"
ALICE_REVOKED_KEY = "wak_8sFG1g7RIcmkJUi3AzdHS1kC9e0yYrmQ"
BOB_KEY = "wak_2vD9W6BTY8A7b5wERKNXlmnLXz5QfPkV"
ALICE_JWT = "ftl-demo-session-alice"
BOB_JWT = "ftl-demo-session-bob"
DEMO_JOB = "job_demo_001"
DEMO_JOB_TOKEN = "lqXWBRwkBQjJ22Aoe_E-QqnLQ1onUWynCJW6kZprmwg"
START_TIMEOUT_S = 30.0


@dataclass
class MockProcess:
    """A running `ftl-mock` subprocess."""

    url: str
    process: subprocess.Popen[str]
    banner: list[str] = field(default_factory=list)
    output: deque[str] = field(default_factory=lambda: deque(maxlen=1000))
    drain: threading.Thread | None = None

    @property
    def admin(self) -> str:
        return f"{self.url}/__mock"

    def reset(self) -> None:
        httpx.post(f"{self.admin}/reset", timeout=10).raise_for_status()

    def logged(self) -> str:
        """What the mock printed after its banner (all of it once the process has ended)."""
        if self.process.poll() is not None and self.drain is not None:
            self.drain.join(timeout=10)
        return "".join(self.output)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _drain(stream: IO[str], sink: deque[str]) -> None:
    for line in stream:
        sink.append(line)


def start_mock(*args: str, env: dict[str, str] | None = None) -> MockProcess:
    """Start `python -m mockserver --port 0 *args` and wait until it answers its health check."""
    command = [sys.executable, "-m", "mockserver", "--port", "0", *args]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert process.stdout is not None
    banner: list[str] = []
    url = None
    deadline = time.monotonic() + START_TIMEOUT_S
    while url is None:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"ftl-mock exited before serving: {''.join(banner)}")
        banner.append(line)
        if line.strip().startswith("url:"):
            url = line.split("url:", 1)[1].strip()
    # The rest of the banner (admin URL and demo credentials) is indented under the url line.
    while (line := process.stdout.readline()).startswith("  "):
        banner.append(line)
        if line.strip().startswith("job token:"):
            break
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"ftl-mock printed no url in {START_TIMEOUT_S}s: {''.join(banner)}")
    handle = MockProcess(url=url, process=process, banner=banner)
    # Keep reading the mock's output so a chatty log level can never fill the pipe and stall it.
    handle.drain = threading.Thread(target=_drain, args=(process.stdout, handle.output), daemon=True)
    handle.drain.start()
    while True:
        try:
            if httpx.get(f"{handle.admin}/health", timeout=2).status_code == 200:
                return handle
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            handle.stop()
            raise RuntimeError(f"ftl-mock at {url} never became healthy")
        time.sleep(0.05)


@pytest.fixture
def mock_factory() -> Iterator[type[MockProcess] | object]:
    """Start mocks with custom flags; all are stopped after the test."""
    started: list[MockProcess] = []

    def factory(*args: str, env: dict[str, str] | None = None) -> MockProcess:
        handle = start_mock(*args, env=env)
        started.append(handle)
        return handle

    yield factory
    for handle in started:
        handle.stop()


@pytest.fixture(scope="session")
def shared_mock() -> Iterator[MockProcess]:
    """One mock for the whole session (use `mock` to get it freshly reset)."""
    handle = start_mock()
    yield handle
    handle.stop()


@pytest.fixture
def mock(shared_mock: MockProcess) -> MockProcess:
    """The session mock, reset to its seed data and with an empty journal."""
    shared_mock.reset()
    httpx.delete(f"{shared_mock.admin}/journal", timeout=10)
    return shared_mock
