"""Runs one headless Locust test in its own processes: a local runner, or a master and K local workers.

Locust patches the standard library with gevent on import, so it never runs in the caller's process; the
caller gets back the paths of the CSV, HTML and JSON reports Locust wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from load.errors import LoadError

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# Locust exits 1 when any request failed: the run still completed and its reports are written.
COMPLETED = (0, 1)


@dataclass(frozen=True)
class LocustRun:
    """One headless Locust run of an ftl-load plan."""

    name: str
    out_dir: Path
    host: str
    plan: Path
    users: dict[str, int]
    run_time_s: float
    workers: int = 0
    web_port: int | None = None
    web_hold_s: float = 0.0

    @property
    def prefix(self) -> Path:
        return self.out_dir / self.name

    @property
    def stats_json(self) -> Path:
        return self.out_dir / f"{self.name}.json"

    @property
    def html(self) -> Path:
        return self.out_dir / f"{self.name}.html"

    @property
    def log(self) -> Path:
        return self.out_dir / f"{self.name}.log"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def master_command(run: LocustRun, master_port: int | None) -> list[str]:
    """The Locust command line (a master when `master_port` is given), headless unless the run has a web port."""
    total = sum(run.users.values())
    config = [{"user_class_name": name, "fixed_count": count} for name, count in run.users.items()]
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        *_interface(run),
        "--host",
        run.host,
        "--users",
        str(total),
        "--spawn-rate",
        str(max(total, 1)),
        "--run-time",
        f"{max(1, round(run.run_time_s))}s",
        "--stop-timeout",
        "5",
        "--ftl-plan",
        str(run.plan),
        "--csv",
        str(run.prefix),
        "--csv-full-history",
        "--html",
        str(run.html),
        "--json-file",
        str(run.prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--config-users",
        json.dumps(config),
    ]
    if master_port is not None:
        command += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(run.workers),
            "--expect-workers-max-wait",
            "60",
        ]
    # User class names go before --config-users, whose variable arity would swallow them.
    return [*command[:5], *run.users, *command[5:]]


def _interface(run: LocustRun) -> list[str]:
    """Headless, or Locust's web UI on loopback: started at once, kept `web_hold_s` after the run, then quit."""
    if run.web_port is None:
        return ["--headless"]
    return [
        "--autostart",
        "--autoquit",
        str(max(0, round(run.web_hold_s))),
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(run.web_port),
    ]


def worker_command(master_port: int) -> list[str]:
    """A Locust worker of the master on loopback."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(master_port),
        "--loglevel",
        "WARNING",
    ]


def child_env() -> dict[str, str]:
    """The environment of Locust processes: this package importable, output unbuffered."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(PACKAGE_ROOT), path) if p),
        "PYTHONUNBUFFERED": "1",
    }


def run_locust(run: LocustRun) -> Path:
    """Run it to the end and return the stats JSON path; LoadError when Locust fails or writes nothing."""
    run.out_dir.mkdir(parents=True, exist_ok=True)
    env = child_env()
    master_port = free_port() if run.workers > 0 else None
    deadline = time.monotonic() + run.run_time_s + run.web_hold_s + 90
    with run.log.open("w", encoding="utf-8") as log:
        master = subprocess.Popen(
            master_command(run, master_port), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=run.out_dir
        )
        workers = [
            subprocess.Popen(
                worker_command(master_port), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=run.out_dir
            )
            for _ in range(run.workers)
            if master_port is not None
        ]
        try:
            code: int | None = master.wait(timeout=max(1.0, deadline - time.monotonic()))
            for worker in workers:
                # The master's exit decides the run; a worker still stopping is stopped below.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.wait(timeout=max(1.0, min(15.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            code = None
        finally:
            for process in (master, *workers):
                stop(process)
    if code is None:
        raise LoadError(f"locust run {run.name} did not finish in time; see {run.log}")
    if code not in COMPLETED or not run.stats_json.exists():
        raise LoadError(f"locust run {run.name} failed (exit {code}); see {run.log}: {tail(run.log)}")
    return run.stats_json


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child if it still runs, then kill it if it does not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path: Path, lines: int = 3) -> str:
    """The last lines of a log, joined on one line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])
