"""`ftl-mock` as a subprocess on a free port: start it, read its URL from its banner, wait until healthy, stop it.

The demo credentials come from the admin API (`GET /__mock/identities` through `client.MockAdmin`), not from the
banner, which is for humans. Imports only the standard library, httpx and the admin client, so Locust driver
processes and test fixtures can use it cheaply.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import IO

import httpx

from mockserver.admin_routes import PREFIX, TOKEN_HEADER, route
from mockserver.client import Credentials, MockAdmin

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# The banner ends with the demo job's token; a reference app that prints only a url line ends there.
LAST_LINE = "job token:"
HEALTH_PATH = route("health").full_path
ADMIN_TOKEN_ENV = "FTL_MOCK_ADMIN_TOKEN"  # noqa: S105 (a variable name)


class LaunchError(RuntimeError):
    """A server that would not start or never became healthy; the message says what it printed."""


class _Output:
    """Reads a server's output on a thread: the banner first, then the rest into a bounded buffer."""

    def __init__(
        self,
        stream: IO[str],
        last: str,
        keep: int,
        log: Path | None,
        on_line: Callable[[str], None] | None,
    ) -> None:
        self.banner: list[str] = []
        self.lines: deque[str] = deque(maxlen=keep)
        self.banner_done = threading.Event()
        self.ended = threading.Event()
        self._last = last
        self._log = log
        self._on_line = on_line
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        # Reading everything keeps a chatty server from blocking on a full pipe.
        try:
            for line in stream:
                self.banner.append(line.rstrip("\n"))
                if line.strip().startswith(self._last):
                    self.banner_done.set()
                    break
            if not self.banner_done.is_set():
                return
            with self._log.open("a", encoding="utf-8") if self._log else contextlib.nullcontext() as log:
                for line in stream:
                    self.lines.append(line)
                    if log is not None:
                        log.write(line)
                    if self._on_line is not None:
                        self._on_line(line)
        finally:
            self.ended.set()


class MockProcess:
    """A running server started by `launch`: its URL, its admin client and demo credentials, what it printed."""

    def __init__(
        self, process: subprocess.Popen[str], url: str, output: _Output, name: str, admin_token: str | None = None
    ) -> None:
        self.process = process
        self.url = url
        self.name = name
        self.admin_token = admin_token
        self._output = output

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header the admin API needs when the server was started with an admin token (else none)."""
        return {TOKEN_HEADER: self.admin_token} if self.admin_token else {}

    @property
    def admin(self) -> str:
        """The mock's admin API URL."""
        return f"{self.url}{PREFIX}"

    @cached_property
    def admin_client(self) -> MockAdmin:
        """A client of the mock's admin API, with the admin token when the mock has one (closed by `stop`)."""
        return MockAdmin(self.url, token=self.admin_token)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def banner(self) -> list[str]:
        """The lines printed up to and including the banner's last line (without line ends)."""
        return self._output.banner

    @cached_property
    def credentials(self) -> Credentials:
        """The demo credentials (those the banner prints), read once through the admin API, in full."""
        return self.admin_client.identities(secrets=True).demo

    @property
    def api_key(self) -> str | None:
        """The demo API key (all scopes), None when the seed data has none."""
        return self.credentials.api_key

    @property
    def session_token(self) -> str | None:
        """The demo session token, None when the seed data has none."""
        return self.credentials.session_token

    @property
    def job_token(self) -> str | None:
        """The demo job's token, None when the seed data has no job."""
        return self.credentials.job_token

    @property
    def job_id(self) -> str | None:
        """The demo job the token belongs to, None when there is none."""
        return self.credentials.job_id

    def logged(self) -> str:
        """What the server printed after its banner (all of it once the process has ended)."""
        if self.process.poll() is not None:
            self._output.thread.join(timeout=10)
        return "".join(self._output.lines)

    def reset(self) -> None:
        """Reset the mock to its seed data (admin API)."""
        self.admin_client.reset()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Terminate the server, and kill it if it has not exited within `timeout` seconds."""
        if "admin_client" in self.__dict__:
            self.admin_client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> MockProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    *args: str,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_S,
    prefix: Sequence[str] = (),
    keep: int = 1000,
    log: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> MockProcess:
    """Start `python -m mockserver --port 0 *args` and wait until `/__mock/health` answers 200.

    `env` is added to `environ` (default: this process's environment); see `launch` for the rest.
    """
    command = [*prefix, sys.executable, "-m", "mockserver", "--port", "0", *args]
    return launch(command, env=env, environ=environ, timeout=timeout, keep=keep, log=log, on_line=on_line)


def launch(
    command: Sequence[str],
    *,
    name: str = "ftl-mock",
    last: str = LAST_LINE,
    health: str = HEALTH_PATH,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_S,
    keep: int = 1000,
    log: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> MockProcess:
    """Start a server that prints `  url: <url>` in a banner ending with a `last` line; wait until `health` is 200.

    An `FTL_MOCK_ADMIN_TOKEN` in the environment given to the server is sent with the health checks and kept on
    the handle (`admin_headers`).

    The output after the banner is kept (the last `keep` lines), appended to `log` and passed to `on_line`.
    LaunchError, with the process killed, if it exits, prints no banner or is not healthy within `timeout`.
    """
    environment = {**(os.environ if environ is None else environ), "PYTHONUNBUFFERED": "1", **(env or {})}
    admin_token = environment.get(ADMIN_TOKEN_ENV) or None
    try:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
    except OSError as exc:
        raise LaunchError(f"cannot start {name}: {exc.strerror}") from None
    assert process.stdout is not None
    output = _Output(process.stdout, last, keep, log, on_line)
    deadline = time.monotonic() + timeout
    try:
        url = _banner_url(output, name, timeout, deadline)
        handle = MockProcess(process, url, output, name, admin_token)
        _wait_healthy(handle, health, deadline)
    except LaunchError:
        if process.poll() is None:
            process.kill()
        process.wait()
        raise
    return handle


def _banner_url(output: _Output, name: str, timeout: float, deadline: float) -> str:
    while not output.banner_done.wait(0.05):
        if output.ended.is_set() and not output.banner_done.is_set():
            last = output.banner[-1].strip() if output.banner else "no output"
            raise LaunchError(f"{name} exited before serving: {last}")
        if time.monotonic() > deadline:
            raise LaunchError(f"{name} printed no banner within {timeout:g} s")
    for line in output.banner:
        label, _, value = line.strip().partition(":")
        if label == "url" and value.strip():
            return value.strip()
    raise LaunchError(f"{name}'s banner has no url line")


def _wait_healthy(handle: MockProcess, health: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{handle.url}{health}", headers=handle.admin_headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if handle.process.poll() is not None:
            raise LaunchError(f"{handle.name} exited with status {handle.process.returncode}")
        if time.monotonic() > deadline:
            raise LaunchError(f"{handle.name} at {handle.url} never became healthy")
        time.sleep(0.05)
