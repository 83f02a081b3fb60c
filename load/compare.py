"""`ftl-load compare`: the same dashboard workload once per scenario (30 s polling, then SSE), side by side.

Each scenario is one step of the run pipeline (a headless Locust run with CSV, HTML and JSON reports); the
comparison counts requests per job-hour by kind, stream connections, bytes, the server's CPU time and latency,
adds the design note's Phase 5 figures from an ftl-mock's metrics, and writes JSON, Markdown and a chart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from load import chart, training
from load.entries import CONNECT, EVENT, FIRST_EVENT, HELD, RECONNECT
from load.pipeline import Measured, RunOptions, Step, TargetOptions, run_steps, target_label, write_reports
from load.plan import Plan
from load.results import Entry, by_kind, count, find, latency, series, to_jsonable
from load.scenarios import scenario
from load.workload import Workload

STREAM_CONNECT = "stream_connect"
HTTP_KINDS = (*chart.KINDS, training.KIND, STREAM_CONNECT)
"""Every HTTP request the users send (the SSE entries besides the connect are measurements, not requests)."""


def summarize(found: list[Entry], plan: Plan) -> dict[str, Any]:
    """Counts, per-job-hour rates, bytes and latencies of one scenario's Locust entries."""
    workload = plan.workload
    connect = find(found, CONNECT)
    held = find(found, HELD)
    counts = {kind: count(found, kind) for kind in (*chart.KINDS, training.KIND)}
    counts[STREAM_CONNECT] = connect.requests if connect else 0
    counts["reconnect"] = sum(e.requests for e in found if e.name == RECONNECT)
    # What keeps an open chart up to date: what the design note's "99 %" is about.
    live_entries = [e for request in chart.LIVE for e in by_kind(found, request.kind)]
    live = sum(e.requests for e in live_entries) + counts[STREAM_CONNECT]
    stream_bytes = held.content_bytes if held else 0
    live_bytes = sum(e.content_bytes for e in live_entries) + stream_bytes
    hours = workload.job_hours
    uploads = by_kind(found, training.KIND)
    return {
        "mode": plan.scenario,
        "counts": counts,
        "events": {e.detail: e.requests for e in by_kind(found, EVENT)},
        "predictions_uploaded": sum(e.requests - e.failures for e in uploads) * workload.batch,
        "http_requests": sum(counts[k] for k in HTTP_KINDS),
        "live_update_requests": live,
        "connections": (connect.requests - connect.failures) if connect else 0,
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
            "trends": latency(live_entries),
            "stream_connect": latency([connect] if connect else []),
            "first_event": latency([e for e in found if e.name == FIRST_EVENT]),
            "prediction_delay": latency([e for e in by_kind(found, EVENT) if e.detail == plan.stream.trigger_event]),
            "upload": latency(uploads),
        },
        "failures": sum(e.failures for e in found),
        "series": {
            "live_update": series([*live_entries, *([connect] if connect else [])]),
            "upload": series(uploads),
        },
    }


def summary(measured: Measured) -> dict[str, Any]:
    """One scenario's figures: its entries summarized, the server's view and its report files."""
    name = measured.locust.name
    return {
        **summarize(measured.entries, measured.plan),
        "server_cpu_s": measured.server_cpu_s,
        "server_requests": measured.server_requests,
        "peak_open_streams": measured.peak_open_streams,
        "server": server_figures(measured.server, measured.plan),
        "wall_s": measured.wall_s,
        "reports": {
            "csv": f"{name}_stats.csv",
            "history_csv": f"{name}_stats_history.csv",
            "html": measured.locust.html.name,
            "json": measured.locust.stats_json.name,
            "log": measured.locust.log.name,
        },
    }


def server_figures(server: Mapping[str, Any] | None, plan: Plan) -> dict[str, Any] | None:
    """An ftl-mock's figures of a scenario, with its requests per job-hour by operation (None: another target)."""
    if server is None:
        return None
    hours = plan.workload.job_hours
    return {**server, "requests_per_job_hour": {op: n / hours for op, n in server["requests"].items()}}


def reduction(before: float | None, after: float | None) -> float | None:
    """Percent saved going from `before` to `after` (None when it cannot be computed)."""
    if before is None or after is None or before == 0:
        return None
    return (before - after) / before * 100.0


def compare(summaries: Mapping[str, dict[str, Any]], workload: Workload) -> dict[str, Any]:
    """The comparison document: the workload, what the counts should be, each scenario and, for two, the savings."""
    modes = list(summaries)
    expected: dict[str, float] = {}
    for name in modes:
        expected.update(scenario(name).expected(workload))
    result: dict[str, Any] = {"workload": workload.to_dict(), "modes": modes, "expected": expected, **summaries}
    if len(modes) == 2:
        before, after = (summaries[name] for name in modes)
        result["reduction_percent"] = {
            "live_update_requests": reduction(before["live_update_requests"], after["live_update_requests"]),
            # The design note counted the stream connection only, not the refetch every event triggers.
            "connections_only": reduction(before["live_update_requests"], after["counts"][STREAM_CONNECT]),
            "live_update_bytes": reduction(before["bytes"]["live_update"], after["bytes"]["live_update"]),
            "server_cpu": reduction(before["server_cpu_s"], after["server_cpu_s"]),
        }
    return result


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


