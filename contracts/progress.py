"""Live progress of a gate run, fitted to its reader: a bar on a terminal, a line every few seconds in a log.

Each part (Schemathesis, the stream checks) reports units done of its total; requests and failures so far
come from the run's `Results`. `NullProgress` is silent (tests, `--quiet`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Protocol

from rich.console import Console
from rich.progress import TaskID

from cmdline import ProgressLines, Snapshot, progress_bar
from contracts.results import Results


class Progress(Protocol):
    """What the parts of the gate report while they run."""

    def follow(self, results: Results) -> None: ...

    def start(self, part: str, total: int | None) -> None: ...

    def update(self, part: str, detail: str) -> None: ...

    def advance(self, part: str, amount: int = 1) -> None: ...

    def finish(self, part: str, detail: str = "") -> None: ...


class NullProgress:
    """Reports nothing."""

    def follow(self, results: Results) -> None:
        """Ignore."""

    def start(self, part: str, total: int | None) -> None:
        """Ignore."""

    def update(self, part: str, detail: str) -> None:
        """Ignore."""

    def advance(self, part: str, amount: int = 1) -> None:
        """Ignore."""

    def finish(self, part: str, detail: str = "") -> None:
        """Ignore."""


@dataclass
class _Part:
    name: str
    total: int | None
    done: int = 0
    detail: str = ""
    started: float = 0.0


class _Tracker:
    """The parts of a run and the run's results, shared by the displays below."""

    def __init__(self) -> None:
        self.results: Results | None = None
        self.parts: dict[str, _Part] = {}
        self.current: _Part | None = None
        self.lock = threading.Lock()

    def follow(self, results: Results) -> None:
        self.results = results

    def counts(self) -> tuple[int, int]:
        if self.results is None:
            return 0, 0
        return self.results.requests, self.results.violation_count

    def snapshot(self, part: _Part | None = None) -> Snapshot | None:
        with self.lock:
            part = part or self.current
            if part is None:
                return None
            requests, failures = self.counts()
            # A part without a known total counts what it sent; its detail says where it is.
            total = part.total
            return Snapshot(part.name, part.done if total else 0, total, requests, failures, part.detail)


class LineProgress(_Tracker):
    """For logs: a progress line every `interval_s` seconds, and one when a part starts and ends."""

    def __init__(self, prog: str, out: Console, interval_s: float) -> None:
        super().__init__()
        self.lines = ProgressLines(prog, self.snapshot, out.file, interval_s)

    def __enter__(self) -> LineProgress:
        self.lines.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lines.__exit__(*exc)

    def start(self, part: str, total: int | None) -> None:
        """Begin `part`."""
        with self.lock:
            self.current = self.parts[part] = _Part(part, total, started=time.monotonic())
        self._say(self.current, "started")

    def update(self, part: str, detail: str) -> None:
        """Say what `part` does now."""
        with self.lock:
            if part in self.parts:
                self.parts[part].detail = detail

    def advance(self, part: str, amount: int = 1) -> None:
        """Count `amount` more units of `part`."""
        with self.lock:
            if part in self.parts:
                self.parts[part].done += amount

    def finish(self, part: str, detail: str = "") -> None:
        """End `part`."""
        found = self.parts.get(part)
        if found is None:
            return
        with self.lock:
            if found.total:
                found.done = found.total
        self._say(found, detail or f"done in {time.monotonic() - found.started:.0f} s")

    def _say(self, part: _Part, detail: str) -> None:
        snapshot = self.snapshot(part)
        if snapshot is not None:
            self.lines.say(replace(snapshot, detail=detail))


class BarProgress(_Tracker):
    """For a terminal: one bar per part with percentage, done/total, requests, failures and time left."""

    def __init__(self, out: Console) -> None:
        super().__init__()
        self._bar = progress_bar(out)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, part: str, total: int | None) -> None:
        """Show a new bar for `part`."""
        requests, failures = self.counts()
        self._tasks[part] = self._bar.add_task(part, total=total, detail="", requests=requests, failures=failures)

    def update(self, part: str, detail: str) -> None:
        """Show what `part` is doing now."""
        self._refresh(part, detail=detail)

    def advance(self, part: str, amount: int = 1) -> None:
        """Count `amount` more units of `part`."""
        if part in self._tasks:
            self._bar.advance(self._tasks[part], amount)
        self._refresh(part)

    def finish(self, part: str, detail: str = "") -> None:
        """Mark `part` done."""
        if part in self._tasks:
            task = self._tasks[part]
            done = next(t.completed for t in self._bar.tasks if t.id == task)
            total = next(t.total for t in self._bar.tasks if t.id == task)
            # A task is drawn as finished once completed reaches total.
            self._bar.update(task, total=total or done or 1, completed=total or done or 1)
            self._refresh(part, detail=detail or "done")

    def _refresh(self, part: str, detail: str | None = None) -> None:
        if part in self._tasks:
            requests, failures = self.counts()
            self._bar.update(self._tasks[part], requests=requests, failures=failures)
            if detail is not None:
                self._bar.update(self._tasks[part], detail=detail)
