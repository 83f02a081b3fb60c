"""A double of the hosted FineTune Lab platform, written from the reference notes, quirks included.

It serves fifteen operations as the platform's route handlers do (reference §1-§5, §8): the predictions
reads and upload, the prediction stream at a short real heartbeat, jobs, metrics, logs and errors, and
the RunPod and Kaggle deployment reads. It has no admin API and knows nothing of ftl-mock: a job is
created through `create_job`, data arrives through the job-token routes, the rest is what the platform
does, including what the contract calls a divergence (a NaN `epoch` is a 500, items are not checked, a
body `user_id` skips authentication, logs and errors answer 503 because no training server is attached,
the stream's Content-Type has a charset) and the ownership holes of §1.5: the job upsert takes over
another user's job, prediction items go under their own `job_id` and `user_id`, and any user reads or
stops any RunPod pod and reads any Kaggle run. Its users already have one pod and one notebook run each
(`RUNPOD_POD`, `KAGGLE_RUN`: the gate cannot create billed deployments on a target). Operations are found
from the spec's paths; their behaviour comes from the reference.

`PlatformDouble(heartbeat_s=…)` is the ASGI app; `defect=` adds one deliberate defect of a class
(status, schema, content type, auth bypass, 500 everywhere, a lost event) for the gate's tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

import spec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
CONTRACT = spec.load()

ALICE, BOB = "5f0c6b1e-2a3d-4e8f-9b1c-7d6e5f4a3b21", "b7e2d9c4-1f3a-4c5e-8d7b-2a9f0e1c3d46"
ALICE_KEY = "wak_Cm6oPD3RYBiZMVRI3iKNLnUFfzDym7Wz"
ALICE_WORKER_KEY = "wak_1lfHQQqEunmnlsxSgiDhUVKQGprdjvx3"
BOB_KEY = "wak_AcjLqNO2yazrE6Mb4IGttdGHWl4QLdKz"
ALICE_JWT, BOB_JWT = "double-session-alice", "double-session-bob"
# Alice's RunPod pod and Kaggle notebook run, as RunPod and Kaggle know them.
RUNPOD_POD = "3f6d0c9a-7b1e-4d2f-a5c8-91e0b4d7f623"
KAGGLE_RUN = "alice-double/support-bot-sft"
KEY_FORMAT = re.compile(r"^wak_[A-Za-z0-9]{32}$")
INTEGER = re.compile(r"^-?\d+$")
NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DEFECTS = ("status", "schema", "content_type", "auth_bypass", "server_error", "lost_event")
# Each defect class, and the operation it breaks.
DEFECT_OPERATION = {
    "status": "get_predictions",
    "schema": "get_predictions",
    "content_type": "get_metrics",
    "auth_bypass": "get_prediction_epochs",
    "server_error": "get_predictions",
    "lost_event": "stream_predictions",
}


class DatabaseError(Exception):
    """What Supabase would answer for a row the table cannot hold."""


def now() -> str:
    """JavaScript's toISOString(): UTC, milliseconds, Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- columns: what Postgres accepts through PostgREST (§1.6) -----------------------------------------


def _integer(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise DatabaseError(f'invalid input syntax for type integer: "{str(value).lower()}"')
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and INTEGER.match(value.strip()):
        return int(value)
    raise DatabaseError(f'invalid input syntax for type integer: "{value}"')


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise DatabaseError(f'invalid input syntax for type double precision: "{str(value).lower()}"')
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and NUMBER.match(value.strip()):
        return float(value)
    raise DatabaseError(f'invalid input syntax for type double precision: "{value}"')


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return json.dumps(value)
    raise DatabaseError(f"invalid input syntax for type text: {json.dumps(value)[:40]}")


def _boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "t", "f"):
        return value.lower() in ("true", "t")
    raise DatabaseError(f'invalid input syntax for type boolean: "{value}"')


