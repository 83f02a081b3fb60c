"""The workload of one ftl-load run and the plan the Locust master hands out to its users.

A `Workload` is what the user asks for (jobs, tabs, rates, simulated time); a plan is that workload made
concrete for one mode: created jobs with their tokens, the requests each role makes, read from the spec.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode

from load.errors import LoadError
from spec import Contract

MODES = ("polling", "sse")
ROLES = ("tab", "trainer")
USER_CLASSES = {"polling": "PollingDashboardUser", "sse": "SseDashboardUser", "trainer": "TrainingWorkerUser"}
# Where a trainer hides its send time in each prediction it uploads, so a tab can time the fan-out.
MARKER_SOURCE = ("sample_source", "ftl-load")
MARKER_FIELD = "sample_source_id"


@dataclass(frozen=True)
class Workload:
    """N jobs watched by M dashboard tabs each, with a training worker per job uploading predictions.

    Intervals and the duration are simulated seconds; `time_scale` multiplies every one of them (and the
    mock's heartbeat) into wall time, so 1/60 runs a simulated hour in a minute.
    """

    jobs: int = 50
    tabs: int = 2
    poll_interval_s: float = 30.0
    upload_rate: float = 1.0
    duration_s: float = 3600.0
    time_scale: float = 1 / 60
    batch: int = 1

    def __post_init__(self) -> None:
        if self.jobs < 1 or self.tabs < 1 or self.batch < 1:
            raise LoadError("jobs, tabs and batch must be at least 1")
        if self.poll_interval_s <= 0 or self.upload_rate <= 0 or self.duration_s <= 0 or self.time_scale <= 0:
            raise LoadError("intervals, rates, duration and time scale must be positive")
        if self.polls_per_tab < 1:
            raise LoadError(f"duration {self.duration_s:g}s is shorter than one poll interval")
        if self.uploads_per_job < 1:
            raise LoadError(f"duration {self.duration_s:g}s at {self.upload_rate:g}/min gives no upload")

    @property
    def upload_interval_s(self) -> float:
        """Simulated seconds between one job's uploads (each carries `batch` predictions)."""
        return 60.0 * self.batch / self.upload_rate

    @property
    def uploads_per_job(self) -> int:
        """Upload requests each training worker makes in the run."""
        return math.floor(self.duration_s / self.upload_interval_s + 1e-9)

    @property
    def predictions_per_job(self) -> int:
        """Predictions each job receives in the run."""
        return self.uploads_per_job * self.batch

    @property
    def polls_per_tab(self) -> int:
        """Interval polls each polling tab makes in the run (after its mount fetch)."""
        return math.floor(self.duration_s / self.poll_interval_s + 1e-9)

    @property
    def job_hours(self) -> float:
        """Simulated job-hours of the run: the denominator of every per-job-hour figure."""
        return self.jobs * self.duration_s / 3600.0

    @property
    def wall_s(self) -> float:
        """Wall seconds the scheduled part of the run takes."""
        return self.duration_s * self.time_scale

    def to_dict(self) -> dict[str, Any]:
        """Plain values, derived figures included."""
        return {
            **asdict(self),
            "uploads_per_job": self.uploads_per_job,
            "predictions_per_job": self.predictions_per_job,
            "polls_per_tab": self.polls_per_tab,
            "job_hours": self.job_hours,
        }


def route(
    contract: Contract, operation_id: str, kind: str, query: dict[str, str] | None = None, **path_params: str
) -> dict[str, str]:
    """Method, concrete path (with `query`) and Locust entry name of one operation of the spec."""
    op = contract.operations[operation_id]
    path = op.path
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    if "{" in path:
        raise LoadError(f"{operation_id}: path {op.path} needs parameters {path_params} do not give")
    declared = {p.name for p in op.parameters if p.location == "query"}
    if query:
        if not set(query) <= declared:
            raise LoadError(f"{operation_id}: the spec declares no query parameter {sorted(set(query) - declared)}")
        path += "?" + urlencode(query)
    return {"method": op.method, "path": path, "name": f"{kind}: {operation_id}"}


def stream_rules(contract: Contract) -> dict[str, Any]:
    """What a stream reader needs from the contract: event names and where the stored item sits."""
    stream = contract.stream
    return {
        "operation_id": stream.operation.operation_id,
        "event_names": list(stream.event_names),
        "first_event": stream.first_event,
        "heartbeat_event": stream.heartbeat_event,
        "heartbeat_interval_ms": stream.heartbeat_interval_ms,
        "trigger_event": str(stream.trigger["event"]),
        "item_pointer": str(stream.trigger.get("item_pointer", "")),
        "items_pointer": str(stream.trigger["items"]),
        "error_event": stream.error_event,
    }


def job_routes(contract: Contract, job_id: str) -> dict[str, dict[str, str]]:
    """Every request the roles of one job make."""
    trigger = contract.stream.trigger
    return {
        # The chart's mount: a `?limit=1` existence check, then the trends (ref §13).
        "mount_check": route(contract, "get_predictions", "mount", {"limit": "1"}, jobId=job_id),
        "mount": route(contract, "get_prediction_trends", "mount", jobId=job_id),
        "poll": route(contract, "get_prediction_trends", "poll", jobId=job_id),
        "refetch": route(contract, "get_prediction_trends", "refetch", jobId=job_id),
        "stream": route(contract, contract.stream.operation.operation_id, "stream", jobId=job_id),
        "upload": route(contract, str(trigger["operation_id"]), "upload"),
    }


def upload_template(contract: Contract, job_id: str, user_id: str) -> dict[str, Any]:
    """The trigger operation's request example, rewritten for one job: one item to copy per prediction."""
    trigger = contract.stream.trigger
    op = contract.operations[str(trigger["operation_id"])]
    media = op.request_body.content["application/json"] if op.request_body else None
    example = media.example if media else None
    items = pointer_value(example, str(trigger["items"]))
    if not isinstance(example, dict) or not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise LoadError(f"{op.operation_id}: the spec has no request example with an item at {trigger['items']}")
    item = items[0]
    swaps = {str(example.get("job_id")): job_id, str(item.get("user_id")): user_id}
    return substitute(replace_at(example, str(trigger["items"]), [item]), swaps)


def replace_at(document: Any, pointer: str, value: Any) -> Any:
    """A copy of `document` with the value at a JSON pointer (into objects) replaced."""
    head, _, rest = pointer.lstrip("/").partition("/")
    if not isinstance(document, dict):
        raise LoadError(f"cannot follow {pointer!r} into a non-object")
    return {**document, head: replace_at(document.get(head), "/" + rest, value) if rest else value}


def substitute(value: Any, swaps: dict[str, str]) -> Any:
    """A copy of `value` with every string equal to a key of `swaps` replaced."""
    if isinstance(value, dict):
        return {k: substitute(v, swaps) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, swaps) for v in value]
    return swaps.get(value, value) if isinstance(value, str) else value


