"""`ftl-load capacity`: ramp SSE dashboard tabs against the target, one Locust run per step.

Each step holds its streams while every job's training worker uploads predictions, and reports the streams
held (client and server view), the upload-to-event fan-out delay p50/p99, errors and the server's CPU time.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import spec
from load.compare import RunOptions, TargetOptions, open_target
from load.errors import LoadError
from load.plan import Workload, build_plan, user_classes
from load.results import Entry, by_kind, find, latency, read_entries, to_jsonable
from load.runner import LocustRun, run_locust
from load.target import StreamSampler, Target, create_jobs


@dataclass(frozen=True)
class CapacityOptions:
    """The ramp: stream counts per step, spread over `jobs` jobs, each held `hold_s` wall seconds."""

    steps: list[int]
    jobs: int = 10
    hold_s: float = 20.0
    upload_rate: float = 12.0
    batch: int = 1
    time_scale: float = 1.0
    refetch: bool = True

    def workload(self, streams: int) -> Workload:
        """The step's workload: `streams` tabs over the jobs (rounded up to fill every job evenly)."""
        jobs = min(self.jobs, streams)
        duration = self.hold_s / self.time_scale
        return Workload(
            jobs=jobs,
            tabs=math.ceil(streams / jobs),
            poll_interval_s=duration,
            upload_rate=self.upload_rate,
            duration_s=duration,
            time_scale=self.time_scale,
            batch=self.batch,
        )


def step_name(streams: int) -> str:
    """The name of a step's Locust run and of its files."""
    return f"step-{streams:05d}"


def run_step(
    target: Target, contract: spec.Contract, options: CapacityOptions, streams: int, run: RunOptions, run_id: str
) -> dict[str, Any]:
    """One step: its own jobs, its Locust run, its figures."""
    workload = options.workload(streams)
    name = step_name(streams)
    jobs = create_jobs(target, contract, f"cap-{run_id}-{streams}", workload.jobs)
    plan = build_plan(contract, workload, "sse", jobs, target.session, refetch=options.refetch)
    plan_path = run.out / f"{name}-plan.json"
    plan_path.write_text(json.dumps(plan, indent=1), encoding="utf-8")
    locust_run = LocustRun(
        name=name,
        out_dir=run.out,
        host=target.url,
        plan=plan_path,
        users=user_classes("sse", workload),
        run_time_s=workload.wall_s + plan["grace_s"] + plan["barrier_timeout_s"] + 30,
        workers=run.workers,
    )
    cpu_before = target.cpu_seconds()
    started = time.monotonic()
    with StreamSampler(target, interval_s=0.25) as sampler:
        stats_json = run_locust(locust_run)
    wall = time.monotonic() - started
    cpu_after = target.cpu_seconds()
    step = summarize_step(read_entries(stats_json), workload)
    step.update(
        streams_requested=workload.jobs * workload.tabs,
        streams_held_server=sampler.peak,
        server_cpu_s=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        wall_s=wall,
        html=locust_run.html.name,
    )
    step["streams_held"] = step["streams_held_server"] if sampler.peak is not None else step["streams_connected"]
    return step


def summarize_step(entries: list[Entry], workload: Workload) -> dict[str, Any]:
    """Streams connected, prediction events and their delay, refetch latency, errors of one step."""
    connect = find(entries, "stream: connect")
    predictions = [e for e in by_kind(entries, "event") if e.detail == "prediction"]
    expected_events = workload.predictions_per_job * workload.jobs * workload.tabs
    received = sum(e.requests for e in predictions)
    return {
        "jobs": workload.jobs,
        "tabs_per_job": workload.tabs,
        "streams_connected": (connect.requests - connect.failures) if connect else 0,
        "predictions_uploaded": sum(e.requests - e.failures for e in by_kind(entries, "upload")) * workload.batch,
        "events_expected": expected_events,
        "events_received": received,
        "delay_ms": latency(predictions),
        "connect_ms": latency([connect] if connect else []),
        "refetch_ms": latency(by_kind(entries, "refetch")),
        "errors": sum(e.failures for e in entries) + max(0, expected_events - received),
        "failed_requests": sum(e.failures for e in entries),
    }


def markdown(result: dict[str, Any]) -> str:
    """The ramp as a Markdown table."""
    o = result["options"]
    lines = [
        f"Capacity ramp: tabs spread over up to {o['jobs']} jobs, each step held {o['hold_s']:g} s, "
        f"{o['upload_rate']:g} predictions per job per minute (time scale {o['time_scale']:.4g}), "
        f"refetch on event: {'yes' if o['refetch'] else 'no'}.",
        "",
        "| streams requested | held (peak) | events received / expected | delay p50 (ms) | delay p99 (ms) "
        "| refetch p99 (ms) | errors | server CPU (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in result["steps"]:
        lines.append(
            f"| {s['streams_requested']} | {_cell(s['streams_held'])} "
            f"| {s['events_received']} / {s['events_expected']} "
            f"| {_cell(s['delay_ms']['median'])} | {_cell(s['delay_ms']['p99'])} | {_cell(s['refetch_ms']['p99'])} "
            f"| {s['errors']} | {_cell(s['server_cpu_s'])} |"
        )
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.2f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"


def run_capacity(options: CapacityOptions, target_options: TargetOptions, run: RunOptions) -> dict[str, Any]:
    """Every step against one target; writes capacity.json, capacity.md and capacity.png under `run.out`."""
    from load.charts import capacity_chart

    if not options.steps:
        raise LoadError("capacity needs at least one step")
    run.out.mkdir(parents=True, exist_ok=True)
    contract = spec.load()
    run_id = time.strftime("%Y%m%d%H%M%S")
    steps = []
    with open_target(target_options, options.time_scale, run.out) as target:
        for streams in options.steps:
            steps.append(run_step(target, contract, options, streams, run, run_id))
    result = to_jsonable({"options": asdict(options), "workers": run.workers, "steps": steps})
    result["target"] = target_options.url or "ftl-mock (started by ftl-load)"
    (run.out / "capacity.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (run.out / "capacity.md").write_text(markdown(result), encoding="utf-8")
    capacity_chart(result, Path(run.out / "capacity.png"))
    return result
