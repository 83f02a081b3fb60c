"""`ftl-load capacity`: ramp SSE dashboard tabs against the target, one step of the run pipeline per stream count.

Each step holds its streams while every job's training worker uploads predictions, and reports the streams
held (client and server view), the upload-to-event fan-out delay p50/p99, errors and the server's CPU time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from load import chart, training
from load.entries import CONNECT, EVENT
from load.errors import LoadError
from load.pipeline import Measured, RunOptions, Step, TargetOptions, run_steps, target_label, write_reports
from load.results import by_kind, find, latency, to_jsonable
from load.scenarios import scenario
from load.workload import Workload


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
    scenario: str = "sse"

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


def summarize_step(measured: Measured) -> dict[str, Any]:
    """Streams connected and held, prediction events and their delay, refetch latency, errors of one step."""
    found, workload = measured.entries, measured.plan.workload
    connect = find(found, CONNECT)
    predictions = [e for e in by_kind(found, EVENT) if e.detail == measured.plan.stream.trigger_event]
    expected_events = workload.predictions_per_job * workload.total_tabs
    received = sum(e.requests for e in predictions)
    step = {
        "jobs": workload.jobs,
        "tabs_per_job": workload.tabs,
        "streams_connected": (connect.requests - connect.failures) if connect else 0,
        "predictions_uploaded": sum(e.requests - e.failures for e in by_kind(found, training.KIND)) * workload.batch,
        "events_expected": expected_events,
        "events_received": received,
        "delay_ms": latency(predictions),
        "connect_ms": latency([connect] if connect else []),
        "refetch_ms": latency(by_kind(found, chart.REFETCH.kind)),
        "errors": sum(e.failures for e in found) + max(0, expected_events - received),
        "failed_requests": sum(e.failures for e in found),
        "streams_requested": workload.total_tabs,
        "streams_held_server": measured.peak_open_streams,
        "server_cpu_s": measured.server_cpu_s,
        "wall_s": measured.wall_s,
        "html": measured.locust.html.name,
    }
    # The server's own count when it gives one, else the streams the tabs saw connect.
    held = measured.peak_open_streams
    step["streams_held"] = held if held is not None else step["streams_connected"]
    return step


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
    if not options.steps:
        raise LoadError("capacity needs at least one step")
    tab = scenario(options.scenario)
    steps = [
        Step(step_name(n), tab, options.workload(n), jobs_tag=str(n), refetch=options.refetch) for n in options.steps
    ]
    measured = run_steps("cap", steps, target_options, run, time_scale=options.time_scale, sample_interval_s=0.25)
    figures = [summarize_step(m) for m in measured]
    result = to_jsonable({"options": asdict(options), "workers": run.workers, "steps": figures})
    result["target"] = target_label(target_options)
    write_reports(run.out, "capacity", result, markdown(result), chart=True)
    return result
