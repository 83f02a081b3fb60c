"""`ftl-load compare --designs ...` end to end: every design, each against its own mock, in one short compressed run.

The workload makes each design's difference countable: uploads of two rows each (so a batch has something to
batch), four per job per minute over ten simulated minutes (so the worker reaches a second epoch and the two tabs
of a job watch different ones). The counts each design implies are asserted on the written compare.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import once_per_run

from load.scenarios import ALL, SCENARIOS
from load.workload import Workload

ROOT = Path(__file__).resolve().parent.parent
JOBS, TABS, RATE, BATCH, MINUTES, SCALE = 2, 2, 4.0, 2, 10, "1/240"
WORKLOAD = Workload(jobs=JOBS, tabs=TABS, upload_rate=RATE, batch=BATCH, duration_s=MINUTES * 60, time_scale=1 / 240)
UPLOADS = WORKLOAD.uploads_per_job * JOBS  # 40 uploads in all ...
ROWS = WORKLOAD.predictions_per_job * JOBS  # ... of two rows each


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The one compare run every test here reads (made once per test run, whichever worker asks first)."""
    return once_per_run(tmp_path_factory, "load-designs", compare_every_design)


def compare_every_design(out: Path) -> dict[str, Any]:
    workload = ["--jobs", str(JOBS), "--tabs", str(TABS), "--upload-rate", str(RATE), "--batch", str(BATCH)]
    timing = ["--duration", f"{MINUTES}m", "--time-scale", SCALE, "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "load", "compare", "--designs", "all", *workload, *timing],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "| upload to visible update p50 / p99 (s, simulated) |" in done.stdout
    for name in ALL:
        assert (out / f"{name}.html").stat().st_size > 0
        assert (
            out / f"ftl-mock-{SCENARIOS[name].design}.log" if SCENARIOS[name].design else out / "ftl-mock.log"
        ).exists()
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")
    return dict(json.loads((out / "compare.json").read_text()))


@pytest.mark.slow
def test_every_design_ran_its_workload_without_failures(result: dict[str, Any]) -> None:
    assert result["modes"] == list(ALL)
    for name in ALL:
        summary = result[name]
        assert summary["design"] == SCENARIOS[name].design, name
        assert summary["failures"] == 0, name
        assert summary["predictions_uploaded"] == ROWS, name
        # Each design's own mock journaled exactly the requests its users report.
        assert summary["server_requests"] == summary["http_requests"], name
        if name != "polling":
            assert summary["connections"] == summary["counts"]["stream_connect"] == JOBS * TABS, name


@pytest.mark.slow
def test_sse_refetches_on_every_row_and_push_sends_no_trends_request(result: dict[str, Any]) -> None:
    sse, push = result["sse"], result["sse-push"]
    assert sse["events"]["prediction"] == sse["counts"]["refetch"] == ROWS * TABS
    assert push["events"]["prediction"] == ROWS * TABS
    assert push["counts"]["trends_requests"] == 0  # not at mount, not on any event
    assert push["counts"]["refetch"] == push["counts"]["poll"] == 0
    # Every row became visible on every tab, from the event itself.
    assert push["latency_ms"]["visible"]["samples"] == ROWS * TABS


@pytest.mark.slow
def test_sse_batched_sends_each_upload_in_one_event_and_refetches_at_most_once_per_window(
    result: dict[str, Any],
) -> None:
    batched = result["sse-batched-2s"]
    assert "prediction" not in batched["events"]
    assert batched["events"]["predictions"] == UPLOADS * TABS  # two rows per event, not one event per row
    # One refetch per event at most: uploads come every 15 simulated seconds, far apart from the 2 s window.
    assert batched["counts"]["refetch"] <= batched["events"]["predictions"]
    assert batched["counts"]["refetch"] == result["expected"]["sse-batched-2s"]["refetches_at_most"]
    assert batched["counts"]["refetch"] * BATCH == result["sse"]["counts"]["refetch"]


@pytest.mark.slow
def test_sse_epoch_filter_sends_each_tab_only_its_epoch(result: dict[str, Any]) -> None:
    filtered = result["sse-epoch-filter"]
    expected = result["expected"]["sse-epoch-filter"]["prediction_events"]
    # Two epochs in the run, one watched per tab: each tab gets half of the rows.
    assert expected == ROWS
    assert filtered["events"]["prediction"] == filtered["counts"]["refetch"] == expected
    assert filtered["events"]["prediction"] < result["sse"]["events"]["prediction"]


@pytest.mark.slow
def test_sse_gzip_is_coded_on_the_wire(result: dict[str, Any]) -> None:
    coded, plain = result["sse-gzip"], result["sse"]
    assert coded["counts"]["coded_connections"] == JOBS * TABS
    assert plain["counts"]["coded_connections"] == 0
    # The same events (heartbeats follow the wall clock, so their count may differ by a beat or two).
    assert {k: v for k, v in coded["events"].items() if k != "heartbeat"} == {
        k: v for k, v in plain["events"].items() if k != "heartbeat"
    }
    # The same events, a fraction of the bytes on the wire.
    assert coded["bytes"]["stream_per_event"] < 0.3 * plain["bytes"]["stream_per_event"]


@pytest.mark.slow
def test_polling_shows_a_row_half_a_poll_later_and_the_streams_at_once(result: dict[str, Any]) -> None:
    polled = result["polling"]["latency_ms"]["visible"]
    # Tab n polls n x 0.618 of an interval early, so a row uploaded after a tab's last poll never shows on it.
    interval, every = WORKLOAD.poll_interval_s, WORKLOAD.upload_interval_s
    last_polls = [(WORKLOAD.polls_per_tab - (n * 0.6180339887498949) % 1.0) * interval for n in range(TABS)]
    uploaded = [(u + 0.5) * every for u in range(WORKLOAD.uploads_per_job)]
    shown = sum(BATCH for last in last_polls for at in uploaded if at <= last) * JOBS
    assert 0 < shown < ROWS * TABS  # the second tab's last poll comes before the last upload
    assert polled["samples"] == shown
    assert polled["median"] >= 10_000  # uploads land mid-interval: 15 simulated seconds before the next poll
    for name in ("sse", "sse-push", "sse-batched-2s", "sse-gzip"):
        assert result[name]["latency_ms"]["visible"]["median"] < 2_000, name
