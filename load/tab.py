"""A load scenario: what one dashboard tab does with the trends chart, and what a run of it should count.

A scenario is a `Tab` subclass in its own module under `load/scenarios/`, registered there. The Locust user it
runs in is its `Page`: it makes the requests, holds the stream and records every measurement, so a tab only
says what the chart does and when. Tabs import nothing of Locust: the driver reads them too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from load import chart
from load.errors import LoadError
from load.plan import Slot
from load.workload import Workload


@dataclass(frozen=True)
class Arrival:
    """One event as it arrived: name, data text, bytes on the wire and the wall time it was read."""

    name: str
    data: str
    nbytes: int
    at: float


class Page(Protocol):
    """What a tab can do in the browser it runs in (the Locust user)."""

    def fetch(self, request: chart.Request) -> None:
        """One request of the chart, with the dashboard's credentials, recorded under its kind."""

    def open_stream(self) -> None:
        """Connect the job's stream and wait (bounded) for its first event; then each event reaches the tab."""

    def in_background(self, action: Callable[..., Any], *args: Any) -> None:
        """Run `action(*args)` beside the schedule; the tab closes once it is done."""

    def sleep_until(self, at: float) -> None:
        """Sleep until wall time `at` (at once when it has passed)."""

    def wait_for_predictions(self, until: float) -> None:
        """Until the stream has brought every prediction of the job, the stream has ended, or wall time `until`."""


class Tab:
    """One dashboard tab with a job's trends chart open; subclasses are the scenarios ftl-load measures."""

    name: ClassVar[str]
    """Its `--mode` value, the stem of its report files and its key in compare.json."""
    title: ClassVar[str]
    """Its column in the comparison table."""
    line: ClassVar[str]
    """Its line's label on the comparison chart."""
    color: ClassVar[str]

    def __init__(self, page: Page, slot: Slot) -> None:
        self.page = page
        self.plan = slot.plan
        self.workload = slot.plan.workload

    def prepare(self) -> None:
        """Before the shared start: the chart mounts."""
        for request in chart.ON_MOUNT:
            self.page.fetch(request)

    def play(self, start_at: float) -> None:
        """The schedule, from the shared start (wall time): what the chart does while the job trains."""

    def on_event(self, arrival: Arrival) -> None:
        """One event of the tab's stream, once the page has recorded it."""

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        """What the counts of a run should be, for the comparison document."""
        return {}


def registry(*tabs: type[Tab]) -> Mapping[str, type[Tab]]:
    """A read-only table of scenarios by name; LoadError for a nameless or a repeated one."""
    table: dict[str, type[Tab]] = {}
    for tab in tabs:
        name = getattr(tab, "name", "")
        if not name or name != name.lower() or name == "both":
            raise LoadError(f"{tab.__qualname__}: a scenario needs a lower-case name other than 'both'")
        if name in table:
            raise LoadError(f"scenario {name!r} is registered twice: {table[name].__qualname__}, {tab.__qualname__}")
        table[name] = tab
    return MappingProxyType(table)
