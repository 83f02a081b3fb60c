"""PNG charts of ftl-load results, drawn with matplotlib's Agg backend (no display needed).

`compare_chart` plots live-update requests over simulated time for both modes; `capacity_chart` plots
fan-out delay, streams held and errors per capacity step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

COLORS = {"polling": "#d62728", "sse": "#1f77b4", "upload": "#7f7f7f"}


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
    """Requests over time, polling against SSE, on one axis."""
    scale = float(result["workload"]["time_scale"])
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for mode in ("polling", "sse"):
        summary = result[mode]
        live = summary["series"]["live_update"]
        uploads = summary["series"]["upload"]
        keys = [int(k) for k in (*live, *uploads)]
        if not keys:
            continue
        origin = min(keys)
        xs, ys = _timeline(live, origin, scale)
        label = "polling: /trends every interval" if mode == "polling" else "SSE: stream connects + refetch per event"
        ax.plot(xs, ys, color=COLORS[mode], label=label, linewidth=1.4)
        if mode == "sse":
            ux, uy = _timeline(uploads, origin, scale)
            ax.plot(
                ux, uy, color=COLORS["upload"], label="prediction uploads (both modes)", linewidth=1, linestyle="--"
            )
    w = result["workload"]
    ax.set_title(
        f"Dashboard live-update requests: {w['jobs']} jobs x {w['tabs']} tabs, {w['upload_rate']:g} predictions/job/min"
    )
    ax.set_xlabel("simulated minutes")
    ax.set_ylabel("requests per simulated minute")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.3)
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def capacity_chart(result: dict[str, Any], path: Path) -> Path:
    """Fan-out delay p50/p99 and streams held per step; errors annotated."""
    steps = result["steps"]
    requested = [s["streams_requested"] for s in steps]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.plot(requested, [s["delay_ms"]["median"] for s in steps], marker="o", label="fan-out delay p50")
    ax.plot(requested, [s["delay_ms"]["p99"] for s in steps], marker="o", label="fan-out delay p99")
    ax.set_xlabel("SSE dashboard tabs (streams requested)")
    ax.set_ylabel("upload-to-event delay (ms)")
    ax.grid(True, alpha=0.3)
    held = ax.twinx()
    held.plot(
        requested,
        [s["streams_held"] or 0 for s in steps],
        color="#2ca02c",
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
                color="#d62728",
            )
    lines = ax.get_legend_handles_labels()
    more = held.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    ax.set_title("SSE capacity of the target: fan-out delay and streams held per step")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