def _pair(latencies: str, summary: dict[str, Any]) -> str:
    values = summary["latency_ms"][latencies]
    if not values["samples"]:
        return "n/a"
    return f"{fmt(values['median'], 0)} / {fmt(values['p99'], 0)}"


def _per_job_hour(key: str, summary: dict[str, Any]) -> Any:
    return summary["per_job_hour"][key]


def _server(key: str, summary: dict[str, Any]) -> Any:
    return (summary.get("server") or {}).get(key)


def _listed(key: str, digits: int, summary: dict[str, Any]) -> str:
    """A {name: value} figure of the server as `name value · name value`."""
    values = _server(key, summary)
    if values is None:
        return "n/a"
    return " · ".join(f"{name} {fmt(value, digits)}" for name, value in values.items()) or "none"


def _reconnection_percent(summary: dict[str, Any]) -> float | None:
    rate = _server("reconnection_rate", summary)
    return None if rate is None else rate * 100.0


def _connections(summary: dict[str, Any]) -> str:
    server = summary.get("server")
    return "n/a" if server is None else f"{server['connections']} / {server['reconnections']}"


# Each figure of a scenario's summary: its label, how to read it, and the reduction that goes with it (if any).
FIGURES: tuple[tuple[str, Callable[[dict[str, Any]], Any], str | None], ...] = (
    ("live-update requests per job-hour", partial(_per_job_hour, "live_update_requests"), "live_update_requests"),
    *((f"  {request.label} per job-hour", partial(_per_job_hour, request.kind), None) for request in chart.LIVE),
    ("  stream connections per job-hour", partial(_per_job_hour, STREAM_CONNECT), None),
    ("prediction uploads per job-hour", partial(_per_job_hour, training.KIND), None),
    ("stream connections held (peak, server)", lambda m: m["peak_open_streams"], None),
    ("live-update bytes per job-hour", lambda m: m["bytes"]["per_job_hour"], "live_update_bytes"),
    ("server CPU time (s)", lambda m: fmt(m["server_cpu_s"], 2), "server_cpu"),
    ("trends request median / p99 (ms)", partial(_pair, "trends"), None),
    ("upload-to-event delay median / p99 (ms)", partial(_pair, "prediction_delay"), None),
    ("failures", lambda m: m["failures"], None),
    ("requests per job-hour by operation (server)", partial(_listed, "requests_per_job_hour", 1), None),
    # The design note's Phase 5, from the mock's own metrics (n/a against a target that is not an ftl-mock).
    ("Phase 5: stream connections / reconnections", _connections, None),
    ("Phase 5: reconnection rate", lambda m: pct(_reconnection_percent(m)), None),
    ("Phase 5: mean stream connection (s)", lambda m: fmt(_server("mean_connection_s", m), 2), None),
    ("Phase 5: events sent per second", lambda m: fmt(_server("events_per_s", m), 1), None),
    ("Phase 5:   events sent by name", partial(_listed, "events_sent", 0), None),
    ("Phase 5: client errors (4xx)", partial(_server, "client_errors"), None),
    ("Phase 5: slow consumers dropped", partial(_server, "dropped_slow"), None),
)


def _workload_line(w: dict[str, Any]) -> str:
    return (
        f"Workload: {w['jobs']} jobs x {w['tabs']} tabs, poll every {w['poll_interval_s']:g} s, "
        f"{w['upload_rate']:g} predictions per job per minute, {w['duration_s'] / 60:g} simulated minutes "
        f"at time scale {w['time_scale']:.4g} ({w['job_hours']:g} job-hours)."
    )


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table with its workload line: a column per scenario, then the reduction."""
    modes = result["modes"]
    summaries = [result[name] for name in modes]
    heads = modes if len(modes) == 1 else [scenario(name).title for name in modes]
    savings = result.get("reduction_percent")
    columns = [*heads, "reduction"] if savings else heads
    lines = [_workload_line(result["workload"]), "", f"| figure | {' | '.join(columns)} |"]
    lines.append("|---|" + "---:|" * len(columns))
    for label, read, key in FIGURES:
        cells = [fmt(read(summary)) for summary in summaries]
        if savings:
            cells.append(pct(savings[key]) if key is not None else "")
        lines.append(f"| {label} | {' | '.join(cells)} |")
    if savings:
        lines += [
            "",
            f"Counting the stream connection alone (as the design note did), the reduction would be "
            f"{pct(savings['connections_only'])}; every `prediction` event also makes each open tab refetch `/trends`.",
        ]
    return "\n".join(lines) + "\n"


def run_compare(
    workload: Workload, target_options: TargetOptions, run: RunOptions, modes: Sequence[str]
) -> dict[str, Any]:
    """Each scenario against one target; writes compare.json, compare.md (and compare.png for several)."""
    steps = [Step(name, scenario(name), workload, jobs_tag=name) for name in modes]
    measured = run_steps("load", steps, target_options, run, time_scale=workload.time_scale)
    result = to_jsonable(compare({m.plan.scenario: summary(m) for m in measured}, workload))
    result["workers"] = run.workers
    result["target"] = target_label(target_options)
    write_reports(run.out, "compare", result, markdown(result), chart=len(modes) > 1)
    return result
