"""Output that fits where it is read: a terminal gets live bars, a log gets whole lines at a steady pace.

Without a terminal (CI logs, `| cat`) nothing is cut to a width and progress is a plain line every
`PROGRESS_INTERVAL_S`; on a terminal progress is a bar with percentage and time left. The GitHub Actions
step summary, when the runner names one, receives a command's Markdown summary.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

# Logs are wider than the 80 columns rich assumes without a terminal.
LOG_WIDTH = 120
# A log line at least this often while a long run goes on (a CI job that prints nothing looks hung).
PROGRESS_INTERVAL_S = 10.0
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
UNBOUNDED = 100_000


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr): the terminal's width, or `LOG_WIDTH` for a log unless COLUMNS says."""
    out = Console(highlight=False, stderr=stderr)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = LOG_WIDTH
    return out


def print_whole(out: Console, renderable: RenderableType) -> None:
    """Print a table as wide as its content needs when the reader is a log; a terminal keeps its width."""
    if out.is_terminal:
        out.print(renderable)
        return
    needed = Measurement.get(out, out.options.update(width=UNBOUNDED), renderable).maximum
    width = out.width
    out.width = max(width, needed)
    try:
        out.print(renderable)
    finally:
        out.width = width


def append_step_summary(markdown: str, environ: Mapping[str, str]) -> str | None:
    """Append to the file GitHub Actions names in GITHUB_STEP_SUMMARY; a warning when that fails, else None."""
    target = environ.get(STEP_SUMMARY, "").strip()
    if not target:
        return None
    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")
    except OSError as exc:
        return f"cannot append the summary to {STEP_SUMMARY} ({target}): {exc.strerror}"
    return None


@dataclass(frozen=True)
class Snapshot:
    """How far a run is: a part's name, units done of total (None: unknown), requests and failures so far."""

    part: str
    done: float
    total: float | None
    requests: int
    failures: int
    detail: str = ""


def progress_line(prog: str, snapshot: Snapshot, elapsed_s: float) -> str:
    """`prog: part 12/40 (30 %) · 812 requests · 0 failures · 42 s elapsed · detail`, for logs."""
    share = ""
    if snapshot.total:
        share = f" {int(snapshot.done)}/{snapshot.total:g} ({100 * min(snapshot.done / snapshot.total, 1):.0f} %)"
    parts = [
        f"{prog}: {snapshot.part}{share}",
        f"{snapshot.requests} requests",
        f"{snapshot.failures} failure{'s' if snapshot.failures != 1 else ''}",
        f"{elapsed_s:.0f} s elapsed",
    ]
    if snapshot.detail:
        parts.append(snapshot.detail)
    return " · ".join(parts)


class ProgressLines:
    """Prints `progress_line` of the current snapshot every `interval_s` on a thread, for a log.

    `watch` is called from that thread and must be cheap and thread-safe; None means nothing to say yet.
    """

    def __init__(
        self,
        prog: str,
        watch: Callable[[], Snapshot | None],
        stream: IO[str] | None = None,
        interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.prog = prog
        self.watch = watch
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{prog} progress", daemon=True)

    def __enter__(self) -> ProgressLines:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def say(self, snapshot: Snapshot) -> None:
        """Print one line now (a part that starts or ends)."""
        print(progress_line(self.prog, snapshot, time.monotonic() - self.started), file=self.stream, flush=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            snapshot = self.watch()
            if snapshot is not None:
                self.say(snapshot)


def progress_bar(out: Console, **fields: Any) -> RichProgress:
    """A rich progress display for a terminal: bar, percentage, done/total, requests, failures, time left."""
    return RichProgress(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description:<14}"),
        BarColumn(bar_width=24),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[requests]:>6} requests · {task.fields[failures]} failures"),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
        TextColumn("[dim]{task.fields[detail]}"),
        console=out,
        transient=False,
        **fields,
    )


class WatchedProgress:
    """Shows how far a run is, as `watch()` reads it: a bar refreshed twice a second on a terminal, else lines.

    For runs whose progress lives elsewhere (files another process writes); `watch` is called on a thread.
    """

    def __init__(
        self,
        prog: str,
        watch: Callable[[], Snapshot | None],
        out: Console,
        interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.watch = watch
        self.out = out
        self.lines = None if out.is_terminal else ProgressLines(prog, watch, out.file, interval_s)
        self.bar = progress_bar(out) if out.is_terminal else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name=f"{prog} progress bar", daemon=True)

    def __enter__(self) -> WatchedProgress:
        if self.lines is not None:
            self.lines.__enter__()
        if self.bar is not None:
            self.bar.start()
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lines is not None:
            self.lines.__exit__(*exc)
        if self.bar is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._show()
            self.bar.stop()

    def say(self, snapshot: Snapshot) -> None:
        """A line now, in a log (a terminal's bar shows it anyway)."""
        if self.lines is not None:
            self.lines.say(snapshot)

    def _refresh(self) -> None:
        while not self._stop.wait(0.5):
            self._show()

    def _show(self) -> None:
        assert self.bar is not None
        snapshot = self.watch()
        if snapshot is None:
            return
        requests, failures, detail = snapshot.requests, snapshot.failures, snapshot.detail
        if not self.bar.task_ids:
            self.bar.add_task(snapshot.part, total=snapshot.total, requests=requests, failures=failures, detail=detail)
        task = self.bar.task_ids[0]
        self.bar.update(
            task,
            description=snapshot.part,
            total=snapshot.total,
            completed=snapshot.done,
            requests=requests,
            failures=failures,
            detail=detail,
        )
