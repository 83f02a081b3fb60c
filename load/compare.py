"""`ftl-load compare`: the same dashboard workload once with 30 s polling and once with SSE, side by side.

Each mode is a headless Locust run (CSV, HTML and JSON reports); the comparison counts requests per job-hour
by kind, stream connections, bytes, the server's CPU time and latency, and writes JSON, Markdown and a chart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spec
from load.errors import LoadError
from load.plan import MODES, Workload, build_plan, user_classes
from load.results import Entry, by_kind, count, find, latency, read_entries, series, to_jsonable
from load.runner import LocustRun, run_locust
from load.target import StreamSampler, Target, create_jobs, start_mock

# Requests a dashboard tab makes to keep its chart live: what the design note's "99 %" is about.
LIVE_KINDS = ("poll", "refetch")
# Every HTTP request the users send (the SSE entries besides the connect are measurements, not requests).
HTTP_KINDS = ("mount", "poll", "refetch", "upload", "stream_connect")


@dataclass(frozen=True)
class TargetOptions:
    """Where to send load: a given URL (with its pid, if local) or, when None, an ftl-mock started here."""

    url: str | None = None
    pid: int | None = None
    api_key: str | None = None
    session: str | None = None
    request_timeout: float = 30.0


@dataclass(frozen=True)
class RunOptions:
    """How Locust runs: local workers (0 = one local runner), its web UI (None: headless), where reports go."""

    out: Path
    workers: int = 0
    web_port: int | None = None
    web_hold_s: float = 0.0


@contextmanager
def open_target(options: TargetOptions, time_scale: float, out: Path) -> Iterator[Target]:
    """The target for a run; a started mock is stopped afterwards."""
    if options.url is None:
        target = start_mock(time_scale, out / "ftl-mock.log")
        if options.api_key:
            target.api_key = options.api_key
        if options.session:
            target.session = options.session
    else:
        if not options.api_key or not options.session:
            raise LoadError("--target needs --api-key and --session (the dashboard user's credentials)")
        target = Target(options.url.rstrip("/"), options.api_key, options.session, options.pid)
    target.request_timeout = options.request_timeout
    try:
        target.check()
        yield target
    finally:
        target.stop()


def run_mode(
    target: Target, contract: spec.Contract, workload: Workload, mode: str, run: RunOptions, run_id: str
) -> dict[str, Any]:
    """One Locust run of the workload in `mode`; its summary."""
    jobs = create_jobs(target, contract, f"load-{run_id}-{mode}", workload.jobs)
    plan = build_plan(contract, workload, mode, jobs, target.session)
    plan_path = run.out / f"{mode}-plan.json"
    plan_path.write_text(json.dumps(plan, indent=1), encoding="utf-8")
    locust_run = LocustRun(
        name=mode,
        out_dir=run.out,
        host=target.url,
        plan=plan_path,
        users=user_classes(mode, workload),
        run_time_s=workload.wall_s + plan["grace_s"] + plan["barrier_timeout_s"] + 30,
        workers=run.workers,
        web_port=run.web_port,
        web_hold_s=run.web_hold_s,
    )
    cpu_before, served_before = target.cpu_seconds(), target.requests_served()
    started = time.monotonic()
    with StreamSampler(target) as sampler:
        stats_json = run_locust(locust_run)
    wall = time.monotonic() - started
    cpu_after, served_after = target.cpu_seconds(), target.requests_served()
    summary = summarize(read_entries(stats_json), workload, mode)
    summary.update(
        server_cpu_s=difference(cpu_before, cpu_after),
        # The server's own count of the requests it received, to hold against the client's.
        server_requests=difference(served_before, served_after),
        peak_open_streams=sampler.peak,
        wall_s=wall,
        reports={
            "csv": f"{mode}_stats.csv",
            "history_csv": f"{mode}_stats_history.csv",
            "html": locust_run.html.name,
            "json": stats_json.name,
            "log": locust_run.log.name,
        },
    )
    return summary


def difference(before: float | None, after: float | None) -> Any:
    """after - before, or None when either is unknown."""
    return None if before is None or after is None else after - before


def summarize(entries: list[Entry], workload: Workload, mode: str) -> dict[str, Any]:
    """Counts, per-job-hour rates, bytes and latencies of one mode's Locust entries."""
    events = {e.detail: e.requests for e in by_kind(entries, "event")}
    connect = find(entries, "stream: connect")
    held = find(entries, "stream: held")
    connections = (connect.requests - connect.failures) if connect else 0
    counts = {
        "mount": count(entries, "mount"),
        "poll": count(entries, "poll"),
        "refetch": count(entries, "refetch"),
        "upload": count(entries, "upload"),
        "stream_connect": connect.requests if connect else 0,
        "reconnect": sum(e.requests for e in entries if e.name == "stream: reconnect"),
    }
    live = counts["poll"] + counts["refetch"] + counts["stream_connect"]
    stream_bytes = held.content_bytes if held else 0
    live_bytes = sum(e.content_bytes for k in LIVE_KINDS for e in by_kind(entries, k)) + stream_bytes
    hours = workload.job_hours
    uploaded = sum(e.requests - e.failures for e in by_kind(entries, "upload")) * workload.batch
    return {
        "mode": mode,
        "counts": counts,
        "events": events,
        "predictions_uploaded": uploaded,
        "http_requests": sum(counts[k] for k in HTTP_KINDS),
        "live_update_requests": live,
        "connections": connections,
        "per_job_hour": {
            **{k: v / hours for k, v in counts.items()},
            "live_update_requests": live / hours,
        },
        "bytes": {
            "live_update": live_bytes,
            "stream": stream_bytes,
            "per_job_hour": live_bytes / hours,
        },
        "latency_ms": {
            "trends": latency([*by_kind(entries, "poll"), *by_kind(entries, "refetch")]),
            "stream_connect": latency([connect] if connect else []),
            "first_event": latency([e for e in entries if e.name == "stream: first event"]),
            "prediction_delay": latency([e for e in by_kind(entries, "event") if e.detail == "prediction"]),
            "upload": latency(by_kind(entries, "upload")),
        },
        "failures": sum(e.failures for e in entries),
        "series": {
            "live_update": series(
                [*by_kind(entries, "poll"), *by_kind(entries, "refetch"), *([connect] if connect else [])]
            ),
            "upload": series(by_kind(entries, "upload")),
        },
    }


