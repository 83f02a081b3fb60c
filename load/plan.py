"""The plan of one Locust run: a workload made concrete for one scenario, handed out by the master in slots.

The driver builds it from the contract (every path, event name and pointer read from the spec, the chart's
requests from `load.chart`) and writes it as JSON; the coordinator reads it back and gives each user its `Slot`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlencode

from load import chart, entries, training
from load.errors import LoadError
from load.workload import Workload
from spec import Contract, pointers

ROLES = ("tab", "trainer")
USERS = {"tab": "DashboardUser", "trainer": "TrainingWorkerUser"}
"""The locustfile's user class of each role."""


@dataclass(frozen=True)
class Route:
    """One request a user makes: method, concrete path (with its query), its kind and operation."""

    method: str
    path: str
    kind: str
    operation_id: str

    @property
    def name(self) -> str:
        """Its entry in Locust's statistics: `poll: get_prediction_trends`."""
        return entries.name(self.kind, self.operation_id)


@dataclass(frozen=True)
class StreamRules:
    """What a stream reader needs from the contract: event names, the heartbeat and where the stored item sits.

    A design's rules come along (empty in the base contract): the `batch` of items an event carries and its window,
    the `filter` query parameter and the item field it keeps, the `push`ed payload's pointer and events.
    """

    event_names: tuple[str, ...]
    error_event: str
    trigger_event: str
    items_pointer: str
    item_pointer: str
    heartbeat_interval_ms: int
    batch_items: str = ""
    batch_window_ms: int = 0
    filter_parameter: str = ""
    push_pointer: str = ""
    push_events: tuple[str, ...] = ()

    @classmethod
    def of(cls, contract: Contract) -> StreamRules:
        """The rules of the contract's stream."""
        stream = contract.stream
        batch, found, push = stream.batch or {}, stream.filter or {}, stream.push or {}
        return cls(
            event_names=stream.event_names,
            error_event=stream.error_event,
            trigger_event=stream.trigger_event,
            items_pointer=str(stream.trigger["items"]),
            item_pointer=stream.item_pointer,
            heartbeat_interval_ms=stream.heartbeat_interval_ms,
            batch_items=str(batch.get("items", "")),
            batch_window_ms=int(batch.get("window_ms", 0)),
            filter_parameter=str(found.get("parameter", "")),
            push_pointer=str(push.get("pointer", "")),
            push_events=tuple(push.get("events") or ()),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreamRules:
        """The rules of `asdict`."""
        tuples = {"event_names": tuple(data["event_names"]), "push_events": tuple(data.get("push_events") or ())}
        return cls(**{**data, **tuples})

    def items_of(self, data: Any) -> list[Any]:
        """The stored items one trigger event's decoded data carries (several in a batch; none when not there)."""
        if self.batch_items:
            found = pointers.get(data, self.batch_items, None)
            return list(found) if isinstance(found, list) else []
        found = pointers.get(data, self.item_pointer, None) if self.item_pointer else data
        return [] if found is None else [found]


@dataclass(frozen=True)
class CreatedJob:
    """A job the run created: its id, the token its worker uploads with, its owner."""

    job_id: str
    job_token: str
    user_id: str


@dataclass(frozen=True)
class Job:
    """A created job with every request its users make (by key), its worker's headers and upload template."""

    job_id: str
    upload_headers: Mapping[str, str]
    user_id: str
    routes: Mapping[str, Route]
    upload_body: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            job_id=data["job_id"],
            upload_headers=dict(data["upload_headers"]),
            user_id=data["user_id"],
            routes={key: Route(**route) for key, route in data["routes"].items()},
            upload_body=data["upload_body"],
        )


