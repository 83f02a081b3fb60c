"""What a scenario is: a named list of steps that scripts one prediction stream.

The bottom of the scenarios package: the parser builds these, the player plays them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spec.pointers import join


class ScenarioError(ValueError):
    """A scenario that cannot be loaded, bound or played; the message names the file, the step and the rule."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a scenario: its kind (the step's only key), its value and where it was written."""

    kind: str
    value: Any
    where: str
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario."""

    name: str
    description: str
    heartbeats: bool
    steps: tuple[Step, ...]
    source: str

    @property
    def http_error(self) -> Mapping[str, Any] | None:
        """The HTTP error the scenario answers with instead of a stream, if any."""
        first = self.steps[0]
        return first.value if first.kind == "http_error" else None

    def summary(self) -> dict[str, Any]:
        """Name, description and source, for the admin API."""
        return {"name": self.name, "description": self.description, "source": self.source}


def walk(steps: Sequence[Step]) -> Iterator[Step]:
    """Every step, nested ones (of `repeat`) after their parent."""
    for step in steps:
        yield step
        yield from walk(step.steps)


def pointers(data: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys of given data as JSON pointers to lay over generated data."""
    return {join(key): value for key, value in data.items()}
