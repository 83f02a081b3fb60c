"""The server under load: an ftl-mock this run starts, or a target URL given by the user.

It sets up the run's jobs through the contract's `create_job`, reads an ftl-mock's metrics (requests, streams,
events, CPU), else the server's CPU time when its process is known, and samples the open streams while Locust runs.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from cmdline import unreachable
from load.errors import LoadError
from load.plan import CreatedJob, presented
from load.server_metrics import ServerMetrics
from mockserver import process
from mockserver.client import AdminClientError, MockAdmin
from mockserver.process import MockProcess
from spec import Contract

CREATE_JOB = "create_job"
SETTLE_S = 5.0  # how long a run's streams may take to close on the server before its figures are read


@dataclass
class Target:
    """Where the load goes, with the credentials of the dashboard user and the server's pid if known."""

    url: str
    api_key: str
    session_token: str
    pid: int | None = None
    mock: MockProcess | None = None
    request_timeout: float = 30.0
    _admin: MockAdmin | None = field(default=None, init=False, repr=False)

    @property
    def admin(self) -> MockAdmin:
        """The target's ftl-mock admin API (the started mock's own client; a given target may have none)."""
        if self.mock is not None:
            return self.mock.admin_client
        if self._admin is None:
            self._admin = MockAdmin(self.url, timeout=2)
        return self._admin

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server process has used so far, or None if unknown."""
        if self.pid is None:
            return None
        try:
            times = psutil.Process(self.pid).cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def check(self) -> None:
        """LoadError in one line when the target refuses connections or does not answer within the timeout."""
        try:
            with httpx.stream("GET", self.url + "/", timeout=self.request_timeout):
                pass
        except httpx.HTTPError as exc:
            raise LoadError(unreachable(self.url, exc, self.request_timeout)) from None

    def health(self) -> dict[str, Any]:
        """The mock's health report, or {} when the target has no ftl-mock admin API."""
        try:
            return self.admin.health()
        except (AdminClientError, httpx.HTTPError, ValueError, TypeError):
            return {}

    def metrics(self) -> ServerMetrics | None:
        """An ftl-mock's metrics now, or None when the target has none (not an ftl-mock, or locked)."""
        try:
            return ServerMetrics.parse(self.admin.metrics())
        except (AdminClientError, httpx.HTTPError, ValueError):
            return None

    def open_streams(self) -> int | None:
        """Streams the mock's metrics report open, or None when unknown."""
        metrics = self.metrics()
        return round(metrics.open_streams) if metrics is not None else None

    def settled(self, timeout_s: float = SETTLE_S) -> ServerMetrics | None:
        """The mock's metrics once the streams of a finished run have closed (or after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        metrics = self.metrics()
        while metrics is not None and metrics.open_streams > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            metrics = self.metrics()
        return metrics

    def requests_served(self) -> int | None:
        """Contract requests the mock has journaled since it started, or None when unknown."""
        journal = self.health().get("journal")
        value = journal.get("total") if isinstance(journal, dict) else None
        return value if isinstance(value, int) else None

    def stop(self) -> None:
        """Stop the mock this run started (a given target is left alone)."""
        if self._admin is not None:
            self._admin.close()
        if self.mock is not None:
            self.mock.stop()


def start_mock(time_scale: float, log_path: Path, design: str | None = None) -> Target:
    """Start `python -m mockserver --port 0 --time-scale S [--design D]`; its credentials come through its admin API."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pythonpath = os.pathsep.join(filter(None, [str(process.ROOT), os.environ.get("PYTHONPATH")]))
    designed = ("--design", design) if design else ()
    try:
        # Its output after the banner goes to a log file; the launcher keeps reading, so the pipe never fills.
        mock = process.start("--time-scale", repr(time_scale), *designed, env={"PYTHONPATH": pythonpath}, log=log_path)
    except process.LaunchError as exc:
        raise LoadError(str(exc)) from None
    try:
        credentials = mock.credentials
    except (AdminClientError, httpx.HTTPError) as exc:
        mock.stop()
        raise LoadError(f"ftl-mock gave no demo credentials: {exc}") from None
    if credentials.api_key is None or credentials.session_token is None:
        mock.stop()
        raise LoadError("ftl-mock's seed data has no active API key or no session token for the dashboard user")
    return Target(mock.url, credentials.api_key, credentials.session_token, mock.pid, mock)


def create_jobs(target: Target, contract: Contract, prefix: str, count: int) -> list[CreatedJob]:
    """Create `count` running jobs through `create_job`; their ids, job tokens and owner."""
    create = contract.operation(CREATE_JOB)
    path = create.path_for()
    headers = presented(contract, "api_key", target.api_key)
    jobs = []
    with httpx.Client(base_url=target.url, timeout=target.request_timeout) as client:
        for n in range(count):
            job_id = f"{prefix}-{n:04d}"
            body = {"job_id": job_id, "status": "running", "model_name": "ftl-load"}
            try:
                response = client.request(create.method, path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise LoadError(
                    f"{CREATE_JOB} {job_id}: {unreachable(target.url, exc, target.request_timeout)}"
                ) from None
            data = _json(response)
            if response.status_code != create.success_status or "job_token" not in data:
                raise LoadError(f"{CREATE_JOB} {job_id}: HTTP {response.status_code} {response.text[:200]}")
            jobs.append(CreatedJob(job_id, str(data["job_token"]), str(data["user_id"])))
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
