"""`ftl-load compare` end to end: a short compressed run against a real ftl-mock, asserting on the written reports.

Locust runs in subprocesses only (it patches the standard library with gevent); this process reads files.
The same workload on a master and two workers is the README's own example (tests/test_readme.py).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
JOBS, TABS, POLL_S, RATE, MINUTES = 2, 2, 30, 1.0, 10
SCALE = "1/240"  # ten simulated minutes in 2.5 seconds per mode
POLLS_PER_TAB = MINUTES * 60 // POLL_S
PROGRESS = re.compile(r"^ftl-load: locust runs \d/2 \(\d+ %\) · \d+ requests · \d+ failures? · \d+ s elapsed", re.M)
PREDICTIONS_PER_JOB = int(MINUTES * RATE)


def run_compare(out: Path, *extra: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "load",
        "compare",
        "--jobs",
        str(JOBS),
        "--tabs",
        str(TABS),
        "--poll-interval",
        f"{POLL_S}s",
        "--upload-rate",
        str(RATE),
        "--duration",
        f"{MINUTES}m",
        "--time-scale",
        SCALE,
        "--out",
        str(out),
        *extra,
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=55, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # Without a terminal, progress is a plain line every few seconds on stderr.
    assert PROGRESS.search(done.stderr), done.stderr
    return json.loads((out / "compare.json").read_text())


def csv_count(path: Path, name: str) -> int:
    with path.open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return int(rows[name]["Request Count"]) if name in rows else 0


def assert_counts(result: dict[str, Any]) -> None:
    polling, sse = result["polling"], result["sse"]
    expected_rate = 3600 / POLL_S * TABS
    assert polling["per_job_hour"]["poll"] == pytest.approx(expected_rate, rel=0.05)
    assert polling["counts"]["poll"] == POLLS_PER_TAB * JOBS * TABS
    assert polling["counts"]["refetch"] == 0
    assert polling["connections"] == 0

    assert sse["counts"]["poll"] == 0
    assert sse["connections"] == JOBS * TABS
    assert sse["counts"]["stream_connect"] == JOBS * TABS
    assert sse["counts"]["reconnect"] == 0
    assert sse["predictions_uploaded"] == PREDICTIONS_PER_JOB * JOBS
    assert sse["events"]["prediction"] == sse["predictions_uploaded"] * TABS
    assert sse["counts"]["refetch"] == sse["predictions_uploaded"] * TABS
    assert sse["events"]["connected"] == JOBS * TABS

    live_polling = polling["counts"]["poll"]
    live_sse = sse["counts"]["refetch"] + sse["counts"]["stream_connect"]
    assert polling["live_update_requests"] == live_polling
    assert sse["live_update_requests"] == live_sse
    assert result["reduction_percent"]["live_update_requests"] == pytest.approx(
        (live_polling - live_sse) / live_polling * 100, abs=0.01
    )
    assert polling["failures"] == 0
    assert sse["failures"] == 0
    # The mock's metrics count exactly the requests the users report, by operation.
    assert polling["server_requests"] == polling["http_requests"]
    assert sse["server_requests"] == sse["http_requests"]
    for mode in (polling, sse):
        tabs = JOBS * TABS
        assert mode["server"]["requests"] == {
            **({"stream_predictions": tabs} if mode is sse else {}),
            "get_predictions": tabs,
            "get_prediction_trends": tabs + mode["counts"]["poll"] + mode["counts"]["refetch"],
            "create_predictions": mode["counts"]["upload"],
        }
        assert mode["server"]["client_errors"] == 0
        assert mode["server"]["dropped_slow"] == 0
    assert_phase_5(polling["server"], sse["server"], sse)


def assert_phase_5(polling: dict[str, Any], sse: dict[str, Any], sse_summary: dict[str, Any]) -> None:
    """The design note's Phase 5 figures, from the mock's own metrics, agree with what the tabs saw."""
    assert polling["connections"] == 0 and polling["events_sent"] == {}
    assert sse["connections"] == JOBS * TABS
    assert sse["reconnections"] == 0 and sse["reconnection_rate"] == 0
    # Every stream was held for the whole run (2.5 s of wall time at 1/240), then closed.
    assert 1.0 < sse["mean_connection_s"] < sse_summary["wall_s"]
    sent, received = sse["events_sent"], sse_summary["events"]
    assert sent["connected"] == received["connected"] == JOBS * TABS
    assert sent["prediction"] == received["prediction"]
    assert sent["heartbeat"] >= received.get("heartbeat", 0)
    assert sse["events_per_s"] == pytest.approx(sum(sent.values()) / sse_summary["wall_s"], rel=1e-3)  # JSON rounds


@pytest.mark.slow
def test_compare_counts_match_the_workload(tmp_path: Path) -> None:
    result = run_compare(tmp_path)
    assert_counts(result)
    # Locust's own CSV reports say the same as the comparison.
    assert (
        csv_count(tmp_path / "polling_stats.csv", "poll: get_prediction_trends") == result["polling"]["counts"]["poll"]
    )
    assert csv_count(tmp_path / "sse_stats.csv", "refetch: get_prediction_trends") == result["sse"]["counts"]["refetch"]
    assert csv_count(tmp_path / "sse_stats.csv", "stream: connect") == JOBS * TABS
    for name in ("polling.html", "sse.html", "compare.md", "compare.png", "polling_stats_history.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    report = (tmp_path / "compare.md").read_text()
    assert "| live-update requests per job-hour |" in report
    assert "| Phase 5: stream connections / reconnections | 0 / 0 | 4 / 0 |" in report
    assert "| Phase 5: client errors (4xx) | 0 | 0 |" in report