def _uuid(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and UUID.match(value):
        return value.lower()
    raise DatabaseError(f'invalid input syntax for type uuid: "{value}"')


def _json(value: Any) -> Any:
    return value


PREDICTION_COLUMNS: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "job_id": (_text, True),
    "user_id": (_uuid, True),
    "epoch": (_integer, True),
    "step": (_integer, True),
    "sample_index": (_integer, True),
    "prompt": (_text, True),
    "prediction": (_text, True),
    "ground_truth": (_text, False),
    "exact_match": (_number, False),
    "char_error_rate": (_number, False),
    "length_ratio": (_number, False),
    "word_overlap": (_number, False),
    "prompt_id": (_text, False),
    "sample_source": (_text, False),
    "sample_source_id": (_text, False),
    "source_index": (_integer, False),
    "prompt_tokens": (_integer, False),
    "completion_tokens": (_integer, False),
    "total_tokens": (_integer, False),
    "latency_ms": (_integer, False),
    "max_new_tokens": (_integer, False),
    "do_sample": (_boolean, False),
    "validation_pass": (_boolean, False),
    "validation_kind": (_text, False),
    "validation_errors": (_json, False),
}
JOB_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "model_name": _text,
    "dataset_path": _text,
    "status": _text,
    "config": _json,
    "total_epochs": _integer,
    "total_steps": _integer,
    "total_samples": _integer,
    "current_epoch": _integer,
    "current_step": _integer,
    "progress": _number,
    "loss": _number,
    "eval_loss": _number,
    "best_eval_loss": _number,
    "best_epoch": _integer,
    "best_step": _integer,
    "learning_rate": _number,
    "started_at": _text,
    "completed_at": _text,
    "error_message": _text,
    "job_token": _text,
    "batch_size": _integer,
}
METRIC_COLUMNS: dict[str, Callable[[Any], Any]] = {
    name: _number
    for name in (
        "train_loss",
        "eval_loss",
        "learning_rate",
        "grad_norm",
        "gpu_memory_allocated_gb",
        "gpu_memory_reserved_gb",
        "gpu_utilization_percent",
        "perplexity",
        "train_perplexity",
        "samples_per_second",
        "tokens_per_second",
    )
}


def row_of(item: Any, columns: dict[str, tuple[Callable[[Any], Any], bool]]) -> dict[str, Any]:
    """An inserted row: unknown keys dropped, values cast per column, NOT NULL enforced (else DatabaseError)."""
    if not isinstance(item, dict):
        raise DatabaseError("All object keys must match")
    row: dict[str, Any] = {}
    for name, (cast, required) in columns.items():
        value = cast(item.get(name))
        if value is None and required:
            raise DatabaseError(f'null value in column "{name}" violates not-null constraint')
        row[name] = value
    return row


# --- the store -----------------------------------------------------------------------------------


@dataclass
class Store:
    """The platform's tables, as far as these operations touch them."""

    users: set[str] = field(default_factory=lambda: {ALICE, BOB})
    keys: dict[str, tuple[str, tuple[str, ...]]] = field(
        default_factory=lambda: {
            ALICE_KEY: (ALICE, ("all",)),
            ALICE_WORKER_KEY: (ALICE, ("worker",)),
            BOB_KEY: (BOB, ("training",)),
        }
    )
    sessions: dict[str, str] = field(default_factory=lambda: {ALICE_JWT: ALICE, BOB_JWT: BOB})
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    # What RunPod and Kaggle hold, by pod or run id: the platform keeps no owner check between.
    pods: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            RUNPOD_POD: {
                "status": "running",
                "cost_per_hour": 1.99,
                "pod_url": f"https://{RUNPOD_POD}-8888.proxy.runpod.net",
            }
        }
    )
    kaggle_runs: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            KAGGLE_RUN: {"status": "running", "notebook_url": f"https://www.kaggle.com/code/{KAGGLE_RUN}"}
        }
    )

    def job(self, job_id: str, user: str) -> dict[str, Any] | None:
        """A job by (id, user_id): someone else's job is as missing as an unknown one (§1.5)."""
        job = self.jobs.get(job_id)
        return job if job is not None and job["user_id"] == user else None


@dataclass
class Stream:
    """One open prediction stream and the messages queued for it."""

    job_id: str
    queue: asyncio.Queue[bytes]
    active: bool = False


