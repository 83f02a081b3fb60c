"""PNG charts of ftl-load results, drawn with matplotlib's object API and its Agg canvas (no display, no pyplot).

`compare_chart` plots live-update requests over simulated time for each scenario, or (a rate sweep) live-update
requests and bytes per job-hour against the prediction rate, where each design crosses polling; `capacity_chart`
plots fan-out delay, streams held and errors per capacity step. The driver draws them in a child process
(`python -m load.charts compare compare.json compare.png`), so matplotlib stays out of every command's start.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from load.scenarios import scenario

UPLOAD_COLOR = "#7f7f7f"
HELD_COLOR = "#2ca02c"
ERROR_COLOR = "#d62728"


def _figure() -> Figure:
    figure = Figure(figsize=(9, 4.5), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")  # a legend placed below the axes is kept whole
    return path


def _timeline(per_second: dict[Any, int], origin: int, time_scale: float, bins: int = 40) -> tuple[list, list]:
    """Simulated minutes since `origin` and requests per simulated minute, averaged over about `bins` bins."""
    if not per_second:
        return [], []
    seconds = {int(k): v for k, v in per_second.items()}
    span = max(seconds) - origin + 1
    width = max(1, round(span / bins))
    xs, ys = [], []
    for start in range(origin, max(seconds) + 1, width):
        total = sum(seconds.get(second, 0) for second in range(start, start + width))
        xs.append((start - origin + width / 2) / time_scale / 60)
        # One wall second holds 1/time_scale simulated seconds.
        ys.append(total / width * 60 * time_scale)
    return xs, ys


def compare_chart(result: dict[str, Any], path: Path) -> Path:
    """Requests over time, one line per scenario, and the uploads (the same in each) dashed; a sweep by rate."""
    if len(result.get("rates") or ()) > 1:
        return sweep_chart(result, path)
    scale = float(result["workload"]["time_scale"])
    figure = _figure()
    ax = figure.subplots()
    modes = result["modes"]
    for index, mode in enumerate(modes):
        summary = result[mode]
        live = summary["series"]["live_update"]
        uploads = summary["series"]["upload"]
        keys = [int(k) for k in (*live, *uploads)]
        if not keys:
            continue
        origin = min(keys)
        tab = scenario(mode)
        xs, ys = _timeline(live, origin, scale)
        ax.plot(xs, ys, color=tab.color, label=tab.line, linewidth=1.4)
        if index == len(modes) - 1:
            ux, uy = _timeline(uploads, origin, scale)
            every = "both" if len(modes) == 2 else "all"
            label = f"prediction uploads ({every} modes)"
            ax.plot(ux, uy, color=UPLOAD_COLOR, label=label, linewidth=1, linestyle="--")
    w = result["workload"]
    ax.set_title(
        f"Dashboard live-update requests: {w['jobs']} jobs x {w['tabs']} tabs, {w['upload_rate']:g} predictions/job/min"
    )
    ax.set_xlabel("simulated minutes")
    ax.set_ylabel("requests per simulated minute")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
    # Below the axes: with six scenarios a legend inside covers the lines.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncol=3, frameon=False)
    return _save(figure, path)


SWEPT: tuple[tuple[str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("live-update requests per job-hour", lambda m: m["per_job_hour"]["live_update_requests"]),
    ("live-update bytes per job-hour (KB)", lambda m: m["bytes"]["per_job_hour"] / 1000),
)


def sweep_chart(result: dict[str, Any], path: Path) -> Path:
    """Per figure a panel: one line per scenario against the prediction rate (log scales), polling's the reference."""
    rates = [float(rate) for rate in result["rates"]]
    figure = Figure(figsize=(11, 4.8), dpi=110)
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, len(SWEPT))
    for ax, (label, read) in zip(panels, SWEPT, strict=True):
        for mode in result["modes"]:
            tab = scenario(mode)
            points = [
                (rate, read(result["by_rate"][str(key)][mode]))
                for rate, key in zip(rates, result["rates"], strict=True)
                if mode in result["by_rate"][str(key)]
            ]
            shown = [(x, y) for x, y in points if y is not None and y > 0]
            style = "--" if mode == result["modes"][0] else "-"
            ax.plot([x for x, _ in shown], [y for _, y in shown], style, marker="o", color=tab.color, label=tab.title)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(rates, [f"{rate:g}" for rate in rates])
        ax.set_xticks([], minor=True)  # a log axis labels its minor ticks too, over the rates' own labels
        ax.set_xlabel("predictions per job per minute")
        ax.set_title(label, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    panels[0].legend(loc="best", fontsize=8)
    w = result["workload"]
    figure.suptitle(
        f"Dashboard designs by prediction rate: {w['jobs']} jobs x {w['tabs']} tabs, "
        f"{w['duration_s'] / 60:g} simulated minutes each (below the dashed polling line, a design costs less)",
        fontsize=10,
    )
    return _save(figure, path)


def capacity_chart(result: dict[str, Any], path: Path) -> Path:
    """Fan-out delay p50/p99 and streams held per step; errors annotated."""
    steps = result["steps"]
    requested = [s["streams_requested"] for s in steps]
    figure = _figure()
    ax = figure.subplots()
    ax.plot(requested, [s["delay_ms"]["median"] for s in steps], marker="o", label="fan-out delay p50")
    ax.plot(requested, [s["delay_ms"]["p99"] for s in steps], marker="o", label="fan-out delay p99")
    ax.set_xlabel("SSE dashboard tabs (streams requested)")
    ax.set_ylabel("upload-to-event delay (ms)")
    ax.grid(True, alpha=0.3)
    held = ax.twinx()
    held.plot(
        requested,
        [s["streams_held"] or 0 for s in steps],
        color=HELD_COLOR,
        linestyle="--",
        marker="s",
        label="streams held (peak)",
    )
    held.set_ylabel("streams held")
    for step in steps:
        if step["errors"]:
            ax.annotate(
                f"{step['errors']} errors",
                (step["streams_requested"], step["delay_ms"]["p99"] or 0),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=7,
                color=ERROR_COLOR,
            )
    lines = ax.get_legend_handles_labels()
    more = held.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    ax.set_title("SSE capacity of the target: fan-out delay and streams held per step")
    return _save(figure, path)


CHARTS: dict[str, Callable[[dict[str, Any], Path], Path]] = {"compare": compare_chart, "capacity": capacity_chart}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m load.charts KIND RESULT.json OUT.png`: draw one chart of a result file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] not in CHARTS:
        print(f"usage: python -m load.charts {{{','.join(CHARTS)}}} RESULT.json OUT.png", file=sys.stderr)
        return 2
    kind, source, png = args
    CHARTS[kind](json.loads(Path(source).read_text(encoding="utf-8")), Path(png))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