def reduction(before: float | None, after: float | None) -> float | None:
    """Percent saved going from `before` to `after` (None when it cannot be computed)."""
    if before is None or after is None or before == 0:
        return None
    return (before - after) / before * 100.0


def compare(polling: dict[str, Any], sse: dict[str, Any], workload: Workload) -> dict[str, Any]:
    """The comparison document: workload, what the counts should be, both modes and the reductions."""
    expected = {
        "polls_per_job_hour": 3600.0 / workload.poll_interval_s * workload.tabs,
        "stream_connections": workload.jobs * workload.tabs,
        "refetches": workload.predictions_per_job * workload.jobs * workload.tabs,
    }
    return {
        "workload": workload.to_dict(),
        "expected": expected,
        "polling": polling,
        "sse": sse,
        "reduction_percent": {
            "live_update_requests": reduction(polling["live_update_requests"], sse["live_update_requests"]),
            # The design note counted the stream connection only, not the refetch every event triggers.
            "connections_only": reduction(polling["live_update_requests"], sse["counts"]["stream_connect"]),
            "live_update_bytes": reduction(polling["bytes"]["live_update"], sse["bytes"]["live_update"]),
            "server_cpu": reduction(polling["server_cpu_s"], sse["server_cpu_s"]),
        },
    }