def frame(event: str, data: dict[str, Any]) -> bytes:
    """One SSE message: an event line, a compact JSON data line, a blank line (§3.1)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# --- authentication (§1.3, §1.4) -----------------------------------------------------------------


class AuthFailure(Exception):
    """Authentication failed with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _presented_key(request: Request) -> str | None:
    for header in ("x-api-key", "x-workspace-api-key"):
        if request.headers.get(header):
            return request.headers[header].strip()
    bearer = request.headers.get("authorization", "")
    if bearer.startswith("Bearer ") and bearer[7:].strip().startswith("wak_"):
        return bearer[7:].strip()
    return None


class PlatformDouble:
    """The ASGI app: routes by the spec's paths, behaves by the reference."""

    def __init__(self, *, heartbeat_s: float = 15.0, defect: str | None = None, subscribe_s: float = 0.1) -> None:
        if defect is not None and defect not in DEFECTS:
            raise ValueError(f"unknown defect {defect!r} (one of {', '.join(DEFECTS)})")
        self.heartbeat_s = heartbeat_s
        self.subscribe_s = subscribe_s
        self.defect = defect
        self.store = Store()
        self.streams: list[Stream] = []
        self.handlers: dict[str, Callable[[Request, dict[str, str]], Awaitable[Response]]] = {
            "get_predictions": self.get_predictions,
            "get_prediction_epochs": self.get_prediction_epochs,
            "get_prediction_trends": self.get_prediction_trends,
            "create_predictions": self.create_predictions,
            "list_jobs": self.list_jobs,
            "create_job": self.create_job,
            "get_job_status": self.get_job_status,
            "get_metrics": self.get_metrics,
            "record_metric": self.record_metric,
            "get_logs": self.get_logs,
            "get_errors": self.get_errors,
            "get_runpod_deployment": self.get_runpod_deployment,
            "delete_runpod_deployment": self.delete_runpod_deployment,
            "get_kaggle_deployment": self.get_kaggle_deployment,
        }

    @property
    def operations(self) -> tuple[str, ...]:
        """The operationIds the double serves."""
        return (*self.handlers, CONTRACT.stream.operation.operation_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        found = CONTRACT.match(scope["method"], scope["path"])
        name = found[0].operation_id if found else None
        if found is None or (name not in self.handlers and name != CONTRACT.stream.operation.operation_id):
            await _next_not_found(scope, receive, send)
            return
        params = found[1]
        request = Request(scope, receive)
        if self.defect == "server_error" and name == DEFECT_OPERATION["server_error"]:
            response: Response = JSONResponse({"error": "Internal server error"}, status_code=500)
        elif self.defect == "auth_bypass" and name == DEFECT_OPERATION["auth_bypass"] and not _credentialed(request):
            scope = {**scope, "headers": [*scope["headers"], (b"x-api-key", ALICE_KEY.encode())]}
            response = await self.handlers[name](Request(scope, receive), params)
        elif name == CONTRACT.stream.operation.operation_id:
            await self.stream(request, params["jobId"], send)
            return
        else:
            response = await self.handlers[str(name)](request, params)
        await self._defective(str(name), response)(scope, receive, send)

    def _defective(self, name: str, response: Response) -> Response:
        if self.defect == "status" and name == DEFECT_OPERATION["status"] and response.status_code == 200:
            response.status_code = 201
        elif self.defect == "schema" and name == DEFECT_OPERATION["schema"] and response.status_code == 200:
            body = json.loads(bytes(response.body))
            body.pop("total_count", None)
            return JSONResponse(body)
        elif self.defect == "content_type" and name == DEFECT_OPERATION["content_type"]:
            return Response(bytes(response.body), response.status_code, media_type="text/html")
        return response

    # --- auth helpers ---------------------------------------------------------------------------

    def _key(self, request: Request, scope: str) -> str:
        """The key path: the user, or AuthFailure with the validator's status and message."""
        key = _presented_key(request)
        if key is None:
            raise AuthFailure(401, "Missing API key. Provide in X-API-Key header or Authorization: Bearer header.")
        if not KEY_FORMAT.match(key):
            raise AuthFailure(401, "Invalid API key format")
        found = self.store.keys.get(key)
        if found is None:
            raise AuthFailure(401, "Invalid API key")
        user, scopes = found
        if "all" not in scopes and scope not in scopes:
            raise AuthFailure(403, f"API key does not have '{scope}' scope. Key scopes: {', '.join(scopes)}")
        return user

    def _jwt(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return self.store.sessions.get(header[7:].strip()) if header.startswith("Bearer ") else None

    def pattern_a(self, request: Request) -> str | None:
        """Key, then JWT (§1.4 A): any key failure falls back to the JWT; None when neither works."""
        try:
            return self._key(request, "training")
        except AuthFailure:
            return self._jwt(request)

    def pattern_b(self, request: Request) -> str:
        """authenticateTraining (§1.4 B): a presented key is the only path."""
        if _presented_key(request) is not None:
            return self._key(request, "training")
        if not request.headers.get("authorization"):
            raise AuthFailure(401, "Missing authorization header")
        user = self._jwt(request)
        if user is None:
            raise AuthFailure(401, "Authentication failed")
        return user

    def pattern_d(self, request: Request, job_id: str) -> dict[str, Any]:
        """Job token (§1.4 D): bearer required, then the job, then the token."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise AuthFailure(401, "Unauthorized: Bearer token required")
        job = self.store.jobs.get(job_id)
        if job is None:
            raise AuthFailure(404, "Job not found")
        if job["job_token"] != header[7:]:
            raise AuthFailure(401, "Unauthorized: Invalid token")
        return job

    # --- predictions (§2) -----------------------------------------------------------------------

    async def get_predictions(self, request: Request, params: dict[str, str]) -> Response:
        user = self.pattern_a(request)
        if user is None:
            return _error(401, "Unauthorized")
        job_id = params["jobId"]
        if self.store.job(job_id, user) is None:
            return _error(404, "Job not found")
        query = request.query_params
        page = _page(query, default_limit=50)
        if page is None:
            return _error(400, "limit and offset must be integers")
        limit, offset = page
        rows = sorted(
            (p for p in self.store.predictions if p["job_id"] == job_id), key=lambda p: (p["epoch"], p["sample_index"])
        )
        epoch = query.get("epoch")
        if epoch is not None:
            # Not validated (§2.1): a leading integer filters; anything else is a NaN filter the DB rejects.
            if not INTEGER.match(epoch.strip()):
                return _error(500, "Failed to fetch predictions", f'invalid input syntax for type integer: "{epoch}"')
            rows_page = [p for p in rows if p["epoch"] == int(epoch)]
        else:
            rows_page = rows
        start = max(offset, 0)
        selected = rows_page[start : start + limit] if limit > 0 else []
        epochs = {p["epoch"] for p in rows}
        return JSONResponse(
            {"job_id": job_id, "predictions": selected, "total_count": len(rows), "epoch_count": len(epochs)}
        )

    async def get_prediction_epochs(self, request: Request, params: dict[str, str]) -> Response:
        user = self.pattern_a(request)
        if user is None:
            return _error(401, "Unauthorized")
        job_id = params["jobId"]
        if self.store.job(job_id, user) is None:
            return _error(404, "Job not found")
        grouped: dict[int, list[dict[str, Any]]] = {}
        for row in self.store.predictions:
            if row["job_id"] == job_id:
                grouped.setdefault(row["epoch"], []).append(row)
        epochs = [
            {"epoch": epoch, "prediction_count": len(rows), "latest_step": max(r["step"] for r in rows)}
            for epoch, rows in sorted(grouped.items())
        ]
        return JSONResponse({"job_id": job_id, "epochs": epochs})

    async def get_prediction_trends(self, request: Request, params: dict[str, str]) -> Response:
        user = self.pattern_a(request)
        if user is None:
            return _error(401, "Unauthorized")
        job_id = params["jobId"]
        if self.store.job(job_id, user) is None:
            return _error(404, "Job not found")
        grouped: dict[int, list[dict[str, Any]]] = {}
        for row in self.store.predictions:
            if row["job_id"] == job_id:
                grouped.setdefault(row["epoch"], []).append(row)
        trends = [_trend(epoch, rows) for epoch, rows in sorted(grouped.items())]
        first, last = (trends[0], trends[-1]) if len(trends) >= 2 else (None, None)
        improvement = None
        if first and last and first["avg_char_error_rate"] and last["avg_char_error_rate"] is not None:
            first_cer = first["avg_char_error_rate"]
            improvement = (first_cer - last["avg_char_error_rate"]) / first_cer * 100
        return JSONResponse({"job_id": job_id, "trends": trends, "overall_improvement": improvement})

    async def create_predictions(self, request: Request, params: dict[str, str]) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict) or not body.get("job_id"):
            return _error(400, "job_id is required")
        items = body.get("predictions")
        if not isinstance(items, list) or not items:
            return _error(400, "predictions array is required and must not be empty")
        try:
            self.pattern_d(request, str(body["job_id"]))
        except AuthFailure as failure:
            return _error(failure.status, failure.message)
        try:
            # The items are inserted as sent, each under its own job_id and user_id (§2.5): nothing is checked.
            rows = [row_of(item, PREDICTION_COLUMNS) for item in items]
            for row in rows:
                if row["job_id"] not in self.store.jobs:
                    raise DatabaseError('insert or update on table "training_predictions" violates foreign key')
        except DatabaseError as exc:
            return _error(500, "Failed to persist predictions", str(exc))
        for row in rows:
            stored = {"id": str(uuid.uuid4()), **row, "created_at": now()}
            self.store.predictions.append(stored)
            self._publish(stored)
        return JSONResponse({"success": True, "count": len(rows)})

    def _publish(self, row: dict[str, Any]) -> None:
        count = sum(1 for p in self.store.predictions if p["job_id"] == row["job_id"])
        for stream in self.streams:
            if stream.job_id == row["job_id"] and stream.active:
                if self.defect == "lost_event":
                    continue
                stream.queue.put_nowait(
                    frame("prediction", {"prediction": row, "total_count": count, "timestamp": now()})
                )

    # --- the stream (§3.1) ----------------------------------------------------------------------

    async def stream(self, request: Request, job_id: str, send: Send) -> None:
        user = self.pattern_a(request)
        if user is None:
            await PlainTextResponse("Unauthorized", 401)(request.scope, request.receive, send)
            return
        if self.store.job(job_id, user) is None:
            await PlainTextResponse("Job not found", 404)(request.scope, request.receive, send)
            return
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache, no-transform"),
            (b"connection", b"keep-alive"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        stream = Stream(job_id, asyncio.Queue())
        self.streams.append(stream)
        stream.queue.put_nowait(frame("connected", {"jobId": job_id, "timestamp": now()}))
        tasks = [
            asyncio.ensure_future(self._subscribe(stream)),
            asyncio.ensure_future(self._heartbeats(stream)),
            asyncio.ensure_future(_write(stream, send)),
        ]
        try:
            await _until_disconnect(request.receive)
        finally:
            self.streams.remove(stream)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def _subscribe(self, stream: Stream) -> None:
        # The realtime subscription becomes active a little after `connected`; nothing before it is replayed.
        await asyncio.sleep(self.subscribe_s)
        stream.active = True

    async def _heartbeats(self, stream: Stream) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            stream.queue.put_nowait(frame("heartbeat", {"timestamp": now()}))

    # --- jobs (§4) --------------------------------------------------------------------------------

    async def list_jobs(self, request: Request, params: dict[str, str]) -> Response:
        try:
            user = self._key(request, "training")
        except AuthFailure:
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer "):
                return _error(401, "Missing authorization")
            user_or_none = self._jwt(request)
            if user_or_none is None:
                return _error(401, "Unauthorized")
            user = user_or_none
        # limit and offset are ignored (§4.1): the newest 50, always.
        jobs = sorted((j for j in self.store.jobs.values() if j["user_id"] == user), key=lambda j: j["created_at"])
        listed = [
            {key: job.get(key) for key in ("id", "model_name", "status", "started_at", "completed_at", "created_at")}
            for job in reversed(jobs[-50:])
        ]
        return JSONResponse({"success": True, "count": len(listed), "jobs": listed})

    async def create_job(self, request: Request, params: dict[str, str]) -> Response:
        if not request.headers.get("content-length") or request.headers["content-length"] == "0":
            return _error(400, "Request body is required")
        if "application/json" not in request.headers.get("content-type", ""):
            return _error(400, "Content-Type must be application/json")
        body = await _json_body(request, details=True)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            return _error(400, "job_id is required")
        claimed = body.get("user_id")
        if claimed:
            # A body user_id is trusted without any authentication (§4.4).
            user = str(claimed)
        else:
            try:
                user = self.pattern_b(request)
            except AuthFailure as failure:
                return _error(failure.status, failure.message)
        job_id = body.get("job_id")
        if not job_id:
            return _error(400, "job_id is required")
        try:
            user = str(_uuid(user))
            if user not in self.store.users:
                raise DatabaseError('insert or update on table "local_training_jobs" violates foreign key')
            fields = {name: cast(body[name]) for name, cast in JOB_COLUMNS.items() if name in body}
        except DatabaseError as exc:
            return _error(500, "Failed to process request", str(exc))
        key = _text(job_id) if not isinstance(job_id, dict | list) else json.dumps(job_id)
        job = self.store.jobs.get(str(key))
        if job is None:
            job = {
                "id": str(key),
                "created_at": now(),
                "status": "pending",
                "metadata": {},
                "job_token": secrets.token_urlsafe(32),
                **{name: None for name in JOB_COLUMNS if name not in ("status", "job_token")},
            }
            self.store.jobs[job["id"]] = job
        job.update({k: v for k, v in fields.items() if not (k == "job_token" and v is None)})
        job["user_id"] = user
        job["updated_at"] = now()
        return JSONResponse(
            {"success": True, "persisted": True, "job_id": job["id"], "user_id": user, "job_token": job["job_token"]}
        )

    async def get_job_status(self, request: Request, params: dict[str, str]) -> Response:
        try:
            user = self.pattern_b(request)
        except AuthFailure as failure:
            return _error(failure.status, failure.message)
        job = self.store.job(params["jobId"], user)
        if job is None:
            return _error(404, "Training job not found", "JSON object requested, multiple (or no) rows returned")
        return JSONResponse(self._status_report(job))

    def _status_report(self, job: dict[str, Any]) -> dict[str, Any]:
        metrics = sorted((m for m in self.store.metrics if m["job_id"] == job["id"]), key=lambda m: m["step"])
        latest = metrics[-1] if metrics else None
        step = latest["step"] if latest else 0
        total_steps = job.get("total_steps")
        progress = round(step / total_steps * 100) if total_steps else 0
        report: dict[str, Any] = {
            "job_id": job["id"],
            "status": job["status"],
            "model_name": job.get("model_name"),
            "model_display_name": job.get("model_name"),
            "job_name": job.get("model_name") or job["id"],
            "dataset_path": job.get("dataset_path"),
            "current_step": step,
            "current_epoch": latest["epoch"] if latest else 0,
            "total_steps": total_steps,
            "total_epochs": job.get("total_epochs"),
            "total_samples": job.get("total_samples"),
            "progress": max(progress, 0),
            "best_eval_loss": job.get("best_eval_loss"),
            "best_epoch": job.get("best_epoch"),
            "best_step": job.get("best_step"),
            "best_checkpoint_path": None,
            "loss_trend": None,
            "epochs_without_improvement": 0,
            "train_perplexity": None,
            "eval_perplexity": None,
            "started_at": job.get("started_at"),
            "completed_at": job.get("completed_at"),
            "elapsed_seconds": 0,
            "remaining_seconds": 0,
            "resumed_from_job_id": None,
            "resume_from_checkpoint": None,
        }
        if latest and latest.get("train_loss") is not None:
            report["loss"] = latest["train_loss"]
        if job["status"] == "failed":
            report["error"] = "Training failed"
        return report

    # --- metrics, logs, errors (§5) ---------------------------------------------------------------

    def _metrics_auth(self, request: Request, job_id: str) -> str | Response:
        user = self.pattern_a(request)
        if user is None:
            missing = not request.headers.get("authorization") and _presented_key(request) is None
            return _error(401, "Unauthorized: Missing authentication" if missing else "Unauthorized: Invalid token")
        if self.store.job(job_id, user) is None:
            return _error(404, "Job not found or unauthorized")
        return user

    async def get_metrics(self, request: Request, params: dict[str, str]) -> Response:
        checked = self._metrics_auth(request, params["jobId"])
        if isinstance(checked, Response):
            return checked
        rows = sorted((m for m in self.store.metrics if m["job_id"] == params["jobId"]), key=lambda m: m["step"])
        return JSONResponse({"job_id": params["jobId"], "metrics": rows})

    async def record_metric(self, request: Request, params: dict[str, str]) -> Response:
        try:
            job = self.pattern_d(request, params["jobId"])
        except AuthFailure as failure:
            return _error(failure.status, failure.message)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(500, "Failed to record metric", "Unexpected token in JSON")
        epoch = body.get("epoch") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or not body.get("step")
            or isinstance(epoch, bool)
            or not isinstance(epoch, int | float)
        ):
            return _error(400, "Invalid metric: step and epoch are required")
        try:
            row = {"id": str(uuid.uuid4()), "job_id": job["id"], "step": _integer(body["step"])}
            row["epoch"] = _integer(body["epoch"])
            row.update({name: cast(body.get(name)) for name, cast in METRIC_COLUMNS.items()})
        except DatabaseError as exc:
            return _error(500, "Failed to record metric", str(exc))
        row["timestamp"] = now()
        self.store.metrics.append(row)
        if job["status"] in ("pending", "queued"):
            job["status"] = "running"
        return JSONResponse({"success": True})

    async def get_logs(self, request: Request, params: dict[str, str]) -> Response:
        checked = self._metrics_auth(request, params["jobId"])
        if isinstance(checked, Response):
            return checked
        page = _page(request.query_params, default_limit=100)
        if page is None:
            return _error(400, "limit and offset must be integers")
        limit, offset = page
        logs = self.store.jobs[params["jobId"]].get("metadata", {}).get("logs") or []
        if logs:
            return JSONResponse(
                {"logs": logs[offset : offset + limit], "total_lines": len(logs), "offset": offset, "limit": limit}
            )
        # No stored logs: the route asks the local training server, which a hosted deployment does not have.
        return _error(503, "Failed to connect to local training server", "fetch failed")

    async def get_errors(self, request: Request, params: dict[str, str]) -> Response:
        checked = self._metrics_auth(request, params["jobId"])
        if isinstance(checked, Response):
            return checked
        return _error(503, "Failed to connect to local training server", "fetch failed")

    # --- deployments (§8) -------------------------------------------------------------------------

    def pattern_c(self, request: Request) -> str | Response:
        """JWT only (§1.4 C): the user, or the 401 the deployment routes answer."""
        if not request.headers.get("authorization"):
            return _error(401, "Missing authorization header")
        user = self._jwt(request)
        return user if user is not None else _error(401, "Unauthorized")

    def _pod(self, request: Request, failure: str) -> tuple[str, dict[str, Any]] | Response:
        """The pod a RunPod route names, as RunPod knows it, or the route's error (§8.1)."""
        user = self.pattern_c(request)
        if isinstance(user, Response):
            return user
        pod_id = request.query_params.get("deployment_id")
        if not pod_id:
            return _error(400, "Missing deployment_id parameter")
        # No owner check on the pod: RunPod is asked about any id.
        pod = self.store.pods.get(pod_id)
        return (pod_id, pod) if pod is not None else _error(500, failure, "RunPod API error: pod not found")

    async def get_runpod_deployment(self, request: Request, params: dict[str, str]) -> Response:
        found = self._pod(request, "Failed to get deployment status")
        if isinstance(found, Response):
            return found
        pod_id, pod = found
        cost = {"actual_cost": 0.5, "cost_per_hour": pod["cost_per_hour"], "currency": "USD", "estimated_cost": 0}
        return JSONResponse({"deployment_id": pod_id, "status": pod["status"], "pod_url": pod["pod_url"], "cost": cost})

    async def delete_runpod_deployment(self, request: Request, params: dict[str, str]) -> Response:
        found = self._pod(request, "Failed to stop deployment")
        if isinstance(found, Response):
            return found
        pod_id, pod = found
        pod["status"] = "stopped"
        return JSONResponse(
            {"deployment_id": pod_id, "status": "stopped", "message": "RunPod deployment stopped successfully"}
        )

    async def get_kaggle_deployment(self, request: Request, params: dict[str, str]) -> Response:
        run_id = request.query_params.get("deployment_id")
        if not run_id:
            return _error(400, "Missing required parameter: deployment_id")
        user = self.pattern_c(request)
        if isinstance(user, Response):
            return user
        # No ownership check in the database: Kaggle is asked about any run (§8.5).
        run = self.store.kaggle_runs.get(run_id)
        if run is None:
            return _error(500, "Failed to get deployment status", "Kaggle API error: 404")
        return JSONResponse({"deployment_id": run_id, "status": run["status"], "notebook_url": run["notebook_url"]})


# --- helpers ---------------------------------------------------------------------------------------


def _error(status: int, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def _page(query: Any, *, default_limit: int) -> tuple[int, int] | None:
    """limit and offset as the routes read them: any integer (no bounds), defaults when absent."""
    values = []
    for name, default in (("limit", default_limit), ("offset", 0)):
        text = query.get(name)
        if text is None:
            values.append(default)
        elif INTEGER.match(text.strip()):
            values.append(int(text))
        else:
            return None
    return values[0], values[1]


async def _json_body(request: Request, *, details: bool = False) -> Any:
    length = request.headers.get("content-length")
    if not length or length == "0":
        return _error(400, "Request body is required")
    raw = await request.body()
    if not raw.strip():
        return _error(400, "Empty request body")
    try:
        return json.loads(raw)
    except ValueError as exc:
        return _error(400, "Invalid JSON in request body", str(exc) if details else None)


def _trend(epoch: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def average(name: str) -> float | None:
        values = [r[name] for r in rows if r.get(name) is not None]
        return sum(values) / len(values) if values else None

    errors = [r["char_error_rate"] for r in rows if r.get("char_error_rate") is not None]
    passes = [r["validation_pass"] for r in rows if r.get("validation_pass") is not None]
    return {
        "epoch": epoch,
        "step": max(r["step"] for r in rows),
        "sample_count": len(rows),
        "avg_exact_match": average("exact_match"),
        "avg_char_error_rate": average("char_error_rate"),
        "avg_length_ratio": average("length_ratio"),
        "avg_word_overlap": average("word_overlap"),
        "min_char_error_rate": min(errors) if errors else None,
        "max_char_error_rate": max(errors) if errors else None,
        "validation_pass_rate": sum(passes) / len(passes) if passes else None,
    }


def _credentialed(request: Request) -> bool:
    return any(request.headers.get(name) for name in ("authorization", "x-api-key", "x-workspace-api-key"))


async def _write(stream: Stream, send: Send) -> None:
    while True:
        message = await stream.queue.get()
        await send({"type": "http.response.body", "body": message, "more_body": True})


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _next_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """What Next.js answers for a path no route serves (or a method it does not export)."""
    allowed = CONTRACT.allowed_methods(scope["path"])
    if allowed:
        headers = {"allow": ", ".join(allowed)}
        await Response(b"", 405, headers=headers)(scope, receive, send)
        return
    page = "<!DOCTYPE html><html><head><title>404: This page could not be found.</title></head><body></body></html>"
    await Response(page, 404, media_type="text/html")(scope, receive, send)