def pointer_value(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or None."""
    node = document
    for part in pointer.split("/")[1:]:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def build_plan(
    contract: Contract,
    workload: Workload,
    mode: str,
    jobs: list[dict[str, str]],
    session: str,
    *,
    start_margin_s: float = 0.3,
    barrier_timeout_s: float = 120.0,
    grace_s: float = 10.0,
    refetch: bool = True,
) -> dict[str, Any]:
    """The JSON plan for one Locust run: common settings, one entry per job, the role counts."""
    if mode not in MODES:
        raise LoadError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if len(jobs) != workload.jobs:
        raise LoadError(f"plan needs {workload.jobs} jobs, got {len(jobs)}")
    return {
        "mode": mode,
        "workload": workload.to_dict(),
        "time_scale": workload.time_scale,
        "poll_interval_s": workload.poll_interval_s,
        "upload_interval_s": workload.upload_interval_s,
        "uploads_per_job": workload.uploads_per_job,
        "polls_per_tab": workload.polls_per_tab,
        "duration_s": workload.duration_s,
        "batch": workload.batch,
        "refetch": refetch,
        "start_margin_s": start_margin_s,
        "barrier_timeout_s": barrier_timeout_s,
        "grace_s": grace_s,
        "dashboard_headers": {"Authorization": f"Bearer {session}"},
        "stream": stream_rules(contract),
        "marker": {"source": list(MARKER_SOURCE), "field": MARKER_FIELD},
        "jobs": [
            {
                **job,
                "routes": job_routes(contract, job["job_id"]),
                "upload_body": upload_template(contract, job["job_id"], job["user_id"]),
            }
            for job in jobs
        ],
        "roles": {"tab": workload.jobs * workload.tabs, "trainer": workload.jobs},
        "tabs_per_job": workload.tabs,
    }


def slot(plan: dict[str, Any], role: str, index: int) -> dict[str, Any] | None:
    """What the user holding slot `index` of `role` needs, or None when the plan has no such slot."""
    if role not in ROLES or not 0 <= index < plan["roles"][role]:
        return None
    job_index, tab = divmod(index, plan["tabs_per_job"]) if role == "tab" else (index, 0)
    common = {k: v for k, v in plan.items() if k not in ("jobs", "workload")}
    return {**common, "role": role, "index": index, "tab": tab, "job": plan["jobs"][job_index]}


def user_classes(mode: str, workload: Workload) -> dict[str, int]:
    """Locust user class name -> fixed count for one mode."""
    return {USER_CLASSES[mode]: workload.jobs * workload.tabs, USER_CLASSES["trainer"]: workload.jobs}
