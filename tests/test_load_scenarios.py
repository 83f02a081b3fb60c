"""The load scenarios (`load.tab`, `load/scenarios/`): what each tab asks its page to do, without Locust.

A recording page stands in for the Locust user; the real pages run in tests/test_load_compare.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import spec
from load import chart
from load.errors import LoadError
from load.plan import CreatedJob, Slot, build_plan
from load.scenarios import COMPARED, SCENARIOS, scenario
from load.tab import Arrival, Tab, registry
from load.workload import Workload

START = 1_000.0
OWNER = "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60"


class RecordingPage:
    """A page that writes down what the tab asked of it, in order; sleeping only moves its clock."""

    def __init__(self) -> None:
        self.did: list[tuple[str, Any]] = []

    def fetch(self, request: chart.Request) -> None:
        self.did.append(("fetch", request.key))

    def open_stream(self) -> None:
        self.did.append(("open_stream", None))

    def in_background(self, action: Callable[..., Any], *args: Any) -> None:
        self.did.append(("background", None))
        action(*args)

    def sleep_until(self, at: float) -> None:
        self.did.append(("sleep_until", round(at, 6)))

    def wait_for_predictions(self, until: float) -> None:
        self.did.append(("wait_for_predictions", round(until, 6)))


def slot_of(name: str, workload: Workload, *, refetch: bool = True) -> Slot:
    plan = build_plan(spec.load(), name, workload, [CreatedJob("j0", "t0", OWNER)], "session", refetch=refetch)
    found = plan.slot("tab", 0)
    assert found is not None
    return found


def play(name: str, workload: Workload, *, refetch: bool = True, events: tuple[str, ...] = ()) -> list[Any]:
    page = RecordingPage()
    tab = scenario(name)(page, slot_of(name, workload, refetch=refetch))
    tab.prepare()
    for event in events:
        tab.on_event(Arrival(event, "{}", 10, START))
    tab.play(START)
    return page.did


WORKLOAD = Workload(jobs=1, tabs=1, poll_interval_s=30, duration_s=120, time_scale=0.5)


def test_the_polling_tab_mounts_then_polls_on_the_interval() -> None:
    assert play("polling", WORKLOAD) == [
        ("fetch", "mount_check"),
        ("fetch", "mount"),
        *[step for k in range(1, 5) for step in (("sleep_until", START + k * 15), ("fetch", "poll"))],
    ]


def test_the_sse_tab_holds_a_stream_and_refetches_on_each_prediction_only() -> None:
    did = play("sse", WORKLOAD, events=("connected", "prediction", "heartbeat", "prediction"))
    end = START + 120 * 0.5
    assert did == [
        ("fetch", "mount_check"),
        ("fetch", "mount"),
        ("open_stream", None),
        ("background", None),
        ("fetch", "refetch"),
        ("background", None),
        ("fetch", "refetch"),
        ("sleep_until", end),
        ("wait_for_predictions", end + 10.0),
    ]


def test_the_sse_tab_without_refetch_only_watches() -> None:
    did = play("sse", WORKLOAD, refetch=False, events=("prediction",))
    assert ("fetch", "refetch") not in did


def test_expected_counts_follow_the_workload() -> None:
    workload = Workload(jobs=3, tabs=2, poll_interval_s=30, upload_rate=2, duration_s=600)
    assert SCENARIOS["polling"].expected(workload) == {"polls_per_job_hour": 240.0}
    assert SCENARIOS["sse"].expected(workload) == {"stream_connections": 6, "refetches": 120}


def test_the_registry_names_every_scenario_once() -> None:
    assert list(SCENARIOS) == ["polling", "sse"]
    assert set(COMPARED) <= set(SCENARIOS)
    with pytest.raises(LoadError, match="no load scenario 'push'; there are: polling, sse"):
        scenario("push")

    class Twin(Tab):
        name = "polling"

    with pytest.raises(LoadError, match="'polling' is registered twice"):
        registry(SCENARIOS["polling"], Twin)

    class Nameless(Tab):
        pass

    with pytest.raises(LoadError, match="needs a lower-case name"):
        registry(Nameless)
