"""The load scenarios (`load.tab`, `load/scenarios/`): what each tab asks its page to do, without Locust.

A recording page stands in for the Locust user; the real pages run in tests/test_load_compare.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import spec
from load import chart, training
from load.errors import LoadError
from load.plan import CreatedJob, Slot, build_plan
from load.scenarios import COMPARED, SCENARIOS, scenario
from load.tab import Arrival, Tab, registry
from load.workload import Workload

START = 1_000.0
OWNER = "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60"


class RecordingPage:
    """A page that writes down what the tab asked of it, in order; sleeping only moves its clock.

    Fetches answer the `bodies` given, in order (None once they run out); with `deferred`, background actions
    wait in `queued` until `run_background`, as greenlets wait for the tab's own code to yield.
    """

    def __init__(self, bodies: list[Any] | None = None, *, deferred: bool = False) -> None:
        self.did: list[tuple[str, Any]] = []
        self.clock = START
        self.bodies = list(bodies or [])
        self.deferred = deferred
        self.queued: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.delays: list[float] = []

    def fetch(self, request: chart.Request) -> Any:
        self.did.append(("fetch", request.key))
        return self.bodies.pop(0) if self.bodies else None

    def open_stream(self, query: Any = None) -> None:
        self.did.append(("open_stream", dict(query) if query else None))

    def in_background(self, action: Callable[..., Any], *args: Any) -> None:
        self.did.append(("background", None))
        if self.deferred:
            self.queued.append((action, args))
        else:
            action(*args)

    def run_background(self) -> None:
        queued, self.queued = self.queued, []
        for action, args in queued:
            action(*args)

    def now(self) -> float:
        return self.clock

    def updated(self, delay_s: float) -> None:
        self.delays.append(round(delay_s, 6))

    def sleep_until(self, at: float) -> None:
        self.did.append(("sleep_until", round(at, 6)))
        self.clock = max(self.clock, at)

    def wait_for_predictions(self, until: float, count: int | None = None) -> None:
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
    assert list(SCENARIOS) == ["polling", "sse", "sse-push", "sse-batched-2s", "sse-epoch-filter", "sse-gzip"]
    assert set(COMPARED) <= set(SCENARIOS)
    with pytest.raises(LoadError, match="no load scenario 'push'; there are: polling, sse, sse-push, "):
        scenario("push")

    class Twin(Tab):
        name = "polling"

    with pytest.raises(LoadError, match="'polling' is registered twice"):
        registry(SCENARIOS["polling"], Twin)

    class Nameless(Tab):
        pass

    with pytest.raises(LoadError, match="needs a lower-case name"):
        registry(Nameless)


# --- the tabs of the designs -----------------------------------------------------------------------

SENT = START - 2.0


def rows_event(name: str, *epochs: int, pushed: bool = False, at: float = START) -> Arrival:
    """A trigger event of `name` whose rows ftl-load's worker uploaded at SENT (one per epoch given)."""
    rows = [{**training.marked({"job_id": "j0"}, 0, i, SENT), "epoch": epoch} for i, epoch in enumerate(epochs)]
    data: dict[str, Any] = {"predictions": rows} if name == "predictions" else {"prediction": rows[0]}
    if pushed:
        data["trends"] = {"job_id": "j0", "trends": [], "overall_improvement": None}
    return Arrival(name, json.dumps(data), 100, at)


def tab_of(name: str, page: RecordingPage, workload: Workload = WORKLOAD, tab: int = 0) -> Tab:
    contract = spec.load(design=SCENARIOS[name].design)
    plan = build_plan(contract, name, workload, [CreatedJob("j0", "t0", OWNER)], "session")
    found = plan.slot("tab", tab)
    assert found is not None
    return SCENARIOS[name](page, found)


def test_every_design_tab_runs_against_its_own_design() -> None:
    assert {name: tab.design for name, tab in SCENARIOS.items()} == {
        "polling": None,
        "sse": None,
        "sse-push": "sse-push",
        "sse-batched-2s": "sse-batched-2s",
        "sse-epoch-filter": "sse-epoch-filter",
        "sse-gzip": "sse-gzip",
    }