@dataclass(frozen=True)
class Plan:
    """One Locust run: the scenario its tabs play, the workload, credentials, stream rules, the jobs, timing."""

    scenario: str
    workload: Workload
    dashboard_headers: Mapping[str, str]
    stream: StreamRules
    jobs: tuple[Job, ...]
    refetch: bool = True
    start_margin_s: float = 0.3
    barrier_timeout_s: float = 120.0
    grace_s: float = 10.0
    design: str | None = None
    """The contract design the target serves (its stream rules are in `stream`); None for the base contract."""

    @property
    def roles(self) -> dict[str, int]:
        """Users of each role: a tab per job and tab number, a trainer per job."""
        return {"tab": self.workload.total_tabs, "trainer": self.workload.jobs}

    @property
    def users(self) -> dict[str, int]:
        """Locust user class name -> fixed count."""
        return {USERS[role]: count for role, count in self.roles.items()}

    @property
    def run_time_s(self) -> float:
        """The longest the Locust run may take: the schedule, the grace, the start barrier and a margin."""
        return self.workload.wall_s + self.grace_s + self.barrier_timeout_s + 30

    def slot(self, role: str, index: int) -> Slot | None:
        """What the user holding slot `index` of `role` needs, or None when the plan has no such slot."""
        if role not in ROLES or not 0 <= index < self.roles[role]:
            return None
        job, tab = divmod(index, self.workload.tabs) if role == "tab" else (index, 0)
        return Slot(role, index, tab, self.jobs[job], replace(self, jobs=()))

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (and Locust's messages)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """The plan of `to_dict`."""
        return cls(
            scenario=data["scenario"],
            workload=Workload.from_dict(data["workload"]),
            dashboard_headers=dict(data["dashboard_headers"]),
            stream=StreamRules.from_dict(data["stream"]),
            jobs=tuple(Job.from_dict(job) for job in data["jobs"]),
            refetch=bool(data["refetch"]),
            start_margin_s=float(data["start_margin_s"]),
            barrier_timeout_s=float(data["barrier_timeout_s"]),
            grace_s=float(data["grace_s"]),
            design=data.get("design"),
        )


@dataclass(frozen=True)
class Slot:
    """What one user needs: its role and index, its tab number within the job, the job, and the plan (no jobs)."""

    role: str
    index: int
    tab: int
    job: Job
    plan: Plan

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a Locust message."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Slot:
        """The slot of `to_dict`."""
        return cls(data["role"], data["index"], data["tab"], Job.from_dict(data["job"]), Plan.from_dict(data["plan"]))


def route(contract: Contract, operation_id: str, kind: str, query: Mapping[str, str], job_id: str) -> Route:
    """One operation of the spec as a request about one job: every path parameter is the job's id."""
    op = contract.operation(operation_id)
    path = op.path_for(**{p.name: job_id for p in op.parameters_in("path")})
    undeclared = sorted(set(query) - {p.name for p in op.parameters_in("query")})
    if undeclared:
        raise LoadError(f"{operation_id}: the spec declares no query parameter {', '.join(undeclared)}")
    return Route(op.method, path + (f"?{urlencode(query)}" if query else ""), kind, operation_id)


def job_routes(contract: Contract, job_id: str) -> dict[str, Route]:
    """Every request the users of one job make: the chart's, the stream, the worker's upload."""
    routes = {r.key: route(contract, r.operation_id, r.kind, r.query, job_id) for r in chart.REQUESTS}
    routes[entries.STREAM] = route(contract, contract.stream.operation.operation_id, entries.STREAM, {}, job_id)
    upload = str(contract.stream.trigger["operation_id"])
    routes[training.KIND] = route(contract, upload, training.KIND, {}, job_id)
    return routes


def build_plan(
    contract: Contract,
    scenario: str,
    workload: Workload,
    jobs: Sequence[CreatedJob],
    session_token: str,
    *,
    refetch: bool = True,
) -> Plan:
    """The plan of one Locust run of `scenario` over the created jobs, the dashboard user's session token given."""
    if len(jobs) != workload.jobs:
        raise LoadError(f"plan needs {workload.jobs} jobs, got {len(jobs)}")
    return Plan(
        scenario=scenario,
        workload=workload,
        dashboard_headers=presented(contract, "session_token", session_token),
        stream=StreamRules.of(contract),
        jobs=tuple(
            Job(
                job.job_id,
                presented(contract, "job_token", job.job_token),
                job.user_id,
                job_routes(contract, job.job_id),
                training.template(contract, job.job_id, job.user_id),
            )
            for job in jobs
        ),
        refetch=refetch,
        design=contract.design,
    )


def presented(contract: Contract, credential: str, secret: str) -> dict[str, str]:
    """The headers presenting `secret` under the first of the contract's schemes carrying `credential`."""
    schemes = contract.schemes.carrying(credential)
    if not schemes:
        raise LoadError(f"the spec has no security scheme carrying a {credential}")
    return schemes[0].headers(secret)
