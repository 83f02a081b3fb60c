"""The embedded target: `ftl-mock` started as a subprocess on a free port when the gate gets no `--base-url`.

Its banner gives the URL and the demo credentials; the admin API gives another user's key for the
ownership checks. The process is stopped when the gate is done.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contracts.credentials import Credentials
from contracts.errors import GateError

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0
BANNER_FIELDS = {"url:": "url", "api key:": "api_key", "jwt:": "bearer", "job token:": "job_token"}


@dataclass
class EmbeddedMock:
    """A running `ftl-mock` subprocess and what its banner announced."""

    process: subprocess.Popen[str]
    url: str
    credentials: Credentials
    output: deque[str] = field(default_factory=lambda: deque(maxlen=50))

    def stop(self) -> None:
        """Stop the mock (terminate, then kill if it does not exit)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmbeddedMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(*, spec: str | None, time_scale: float, timeout: float = START_TIMEOUT_S) -> EmbeddedMock:
    """Start `python -m mockserver` on a free port and wait until it is healthy."""
    command = [sys.executable, "-m", "mockserver", "--port", "0", "--time-scale", f"{time_scale:g}"]
    if spec:
        command += ["--spec", spec]
    # The mock's own FTL_MOCK_* settings would change what the gate checks against; the flags decide.
    env = {key: value for key, value in os.environ.items() if not key.startswith("FTL_MOCK_")}
    try:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    except OSError as exc:
        raise GateError(f"cannot start ftl-mock: {exc.strerror}") from None
    lines: queue.Queue[str | None] = queue.Queue()
    output: deque[str] = deque(maxlen=50)
    threading.Thread(target=_drain, args=(process, lines, output), daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        banner = _banner(lines, deadline)
        mock = EmbeddedMock(process, banner["url"], _credentials(banner), output)
        _wait_healthy(mock, deadline)
        return _with_other_user(mock)
    except GateError:
        _kill(process)
        raise


def _drain(process: subprocess.Popen[str], lines: queue.Queue[str | None], output: deque[str]) -> None:
    # Reading all output keeps the mock from blocking on a full pipe.
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line.rstrip())
        lines.put(line)
    lines.put(None)


def _banner(lines: queue.Queue[str | None], deadline: float) -> dict[str, str]:
    found: dict[str, str] = {}
    seen: list[str] = []
    while "job_token" not in found:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise GateError(f"ftl-mock printed no banner within {START_TIMEOUT_S:g} s") from None
        if line is None:
            last = seen[-1].strip() if seen else "no output"
            raise GateError(f"ftl-mock exited before serving: {last}")
        seen.append(line)
        text = line.strip()
        for prefix, name in BANNER_FIELDS.items():
            if text.startswith(prefix):
                found[name] = text.removeprefix(prefix).strip()
    if "url" not in found:
        raise GateError("ftl-mock's banner has no url line")
    return found


def _credentials(banner: dict[str, str]) -> Credentials:
    token, _, job = banner["job_token"].partition(" ")
    job_id = job.strip("()").removeprefix("job ").strip()
    return Credentials(
        api_key=banner.get("api_key"),
        bearer=banner.get("bearer"),
        job_token=token or None,
        job_tokens={job_id: token} if job_id and token else {},
    )


def _wait_healthy(mock: EmbeddedMock, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{mock.url}/__mock/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if mock.process.poll() is not None:
            raise GateError(f"ftl-mock exited with status {mock.process.returncode}")
        if time.monotonic() > deadline:
            raise GateError(f"ftl-mock at {mock.url} never became healthy")
        time.sleep(0.05)


def _with_other_user(mock: EmbeddedMock) -> EmbeddedMock:
    """Add another user's active key (from the admin API's data dump) for the ownership checks."""
    try:
        data = httpx.get(f"{mock.url}/__mock/data", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return mock
    keys = data.get("api_keys", []) if isinstance(data, dict) else []
    own = next((k.get("user_id") for k in keys if k.get("key") == mock.credentials.api_key), None)
    other = next(
        (
            k["key"]
            for k in keys
            if k.get("active", True)
            and k.get("user_id") != own
            and {"all", "training"} & set(k.get("scopes") or ["all"])
        ),
        None,
    )
    creds = mock.credentials
    mock.credentials = Credentials(creds.api_key, creds.bearer, creds.job_token, other, creds.job_tokens)
    return mock


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
