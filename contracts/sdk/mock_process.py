"""An `ftl-mock` subprocess on a free loopback port for one SDK run, with the demo credentials from its banner.

The SDK under test reaches it through the environment the real SDKs read (`FINETUNE_LAB_API_URL`, …).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contracts.errors import GateError

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Demo:
    """What the mock's banner announces: where it serves and the demo credentials."""

    url: str
    api_key: str | None = None
    jwt: str | None = None
    job_token: str | None = None
    job_id: str | None = None

    def environment(self) -> dict[str, str]:
        """The variables an SDK run sees: the real SDKs' names plus FTL_JOB_TOKEN, FTL_JOB_ID, FTL_JWT."""
        values = {
            "FINETUNE_LAB_API_URL": self.url,
            "FINETUNE_LAB_API_KEY": self.api_key,
            "FTL_JOB_TOKEN": self.job_token,
            "FTL_JOB_ID": self.job_id,
            "FTL_JWT": self.jwt,
            "FTL_MOCK_ADMIN_URL": f"{self.url}/__mock",
        }
        return {name: value for name, value in values.items() if value}


def parse_banner(lines: Sequence[str]) -> Demo:
    """The url and credentials of the `ftl-mock` start banner (`url:`, `api key:`, `jwt:`, `job token:`)."""
    fields: dict[str, str] = {}
    for line in lines:
        label, sep, value = line.strip().partition(":")
        # "(none in the seed data)" stands for a credential the seed data lacks.
        if sep and label in ("url", "api key", "jwt", "job token") and not value.strip().startswith("("):
            fields[label] = value.strip()
    if "url" not in fields:
        raise GateError("ftl-mock printed no `url:` line")
    token, job_id = fields.get("job token"), None
    if token and "(job " in token:
        token, _, rest = token.partition(" (job ")
        job_id = rest.rstrip(")").strip()
    return Demo(fields["url"], fields.get("api key"), fields.get("jwt"), token, job_id)


@dataclass
class MockProcess:
    """A running mock; stop it with `stop()` or use it as a context manager."""

    demo: Demo
    process: subprocess.Popen[str]
    banner: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    def __enter__(self) -> MockProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the mock (kill it if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_mock(args: Sequence[str] = (), python: str = sys.executable) -> MockProcess:
    """Start `python -m mockserver --port 0 *args`, read its banner and wait until it is healthy."""
    command = [python, "-m", "mockserver", "--host", "127.0.0.1", "--port", "0", *args]
    try:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except OSError as exc:
        raise GateError(f"cannot start ftl-mock: {exc}") from None
    assert process.stdout is not None
    banner = _read_banner(process)
    handle = MockProcess(parse_banner(banner), process, banner)
    threading.Thread(target=_drain, args=(process, handle.output), daemon=True).start()
    _wait_healthy(handle)
    return handle


def _read_banner(process: subprocess.Popen[str]) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise GateError(f"ftl-mock exited before serving: {''.join(lines).strip()[-300:]}")
        lines.append(line)
        if line.strip().startswith("job token:"):  # the banner's last line
            return lines
    process.kill()
    raise GateError(f"ftl-mock printed no banner in {START_TIMEOUT_S:g}s")


def _drain(process: subprocess.Popen[str], sink: list[str]) -> None:
    # The mock logs to the same pipe; read it so it never blocks on a full pipe.
    assert process.stdout is not None
    for line in process.stdout:
        sink.append(line)


def _wait_healthy(handle: MockProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"{handle.demo.url}/__mock/health"
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise GateError(f"ftl-mock exited with {handle.process.returncode}: {''.join(handle.output)[-300:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    handle.stop()
    raise GateError(f"ftl-mock at {handle.demo.url} never became healthy")
