"""`ftl-load compare`: the same dashboard workload once per scenario (30 s polling, then SSE), side by side.

Each scenario is one step of the run pipeline (a headless Locust run with CSV, HTML and JSON reports); the
comparison counts requests per job-hour by kind, stream connections, bytes, the server's CPU time and latency,
adds the design note's Phase 5 figures from an ftl-mock's metrics, and writes JSON, Markdown and a chart.
`--designs` compares the design note's Phase 4 variants (each scenario against a mock serving its contract design);
`--rates` repeats the workload per prediction rate, so each design's break-even with polling shows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from load import chart, training
from load.entries import CODED, CONNECT, EVENT, FIRST_EVENT, HELD, RECONNECT, VISIBLE
from load.pipeline import Measured, RunOptions, Step, TargetOptions, run_steps, target_label, write_reports
from load.plan import Plan
from load.results import Entry, by_kind, count, find, latency, series, to_jsonable
from load.scenarios import scenario
from load.workload import Workload

STREAM_CONNECT = "stream_connect"
TRENDS = "get_prediction_trends"
"""The operation the chart draws from: every request of it counts as a trends request, mount included."""
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
    trends = [e for e in found if e.kind in chart.KINDS and e.detail == TRENDS]
    counts["trends_requests"] = sum(e.requests for e in trends)
    counts["coded_connections"] = sum(e.requests for e in found if e.name.startswith(CODED))
    poll_bytes = sum(e.content_bytes for e in by_kind(found, "poll"))
    refetch_bytes = sum(e.content_bytes for e in by_kind(found, "refetch"))
    visible = [e for e in found if e.name == VISIBLE]
    return {
        "mode": plan.scenario,
        "design": plan.design,
        "upload_rate": workload.upload_rate,
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
            "per_job_hour_by_kind": {
                "poll": poll_bytes / hours,
                "refetch": refetch_bytes / hours,
                "stream": stream_bytes / hours,
            },
            "stream_per_event": stream_bytes / max(1, sum(e.requests for e in by_kind(found, EVENT))),
        },
        "latency_ms": {
            "trends": latency(live_entries),
            "stream_connect": latency([connect] if connect else []),
            "first_event": latency([e for e in found if e.name == FIRST_EVENT]),
            "prediction_delay": latency([e for e in by_kind(found, EVENT) if e.detail == plan.stream.trigger_event]),
            "upload": latency(uploads),
            # Simulated time: the waits a design imposes at full length (see load.tab).
            "visible": latency(visible),
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
    expected = {name: scenario(name).expected(workload) for name in modes}
    result: dict[str, Any] = {"workload": workload.to_dict(), "modes": modes, "expected": expected, **summaries}
    if len(modes) > 2:
        result["versus_first"] = {name: savings(summaries[modes[0]], summaries[name]) for name in modes[1:]}
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


def savings(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float | None]:
    """Percent saved by `after` against `before`: live-update requests, their bytes, server CPU."""
    return {
        "live_update_requests": reduction(before["live_update_requests"], after["live_update_requests"]),
        "live_update_bytes": reduction(before["bytes"]["live_update"], after["bytes"]["live_update"]),
        "server_cpu": reduction(before["server_cpu_s"], after["server_cpu_s"]),
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


def _pair(latencies: str, summary: dict[str, Any]) -> str:
    values = summary["latency_ms"][latencies]
    if not values["samples"]:
        return "n/a"
    return f"{fmt(values['median'], 0)} / {fmt(values['p99'], 0)}"


def _per_job_hour(key: str, summary: dict[str, Any]) -> Any:
    return summary["per_job_hour"][key]


def _bytes_per_job_hour(kind: str, summary: dict[str, Any]) -> Any:
    return summary["bytes"].get("per_job_hour_by_kind", {}).get(kind)


def _seconds(summary: dict[str, Any]) -> str:
    values = summary["latency_ms"].get("visible") or {}
    if not values.get("samples"):
        return "n/a"
    return f"{values['median'] / 1000:,.2f} / {values['p99'] / 1000:,.2f}"


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
    ("  trends poll bytes per job-hour", partial(_bytes_per_job_hour, "poll"), None),
    ("  trends refetch bytes per job-hour", partial(_bytes_per_job_hour, "refetch"), None),
    ("  stream bytes per job-hour (on the wire)", partial(_bytes_per_job_hour, "stream"), None),
    ("trends requests in all (mount, polls, refetches)", lambda m: m["counts"].get("trends_requests"), None),
    ("server CPU time (s)", lambda m: fmt(m["server_cpu_s"], 2), "server_cpu"),
    ("trends request median / p99 (ms)", partial(_pair, "trends"), None),
    ("upload-to-event delay median / p99 (ms)", partial(_pair, "prediction_delay"), None),
    ("upload to visible update p50 / p99 (s, simulated)", _seconds, None),
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
VERSUS = {
    "live_update_requests": "live-update requests",
    "live_update_bytes": "live-update bytes",
    "server_cpu": "server CPU",
}
"""The savings against the first scenario shown when more than two are compared."""


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
    versus = result.get("versus_first")
    for label, read, key in FIGURES:
        cells = [fmt(read(summary)) for summary in summaries]
        if savings:
            cells.append(pct(savings[key]) if key is not None else "")
        lines.append(f"| {label} | {' | '.join(cells)} |")
        if versus and key in VERSUS:
            saved = ["", *(pct(versus[name][key]) for name in modes[1:])]
            lines.append(f"|   {VERSUS[key]} saved vs {heads[0]} | {' | '.join(saved)} |")
    if savings:
        lines += [
            "",
            f"Counting the stream connection alone (as the design note did), the reduction would be "
            f"{pct(savings['connections_only'])}; every `prediction` event also makes each open tab refetch `/trends`.",
        ]
    if result.get("by_rate"):
        lines += ["", *sweep_markdown(result)]
    return "\n".join(lines) + "\n"


def live_per_job_hour(summary: dict[str, Any]) -> float:
    """Live-update requests per job-hour of one summary."""
    return float(summary["per_job_hour"]["live_update_requests"])


# The figures the rate sweep shows per design and rate: label, how to read a summary, digits.
SWEEP: tuple[tuple[str, Callable[[dict[str, Any]], Any], int], ...] = (
    ("live-update requests per job-hour", live_per_job_hour, 0),
    ("live-update bytes per job-hour", lambda m: m["bytes"]["per_job_hour"], 0),
    ("server CPU time (s)", lambda m: m["server_cpu_s"], 2),
    ("upload to visible update p50 (s, simulated)", lambda m: _median_s(m), 2),
)


def _median_s(summary: dict[str, Any]) -> float | None:
    values = summary["latency_ms"].get("visible") or {}
    return values["median"] / 1000 if values.get("samples") else None


def sweep_markdown(result: dict[str, Any]) -> list[str]:
    """One table per figure: a row per scenario, a column per prediction rate, and where it meets the first."""
    rates = [str(rate) for rate in result["rates"]]
    modes = result["modes"]
    by_rate = result["by_rate"]
    lines = [f"By prediction rate (predictions per job per minute; {_jobs_line(result['workload'])}):"]
    for label, read, digits in SWEEP:
        meets = label.startswith("live-update requests")
        head = " | ".join(f"{rate}/min" for rate in rates)
        lines += ["", f"| {label} | {head} |" + (f" costs less than {scenario(modes[0]).title} |" if meets else "")]
        lines.append("|---|" + "---:|" * len(rates) + ("---|" if meets else ""))
        for name in modes:
            cells = [fmt(_read(read, by_rate[rate].get(name)), digits) for rate in rates]
            tail = f" {break_even(result, name)} |" if meets else ""
            lines.append(f"| {scenario(name).title} | {' | '.join(cells)} |{tail}")
    return lines


def _read(read: Callable[[dict[str, Any]], Any], summary: dict[str, Any] | None) -> Any:
    return None if summary is None else read(summary)


def _jobs_line(w: dict[str, Any]) -> str:
    return f"{w['jobs']} jobs x {w['tabs']} tabs, {w['duration_s'] / 60:g} simulated minutes each"


def break_even(result: dict[str, Any], name: str) -> str:
    """Up to which prediction rate a scenario sends fewer live-update requests than the first one, interpolated."""
    baseline = result["modes"][0]
    if name == baseline:
        return ""
    points = []
    for rate in result["rates"]:
        step = result["by_rate"][str(rate)]
        if name in step and baseline in step:
            points.append((float(rate), live_per_job_hour(step[name]) - live_per_job_hour(step[baseline])))
    if not points:
        return "n/a"
    if all(diff < 0 for _, diff in points):
        return f"at every rate measured (up to {points[-1][0]:g}/min)"
    if all(diff >= 0 for _, diff in points):
        return f"at no rate measured (from {points[0][0]:g}/min)"
    for (low, below), (high, above) in itertools.pairwise(points):
        if below < 0 <= above:
            return f"below {low + (high - low) * (-below) / (above - below):.2g}/min"
    return "n/a"


def run_compare(
    workload: Workload,
    target_options: TargetOptions,
    run: RunOptions,
    modes: Sequence[str],
    rates: Sequence[float] = (),
) -> dict[str, Any]:
    """Each scenario (at each rate) against its design's target; writes compare.json, compare.md and compare.png.

    With `rates`, the main table is at the first rate and `by_rate` holds every rate's summaries.
    """
    sweep = [float(rate) for rate in rates]
    loads = [replace(workload, upload_rate=rate) for rate in sweep] or [workload]
    steps = [
        Step(sweep_step(name, load, sweep), scenario(name), load, jobs_tag=sweep_step(name, load, sweep))
        for name in modes
        for load in loads
    ]
    measured = run_steps("load", steps, target_options, run, time_scale=workload.time_scale)
    per_rate: dict[str, dict[str, Any]] = {}
    for m in measured:
        per_rate.setdefault(rate_key(m.plan.workload.upload_rate), {})[m.plan.scenario] = summary(m)
    main = loads[0]
    result = compare(per_rate[rate_key(main.upload_rate)], main)
    if sweep:
        result["rates"] = [rate_key(rate) for rate in sweep]
        result["by_rate"] = per_rate
    result = to_jsonable(result)
    result["workers"] = run.workers
    result["target"] = target_label(target_options)
    write_reports(run.out, "compare", result, markdown(result), chart=len(modes) > 1 or len(sweep) > 1)
    return result


def sweep_step(name: str, workload: Workload, sweep: Sequence[float]) -> str:
    """A step's name (its report files' stem): the scenario's, and its rate in a sweep."""
    return f"{name}-r{rate_key(workload.upload_rate)}" if sweep else name


def rate_key(rate: float) -> str:
    """A prediction rate as the reports write it: `0.25`, `1`, `4`."""
    return f"{rate:g}"
