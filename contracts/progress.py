"""Live progress of a gate run: one line per part (Schemathesis, stream, live check) with its request count.

`RichProgress` draws it on the console with rich; `NullProgress` is silent (tests, `--quiet`).
"""

from __future__ import annotations

from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBar


class Progress(Protocol):
    """What the parts of the gate report while they run."""

    def start(self, part: str, total: int | None) -> None: ...

    def update(self, part: str, detail: str) -> None: ...

    def advance(self, part: str, amount: int = 1) -> None: ...

    def finish(self, part: str, detail: str = "") -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, part: str, total: int | None) -> None:
        """Ignore."""

    def update(self, part: str, detail: str) -> None:
        """Ignore."""

    def advance(self, part: str, amount: int = 1) -> None:
        """Ignore."""

    def finish(self, part: str, detail: str = "") -> None:
        """Ignore."""


class RichProgress:
    """A rich live display: a spinner, the part's phase and how many requests it has sent."""

    def __init__(self, console: Console) -> None:
        self._bar = RichBar(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description:<14}"),
            BarColumn(bar_width=24),
            TextColumn("{task.completed:>6} requests"),
            TextColumn("[dim]{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, part: str, total: int | None) -> None:
        """Show a new line for `part`."""
        self._tasks[part] = self._bar.add_task(part, total=total, detail="")

    def update(self, part: str, detail: str) -> None:
        """Show what `part` is doing now."""
        if part in self._tasks:
            self._bar.update(self._tasks[part], detail=detail)

    def advance(self, part: str, amount: int = 1) -> None:
        """Count `amount` more requests for `part`."""
        if part in self._tasks:
            self._bar.advance(self._tasks[part], amount)

    def finish(self, part: str, detail: str = "") -> None:
        """Mark `part` done."""
        if part in self._tasks:
            task = self._tasks[part]
            done = next(t.completed for t in self._bar.tasks if t.id == task)
            # A task is drawn as finished once completed reaches total.
            self._bar.update(task, total=done, detail=detail or "done")
