"""Shared fixtures: real ftl-mock processes on free loopback ports.

`mock_factory` starts a mock with any flags; `mock` is one session-wide mock reset before each test, `admin` its
admin client (`mockserver.client.MockAdmin`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import spec
from mockserver import process
from mockserver.client import MockAdmin
from mockserver.process import MockProcess

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
ALICE_SESSION_TOKEN = "ftl-demo-session-alice"
BOB_SESSION_TOKEN = "ftl-demo-session-bob"
DEMO_JOB = "job_demo_001"
DEMO_JOB_TOKEN = "lqXWBRwkBQjJ22Aoe_E-QqnLQ1onUWynCJW6kZprmwg"


def path_of(operation_id: str, **params: str) -> str:
    """The path of `operation_id` in the spec, its template filled from `params` (SpecError when one is missing)."""
    return spec.load().operation(operation_id).path_for(**params)


def once_per_run(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """`make(folder)` run once for the whole test run, even on several xdist workers; its JSON result to every caller.

    The first caller makes it under an exclusive lock on a file all workers share (their base temp folders' parent);
    a caller on another worker waits for that lock and then reads the result, instead of making it again. A `make`
    that fails leaves no result, so the next caller makes it again and fails the same way.
    """
    shared = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    result = shared / f"{name}.json"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            return dict(json.loads(result.read_text(encoding="utf-8")))
        folder = shared / name
        folder.mkdir(exist_ok=True)
        made = make(folder)
        result.write_text(json.dumps(made), encoding="utf-8")
        return made


def console_script(name: str) -> str:
    """The installed console script (next to this Python), as a user runs it."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e ."
    return found


def start_mock(*args: str, env: dict[str, str] | None = None) -> MockProcess:
    """Start `python -m mockserver --port 0 *args` and wait until it answers its health check."""
    return process.start(*args, env=env)


@pytest.fixture(scope="session", autouse=True)
def _no_ci_step_summary() -> Iterator[None]:
    """Commands the tests run must not write into the CI job's own step summary."""
    saved = os.environ.pop("GITHUB_STEP_SUMMARY", None)
    yield
    if saved is not None:
        os.environ["GITHUB_STEP_SUMMARY"] = saved


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
    shared_mock.admin_client.reset()
    shared_mock.admin_client.clear_journal()
    return shared_mock


@pytest.fixture
def admin(mock: MockProcess) -> MockAdmin:
    """The admin client of the freshly reset session mock."""
    return mock.admin_client