def test_the_push_tab_mounts_without_trends_and_draws_from_the_event() -> None:
    page = RecordingPage()
    tab = tab_of("sse-push", page)
    tab.prepare()
    assert page.did == [("fetch", "mount_check"), ("open_stream", None)]
    tab.on_event(Arrival("connected", json.dumps({"jobId": "j0", "trends": {"trends": []}}), 10, START))
    tab.on_event(rows_event("prediction", 1, pushed=True))
    assert page.did == [("fetch", "mount_check"), ("open_stream", None)]
    assert page.delays == [2.0]  # visible when the event came, 2 s after the upload


def test_the_push_tab_refetches_when_the_server_pushes_nothing() -> None:
    page = RecordingPage()
    tab = tab_of("sse-push", page)
    tab.on_event(Arrival("connected", json.dumps({"jobId": "j0"}), 10, START))
    tab.on_event(rows_event("prediction", 1))
    assert [step for step in page.did if step[0] == "fetch"] == [("fetch", "mount"), ("fetch", "refetch")]


def test_the_debounced_tab_refetches_at_most_once_per_window() -> None:
    page = RecordingPage(deferred=True)
    tab = tab_of("sse-batched-2s", page)
    window = 2.0 * WORKLOAD.time_scale  # the design's 2 s at the workload's time scale
    tab.on_event(rows_event("predictions", 1, at=START))
    page.run_background()  # the first event after a quiet window: refetched at once
    for offset in (0.1, 0.2, 0.3):
        tab.on_event(rows_event("predictions", 1, at=START + offset * window))
    page.run_background()  # the three later ones: one refetch, at the window's end
    fetches = [i for i, step in enumerate(page.did) if step == ("fetch", "refetch")]
    assert len(fetches) == 2
    assert page.did[fetches[1] - 1] == ("sleep_until", round(START + window, 6))
    # The rows held for the window's end count that wait at full length (2 s less the time since they came).
    assert page.delays[0] == 2.0
    assert page.delays[1:] == [
        pytest.approx(2.0 + (window - offset * window) / WORKLOAD.time_scale + offset * window)
        for offset in (0.1, 0.2, 0.3)
    ]


def test_the_epoch_filter_tabs_each_watch_one_epoch() -> None:
    workload = Workload(jobs=1, tabs=2, upload_rate=1, duration_s=1200, time_scale=0.01)
    for index, epoch in ((0, 1), (1, 2)):
        page = RecordingPage()
        tab = tab_of("sse-epoch-filter", page, workload, index)
        tab.prepare()
        assert ("open_stream", {"epoch": str(epoch)}) in page.did
        assert tab.expected_rows() == 10  # an epoch every ten uploads, twenty uploads
    assert SCENARIOS["sse-epoch-filter"].expected(workload)["prediction_events"] == 20


def test_the_polling_tab_sees_a_row_at_the_first_poll_after_its_upload() -> None:
    workload = Workload(jobs=1, tabs=1, poll_interval_s=30, upload_rate=1, duration_s=120, time_scale=0.5)
    trends = [{"trends": [{"epoch": 1, "sample_count": n}]} for n in (0, 1, 1, 2)]
    page = RecordingPage(trends)
    tab_of("polling", page, workload).play(START)
    # Uploads at 30 s and 90 s of simulated time (mid-interval); polls every 30 s see them at 60 s and 120 s.
    assert page.delays == [30.0, 30.0]


def test_the_tabs_of_a_job_poll_at_different_phases() -> None:
    workload = Workload(jobs=1, tabs=2, poll_interval_s=30, duration_s=120, time_scale=0.5)
    page = RecordingPage()
    tab_of("polling", page, workload, tab=1).play(START)
    ticks = [at for step, at in page.did if step == "sleep_until"]
    assert ticks == [round(START + (k - 0.618034) * 15, 6) for k in range(1, 5)]
