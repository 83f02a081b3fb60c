"""The cases of a client run: one per scenario file of a folder, each with the time it needs to be judged.

Nothing here lists expectations: a case is its scenario file (played by the mock, its bytes judged by the
WHATWG reader afterwards) plus a timeline read from the file's steps and the contract's client rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts.client.rules import Bounds
from contracts.errors import GateError
from mockserver.scenarios import SCENARIO_DIR, Library, Scenario, ScenarioError, Step
from spec import StreamContract

# A split step writes at least this long between chunks (the player's floor), and a message is about this long.
SPLIT_GAP_FLOOR_S = 0.005
MESSAGE_BYTES = 256
# How long a case goes on after the last thing it waits for, so the last bytes reach the client.
TAIL_S = 0.3

DEFAULT_DIR = SCENARIO_DIR


@dataclass(frozen=True)
class Timeline:
    """What a scenario does over time, read from its steps (durations already scaled, in seconds)."""

    status: int | None
    play_s: float
    ends: str | None
    longest_stall_s: float
    retry_ms: int | None

    def window_s(self, bounds: Bounds) -> float:
        """How long a case runs from the client's first attempt: long enough to judge every rule that applies.

        An error answer: the longest allowed wait for a retry. A stream the server ends: the play, the longest
        allowed wait for the reconnect, and a second play. Any other stream: the play (a stall included).
        """
        if self.status is not None:
            bound = bounds.reconnect_within_s(None)
            return bound + bounds.slack(bound) + TAIL_S
        if self.ends is not None:
            bound = bounds.reconnect_within_s(self.retry_ms)
            return 2 * self.play_s + bound + bounds.slack(bound) + TAIL_S
        return self.play_s + TAIL_S


@dataclass(frozen=True)
class Case:
    """One scenario file as a case: its name, file, document (bound inline) and timeline."""

    name: str
    path: Path
    document: Mapping[str, Any]
    scenario: Scenario
    timeline: Timeline

    @property
    def description(self) -> str:
        """The scenario's own description, on one line."""
        return " ".join(self.scenario.description.split())


def discover(directory: Path, stream: StreamContract, bounds: Bounds) -> list[Case]:
    """A case per `*.yaml` file of `directory`, in name order; GateError naming a file that does not load."""
    if not directory.is_dir():
        raise GateError(f"--scenarios: {directory} is not a folder")
    library = Library(stream, directory)
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            scenario = library.load_file(path)
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (ScenarioError, OSError, yaml.YAMLError) as exc:
            raise GateError(f"--scenarios: {exc}") from None
        cases.append(Case(path.stem, path, document, scenario, timeline(scenario, bounds)))
    if not cases:
        raise GateError(f"--scenarios: {directory} holds no scenario file (*.yaml)")
    return cases


def timeline(scenario: Scenario, bounds: Bounds) -> Timeline:
    """The scenario's timeline at the bounds' time scale."""
    error = scenario.http_error
    walk = _Walk(bounds)
    walk.steps(scenario.steps)
    return Timeline(
        status=int(error["status"]) if error is not None else None,
        play_s=walk.elapsed,
        ends=walk.ends,
        longest_stall_s=walk.longest_stall,
        retry_ms=walk.retry_ms,
    )


class _Walk:
    """Adds up a scenario's steps as the player would play them, up to a `close` or `drop`."""

    def __init__(self, bounds: Bounds) -> None:
        self.scale = bounds.time_scale
        # A stall until the client leaves is judged over two stall bounds.
        self.endless_stall = 2 * bounds.stall_s
        self.elapsed = 0.0
        self.ends: str | None = None
        self.longest_stall = 0.0
        self.retry_ms: int | None = None
        self._split_parts = 0
        self._split_gap = 0.0

    def steps(self, steps: Sequence[Step]) -> None:
        for step in steps:
            if self.ends is not None:
                return
            self.step(step)

    def step(self, step: Step) -> None:
        value = step.value
        if step.kind == "wait":
            self.elapsed += float(value) * self.scale / 1000.0
        elif step.kind == "stall":
            stall = self.endless_stall if value is None else float(value) * self.scale / 1000.0
            self.longest_stall = max(self.longest_stall, stall)
            self.elapsed += stall
        elif step.kind == "insert" and value.get("rate"):
            self.elapsed += (int(value.get("count", 1)) - 1) * self.scale / float(value["rate"])
        elif step.kind == "repeat":
            self._repeat(int(value["times"]), step.steps)
        elif step.kind in ("close", "drop"):
            self.ends = step.kind
        elif step.kind == "retry":
            self.retry_ms = int(value)
        elif step.kind == "emit" and isinstance(value, Mapping) and value.get("retry") is not None:
            self.retry_ms = int(value["retry"])
        elif step.kind == "split":
            self._split_parts = int(value.get("parts", 2))
            self._split_gap = max(float(value.get("gap_ms", 20)) * self.scale / 1000.0, SPLIT_GAP_FLOOR_S)
        if step.kind in ("emit", "malformed", "insert") and self._split_parts:
            self.elapsed += (min(self._split_parts, MESSAGE_BYTES) - 1) * self._split_gap
            self._split_parts = 0

    def _repeat(self, times: int, steps: Sequence[Step]) -> None:
        before = self.elapsed
        self.steps(steps)
        once = self.elapsed - before
        if self.ends is None and math.isfinite(once):
            self.elapsed += (times - 1) * once
