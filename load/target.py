"""The server under load: an ftl-mock this run starts, or a target URL given by the user.

It sets up the run's jobs through the contract's `create_job`, reads the server's CPU time (when its
process is known) and samples the mock's open-stream count while Locust runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from load.errors import LoadError
from load.plan import route
from spec import Contract

START_TIMEOUT_S = 30.0
BANNER_KEYS = {"url": "url", "api key": "api_key", "jwt": "session"}


@dataclass
class Target:
    """Where the load goes, with the credentials of the dashboard user and the server's pid if known."""

    url: str
    api_key: str
    session: str
    pid: int | None = None
    process: subprocess.Popen[str] | None = None
    banner: list[str] = field(default_factory=list)

    @property
    def admin(self) -> str:
        return f"{self.url}/__mock"

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server process has used so far, or None if unknown."""
        if self.pid is None:
            return None
        try:
            times = psutil.Process(self.pid).cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def health(self) -> dict[str, Any]:
        """The mock's health report, or {} when the target has no ftl-mock admin API."""
        try:
            response = httpx.get(f"{self.admin}/health", timeout=2)
            data = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def open_streams(self) -> int | None:
        """Streams the mock reports open, or None when unknown."""
        value = self.health().get("open_streams")
        return value if isinstance(value, int) else None

    def requests_served(self) -> int | None:
        """Contract requests the mock has journaled since it started, or None when unknown."""
        journal = self.health().get("journal")
        value = journal.get("total") if isinstance(journal, dict) else None
        return value if isinstance(value, int) else None

    def stop(self) -> None:
        """Stop the mock this run started (a given target is left alone)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_mock(time_scale: float, log_path: Path, extra_args: tuple[str, ...] = ()) -> Target:
    """Start `python -m mockserver --port 0 --time-scale S` and read its banner for url and credentials."""
    command = [sys.executable, "-m", "mockserver", "--port", "0", "--time-scale", repr(time_scale), *extra_args]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=root)
    assert process.stdout is not None
    found: dict[str, str] = {}
    banner: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while "url" not in found or "api_key" not in found or "session" not in found:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            raise LoadError(f"ftl-mock did not start: {''.join(banner).strip() or 'no output'}")
        banner.append(line)
        key, sep, value = line.strip().partition(":")
        if sep and key in BANNER_KEYS:
            found[BANNER_KEYS[key]] = value.strip().split()[0]
    # The rest of its output goes to a log file, so a full pipe never blocks the mock.
    threading.Thread(target=_drain, args=(process, log_path), daemon=True).start()
    target = Target(found["url"], found["api_key"], found["session"], process.pid, process, banner)
    while target.open_streams() is None:
        if time.monotonic() > deadline or process.poll() is not None:
            target.stop()
            raise LoadError(f"ftl-mock at {target.url} never became healthy")
        time.sleep(0.05)
    return target


def _drain(process: subprocess.Popen[str], log_path: Path) -> None:
    assert process.stdout is not None
    with log_path.open("a", encoding="utf-8") as log:
        for line in process.stdout:
            log.write(line)


def create_jobs(target: Target, contract: Contract, prefix: str, count: int) -> list[dict[str, str]]:
    """Create `count` running jobs through `create_job`; their ids, job tokens and owner."""
    create = route(contract, "create_job", "setup")
    scheme = contract.security_schemes["apiKey"]
    headers = {str(scheme["name"]): target.api_key}
    jobs = []
    with httpx.Client(base_url=target.url, timeout=30) as client:
        for n in range(count):
            job_id = f"{prefix}-{n:04d}"
            body = {"job_id": job_id, "status": "running", "model_name": "ftl-load"}
            response = client.request(create["method"], create["path"], json=body, headers=headers)
            data = _json(response)
            if response.status_code != contract.operations["create_job"].success_status or "job_token" not in data:
                raise LoadError(f"create_job {job_id}: HTTP {response.status_code} {response.text[:200]}")
            jobs.append({"job_id": job_id, "job_token": str(data["job_token"]), "user_id": str(data["user_id"])})
    return jobs


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class StreamSampler:
    """Samples the mock's open streams in a thread while a run goes on; keeps the peak."""

    def __init__(self, target: Target, interval_s: float = 0.5) -> None:
        self.target = target
        self.interval_s = interval_s
        self.peak: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> StreamSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            value = self.target.open_streams()
            if value is not None:
                self.peak = value if self.peak is None else max(self.peak, value)