def fmt(value: Any, digits: int = 1) -> str:
    """A table cell."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def pct(value: float | None) -> str:
    """A reduction in percent (negative when the second mode costs more)."""
    return "n/a" if value is None else f"{value:.1f} %"


def _delay(summary: dict[str, Any]) -> str:
    if summary["mode"] != "sse":
        return "n/a"
    return _pair(summary, ("latency_ms", "prediction_delay"))


# Each figure of a mode's summary: its label, how to read it, and the reduction that goes with it (if any).
FIGURES: tuple[tuple[str, Callable[[dict[str, Any]], Any], str | None], ...] = (
    ("live-update requests per job-hour", lambda m: m["per_job_hour"]["live_update_requests"], "live_update_requests"),
    ("  trends polls per job-hour", lambda m: m["per_job_hour"]["poll"], None),
    ("  trends refetches (on event) per job-hour", lambda m: m["per_job_hour"]["refetch"], None),
    ("  stream connections per job-hour", lambda m: m["per_job_hour"]["stream_connect"], None),
    ("prediction uploads per job-hour", lambda m: m["per_job_hour"]["upload"], None),
    ("stream connections held (peak, server)", lambda m: m["peak_open_streams"], None),
    ("live-update bytes per job-hour", lambda m: m["bytes"]["per_job_hour"], "live_update_bytes"),
    ("server CPU time (s)", lambda m: fmt(m["server_cpu_s"], 2), "server_cpu"),
    ("trends request median / p99 (ms)", lambda m: _pair(m, ("latency_ms", "trends")), None),
    ("upload-to-event delay median / p99 (ms)", _delay, None),
    ("failures", lambda m: m["failures"], None),
)


def _workload_line(w: dict[str, Any]) -> str:
    return (
        f"Workload: {w['jobs']} jobs x {w['tabs']} tabs, poll every {w['poll_interval_s']:g} s, "
        f"{w['upload_rate']:g} predictions per job per minute, {w['duration_s'] / 60:g} simulated minutes "
        f"at time scale {w['time_scale']:.4g} ({w['job_hours']:g} job-hours)."
    )


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table with its workload line (one column when one mode ran)."""
    modes = result.get("modes", list(MODES))
    if len(modes) == 1:
        summary = result[modes[0]]
        lines = [_workload_line(result["workload"]), "", f"| figure | {modes[0]} |", "|---|---:|"]
        lines += [f"| {label} | {fmt(read(summary))} |" for label, read, _ in FIGURES]
        return "\n".join(lines) + "\n"
    p, s, r = result["polling"], result["sse"], result["reduction_percent"]
    lines = [_workload_line(result["workload"]), "", "| figure | polling | SSE | reduction |", "|---|---:|---:|---:|"]
    for label, read, key in FIGURES:
        change = pct(r[key]) if key is not None else ""
        lines.append(f"| {label} | {fmt(read(p))} | {fmt(read(s))} | {change} |")
    lines += [
        "",
        f"Counting the stream connection alone (as the design note did), the reduction would be "
        f"{pct(r['connections_only'])}; every `prediction` event also makes each open tab refetch `/trends`.",
    ]
    return "\n".join(lines) + "\n"


def _pair(summary: dict[str, Any], path: tuple[str, str]) -> str:
    values = summary[path[0]][path[1]]
    return f"{fmt(values['median'], 0)} / {fmt(values['p99'], 0)}"


def run_compare(
    workload: Workload, target_options: TargetOptions, run: RunOptions, modes: tuple[str, ...] = MODES
) -> dict[str, Any]:
    """The modes against one target; writes compare.json, compare.md (and compare.png for both) under `run.out`."""
    from load.charts import compare_chart

    run.out.mkdir(parents=True, exist_ok=True)
    contract = spec.load()
    run_id = time.strftime("%Y%m%d%H%M%S")
    summaries: dict[str, dict[str, Any]] = {}
    with open_target(target_options, workload.time_scale, run.out) as target:
        for mode in modes:
            summaries[mode] = run_mode(target, contract, workload, mode, run, run_id)
    if set(modes) == set(MODES):
        result = to_jsonable(compare(summaries["polling"], summaries["sse"], workload))
    else:
        result = to_jsonable({"workload": workload.to_dict(), "modes": list(modes), **summaries})
    result["workers"] = run.workers
    result["target"] = target_options.url or "ftl-mock (started by ftl-load)"
    (run.out / "compare.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (run.out / "compare.md").write_text(markdown(result), encoding="utf-8")
    if set(modes) == set(MODES):
        compare_chart(result, run.out / "compare.png")
    return result
