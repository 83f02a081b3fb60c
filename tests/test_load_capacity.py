"""`ftl-load capacity` end to end: one small step against a real ftl-mock, and the same step with a bad session.

Locust runs in subprocesses only; these tests read what it and ftl-load wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STREAMS, JOBS = 6, 2


def run_capacity(out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    command = [
        sys.executable,
        "-m",
        "load",
        "capacity",
        "--steps",
        str(STREAMS),
        "--jobs",
        str(JOBS),
        "--hold",
        "2s",
        "--time-scale",
        "0.01",  # heartbeats and reconnect backoff a hundred times faster
        "--upload-rate",
        "0.5",  # one upload per job in the two held seconds
        "--out",
        str(out),
        *extra,
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=50, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return done.returncode, json.loads((out / "capacity.json").read_text())


@pytest.mark.slow
def test_capacity_step_holds_every_stream_and_times_the_fan_out(tmp_path: Path) -> None:
    code, result = run_capacity(tmp_path)
    (step,) = result["steps"]
    assert code == 0
    assert step["streams_requested"] == STREAMS
    assert step["streams_connected"] == STREAMS
    assert step["streams_held_server"] == STREAMS
    assert step["predictions_uploaded"] == JOBS
    assert step["events_received"] == step["events_expected"] == JOBS * STREAMS // JOBS
    assert step["delay_ms"]["samples"] == step["events_received"]
    assert step["delay_ms"]["median"] is not None
    assert step["errors"] == 0
    assert (tmp_path / "capacity.png").stat().st_size > 0
    assert (tmp_path / "step-00006.html").stat().st_size > 0


@pytest.mark.slow
def test_refused_streams_are_counted_as_errors(tmp_path: Path) -> None:
    code, result = run_capacity(tmp_path, "--session", "not-a-session")
    (step,) = result["steps"]
    assert code == 1
    assert step["streams_connected"] == 0
    assert step["events_received"] == 0
    assert step["errors"] >= STREAMS
    failures = (tmp_path / "step-00006_failures.csv").read_text()
    assert "stream: connect" in failures
    assert "HTTP 401" in failures
