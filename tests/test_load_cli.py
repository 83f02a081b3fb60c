"""ftl-load's command line and the pure parts behind it: flags, env vars, workload arithmetic, summaries.

No Locust here: these run in the test process or call `python -m load` only for usage errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import spec
from cmdline.values import duration, time_scale
from load.compare import compare, reduction, summarize
from load.errors import LoadError
from load.pipeline import draw
from load.plan import CreatedJob, Plan, Slot, build_plan
from load.progress import PlannedRun, RunWatch
from load.results import Entry, percentile
from load.workload import Workload

ROOT = Path(__file__).resolve().parent.parent


def ftl_load(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "load", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_help_names_every_flag_with_its_env_var() -> None:
    done = ftl_load("compare", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for flag in (
        "--target",
        "--jobs",
        "--tabs",
        "--poll-interval",
        "--upload-rate",
        "--duration",
        "--time-scale",
        "--workers",
        "--out",
    ):
        assert flag in text
        assert "FTL_LOAD_" + flag.lstrip("-").replace("-", "_").upper() in text


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("20m", 1200), ("90s", 90), ("1h30m", 5400), ("45", 45)])
def test_durations_parse(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "-5m", "0", "m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        duration(text)


def test_time_scale_accepts_fractions() -> None:
    assert time_scale("1/60") == pytest.approx(1 / 60)
    assert time_scale("0.5") == 0.5
    with pytest.raises(ValueError, match="> 0"):
        time_scale("1/0")


def test_workload_counts_follow_the_schedule() -> None:
    workload = Workload(jobs=3, tabs=2, poll_interval_s=30, upload_rate=2, duration_s=600, time_scale=0.01, batch=2)
    assert workload.polls_per_tab == 20
    assert workload.upload_interval_s == 60
    assert workload.uploads_per_job == 10
    assert workload.predictions_per_job == 20
    assert workload.job_hours == pytest.approx(0.5)
    assert workload.total_tabs == 6
    with pytest.raises(LoadError, match="shorter than one poll"):
        Workload(poll_interval_s=30, duration_s=10)


def test_plan_slots_spread_tabs_over_jobs_and_come_from_the_spec() -> None:
    contract = spec.load()
    workload = Workload(jobs=2, tabs=3, duration_s=600)
    owner = "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60"
    jobs = [CreatedJob(f"j{n}", f"t{n}", owner) for n in range(2)]
    plan = build_plan(contract, "sse", workload, jobs, "session")
    assert plan.users == {"DashboardUser": 6, "TrainingWorkerUser": 2}
    tabs = [plan.slot("tab", i) for i in range(6)]
    assert [(s.job.job_id, s.tab) for s in tabs if s] == [
        ("j0", 0),
        ("j0", 1),
        ("j0", 2),
        ("j1", 0),
        ("j1", 1),
        ("j1", 2),
    ]
    assert plan.slot("tab", 6) is None
    trainer = plan.slot("trainer", 1)
    assert trainer is not None
    assert trainer.job.upload_headers == {"Authorization": "Bearer t1"}
    assert trainer.plan.jobs == ()
    trends = contract.operations["get_prediction_trends"].path_for(jobId="j1")
    assert plan.jobs[1].routes["poll"].path == trends
    assert plan.jobs[1].routes["poll"].name == "poll: get_prediction_trends"
    assert plan.jobs[1].routes["mount_check"].path.endswith("/j1?limit=1")
    assert plan.stream.trigger_event == contract.stream.trigger["event"]
    body = plan.jobs[0].upload_body
    assert contract.operations["create_predictions"].check_json_body(body, "application/json") == []


def test_plan_and_slot_survive_json_as_locust_hands_them_out() -> None:
    contract = spec.load()
    jobs = [CreatedJob("a job/1", "t", "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60")]
    plan = build_plan(contract, "polling", Workload(jobs=1, tabs=2, duration_s=600), jobs, "s", refetch=False)
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    tab = plan.slot("tab", 1)
    assert tab is not None
    assert Slot.from_dict(json.loads(json.dumps(tab.to_dict()))) == tab
    # The job id is one path segment, quoted.
    assert "/a%20job%2F1/trends" in plan.jobs[0].routes["mount"].path


def test_percentile_of_a_histogram() -> None:
    histogram = {10: 50, 20: 49, 500: 1}
    assert percentile(histogram, 0.5) == 10
    assert percentile(histogram, 0.99) == 20
    assert percentile(histogram, 1.0) == 500
    assert percentile({}, 0.5) is None


def entry(name: str, requests: int, failures: int = 0, nbytes: int = 0) -> Entry:
    return Entry(name, requests, failures, nbytes, {5: requests}, {1_700_000_000: requests})


def test_summary_and_reduction_follow_the_counts() -> None:
    workload = Workload(jobs=2, tabs=2, duration_s=1800)
    jobs = [CreatedJob(f"j{n}", "t", "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60") for n in range(2)]
    plans = {mode: build_plan(spec.load(), mode, workload, jobs, "s") for mode in ("polling", "sse")}
    polling = summarize(
        [entry("poll: get_prediction_trends", 240), entry("upload: create_predictions", 60)], plans["polling"]
    )
    sse = summarize(
        [
            entry("refetch: get_prediction_trends", 120),
            entry("stream: connect", 5, failures=1),
            entry("event: prediction", 120),
            entry("upload: create_predictions", 60),
        ],
        plans["sse"],
    )
    for summary in (polling, sse):
        summary["server_cpu_s"] = None
    assert polling["per_job_hour"]["poll"] == 240 / workload.job_hours
    assert sse["connections"] == 4
    assert sse["live_update_requests"] == 125
    assert sse["latency_ms"]["prediction_delay"]["samples"] == 120
    result = compare({"polling": polling, "sse": sse}, workload)
    assert result["modes"] == ["polling", "sse"]
    assert result["expected"] == {
        "polling": {"polls_per_job_hour": 240.0},
        "sse": {"stream_connections": 4, "refetches": 120},
    }
    assert result["reduction_percent"]["live_update_requests"] == pytest.approx((240 - 125) / 240 * 100)
    assert result["reduction_percent"]["server_cpu"] is None
    assert reduction(0, 5) is None


def test_the_driver_imports_neither_locust_nor_matplotlib() -> None:
    # Locust patches the standard library on import; matplotlib would double every command's start-up time.
    code = "import sys, load.cli, load.pipeline, load.scenarios; print({'locust', 'matplotlib'} & set(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "set()", done.stderr


def test_a_chart_is_drawn_from_its_result_file_in_a_child_process(tmp_path: Path) -> None:
    result = {
        "steps": [
            {"streams_requested": n, "streams_held": n, "errors": 0, "delay_ms": {"median": 5, "p99": 9}}
            for n in (10, 20)
        ]
    }
    (tmp_path / "capacity.json").write_text(json.dumps(result))
    draw("capacity", tmp_path / "capacity.json", tmp_path / "capacity.png")
    assert (tmp_path / "capacity.png").read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "capacity.log").exists()
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(LoadError, match=r"could not draw broken.png \(exit 1\); see .*broken.log: .*KeyError"):
        draw("capacity", tmp_path / "empty.json", tmp_path / "broken.png")


def test_progress_is_read_from_the_files_locust_writes(tmp_path: Path) -> None:
    runs = [PlannedRun("polling", 2.0), PlannedRun("sse", 2.0)]
    watch = RunWatch(tmp_path, runs)
    assert watch() is None
    (tmp_path / "polling-plan.json").write_text("{}")
    (tmp_path / "polling_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count\nGET,poll,40,1\n,Aggregated,52,1\n", encoding="utf-8"
    )
    first = watch()
    assert first is not None
    assert (first.total, first.requests, first.failures) == (2, 52, 1)
    assert 0 <= first.done < 1
    assert first.detail.startswith("polling (1 of 2): ")
    (tmp_path / "polling.json").write_text("[]")
    second = watch()
    assert second is not None
    assert second.done == 1
    assert second.detail == "setting up sse (2 of 2)"
