"""A load scenario: what one dashboard tab does with the trends chart, and what a run of it should count.

A scenario is a `Tab` subclass in its own module under `load/scenarios/`, registered there. The Locust user it
runs in is its `Page`: it makes the requests, holds the stream and records every measurement, so a tab only
says what the chart does and when. Tabs import nothing of Locust: the driver reads them too.

A tab runs against a contract `design` (None: the contract as it is; else a name from `spec/designs/`): `ftl-load
compare --designs` starts a mock serving it. Each tab also says when a stored prediction becomes visible on its
chart (`Page.updated`), as a delay from the upload in simulated time: the waits the design imposes (a poll
interval, a debounce, a server's batch window) are compressed by the run's time scale and counted back at full
length; the rest (requests, delivery) is counted as measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from load import chart, training
from load.errors import LoadError
from load.plan import Slot
from load.workload import Workload
from spec import designs


@dataclass(frozen=True)
class Arrival:
    """One event as it arrived: name, data text, bytes on the wire and the wall time it was read."""

    name: str
    data: str
    nbytes: int
    at: float


class Page(Protocol):
    """What a tab can do in the browser it runs in (the Locust user)."""

    def fetch(self, request: chart.Request) -> Any:
        """One request of the chart, with the dashboard's credentials, recorded under its kind; its JSON or None."""

    def open_stream(self, query: Mapping[str, str] | None = None) -> None:
        """Connect the stream (with `query`), wait (bounded) for its first event; then each event reaches the tab."""

    def now(self) -> float:
        """The wall time now."""

    def updated(self, delay_s: float) -> None:
        """One stored prediction became visible on the chart, `delay_s` simulated seconds after its upload."""

    def in_background(self, action: Callable[..., Any], *args: Any) -> None:
        """Run `action(*args)` beside the schedule; the tab closes once it is done."""

    def sleep_until(self, at: float) -> None:
        """Sleep until wall time `at` (at once when it has passed)."""

    def wait_for_predictions(self, until: float, count: int | None = None) -> None:
        """Until the stream has brought `count` predictions (default: every one of the job), or it ended, or `until`."""


class Tab:
    """One dashboard tab with a job's trends chart open; subclasses are the scenarios ftl-load measures."""

    name: ClassVar[str]
    """Its `--mode` and `--designs` value, the stem of its report files and its key in compare.json."""
    title: ClassVar[str]
    """Its column in the comparison table."""
    line: ClassVar[str]
    """Its line's label on the comparison chart."""
    color: ClassVar[str]
    design: ClassVar[str | None] = None
    """The contract design the server must serve for this tab (a name from spec/designs/), None for the base."""

    def __init__(self, page: Page, slot: Slot) -> None:
        self.page = page
        self.slot = slot
        self.plan = slot.plan
        self.workload = slot.plan.workload

    def prepare(self) -> None:
        """Before the shared start: the chart mounts."""
        for request in chart.ON_MOUNT:
            self.page.fetch(request)

    def play(self, start_at: float) -> None:
        """The schedule, from the shared start (wall time): what the chart does while the job trains.

        By default a tab holds its stream for the whole schedule, then (within the grace) until the job's last
        prediction has arrived; its events drive it (`on_event`). A tab that polls overrides this.
        """
        end = self.workload.wall(start_at, self.workload.duration_s)
        self.page.sleep_until(end)
        self.page.wait_for_predictions(until=end + self.plan.grace_s, count=self.expected_rows())

    def on_event(self, arrival: Arrival) -> None:
        """One event of the tab's stream, once the page has recorded it."""

    @classmethod
    def expected(cls, workload: Workload) -> dict[str, float]:
        """What the counts of a run should be, for the comparison document."""
        return {}

    # what every stream tab needs

    def rows(self, arrival: Arrival) -> list[Any]:
        """The stored predictions a trigger event brought (several when the design batches them)."""
        if arrival.name != self.plan.stream.trigger_event:
            return []
        return self.plan.stream.items_of(decode(arrival.data))

    def expected_rows(self) -> int:
        """Predictions this tab's stream should bring in the run: every one of its job's."""
        return self.workload.predictions_per_job

    def refetch(self, rows: Sequence[Any], waited_s: float = 0.0) -> None:
        """Refetch the trends in the background; once they are in, each row is visible (the refetch shows it).

        `waited_s` is how long the tab held the refetch back by design (a debounce), counted at full length.
        """
        self.page.in_background(self._refetch, list(rows), waited_s)

    def _refetch(self, rows: list[Any], waited_s: float) -> None:
        self.page.fetch(chart.REFETCH)
        self.shown(rows, waited_s)

    def shown(self, rows: Sequence[Any], designed_s: float = 0.0) -> None:
        """Rows visible now: each one's delay from its upload, with `designed_s` of it counted back to full length."""
        now = self.page.now()
        for row in rows:
            sent = training.sent_at(row)
            if sent is not None:
                self.page.updated(self.simulated(now - sent, designed_s))

    def simulated(self, wall_s: float, designed_s: float) -> float:
        """A measured wall delay in simulated time: its designed part un-compressed, the rest as measured."""
        designed = min(max(0.0, designed_s), max(0.0, wall_s))
        return max(0.0, wall_s - designed) + designed / self.workload.time_scale


def decode(data: str) -> Any:
    """The JSON data of an event, or None when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        return None


def registry(*tabs: type[Tab]) -> Mapping[str, type[Tab]]:
    """A read-only table of scenarios by name; LoadError for a nameless or a repeated one, or an unknown design."""
    table: dict[str, type[Tab]] = {}
    known = designs()
    for tab in tabs:
        name = getattr(tab, "name", "")
        if not name or name != name.lower() or name == "both":
            raise LoadError(f"{tab.__qualname__}: a scenario needs a lower-case name other than 'both'")
        if name in table:
            raise LoadError(f"scenario {name!r} is registered twice: {table[name].__qualname__}, {tab.__qualname__}")
        if tab.design is not None and tab.design not in known:
            raise LoadError(f"scenario {name!r} runs against design {tab.design!r}, which spec/designs/ does not have")
        table[name] = tab
    return MappingProxyType(table)
