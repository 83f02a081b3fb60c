"""Training jobs: the two job lists, the create-or-update upsert, the computed status, worker updates.

A job that is missing or someone else's is a 404, for `create_job` too: the contract lets the upsert update
the caller's own job only (the platform hands over the job and its token to any caller, ref §1.5, §4.4).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import js_round, page, project, request_keys, response_keys
from mockserver.store.table import Row
from mockserver.wire import instant, utc_now
from spec import pointers

JOBS_LIST_CAP = 50  # env TRAINING_JOBS_LIST_LIMIT on the platform
TERMINAL = ("completed", "failed", "cancelled")
STALE_AFTER_MS = 300_000
TREND_WINDOW = 10
TREND_MINIMUM = 5
TREND_THRESHOLD = 0.05
# Fields of the status report copied from the latest metric row, left out when there is none.
LATEST_METRIC_FIELDS = (
    "learning_rate",
    "grad_norm",
    "gpu_memory_allocated_gb",
    "gpu_memory_reserved_gb",
    "gpu_utilization_percent",
    "samples_per_second",
    "tokens_per_second",
)


def list_jobs(ctx: Context) -> Response:
    """The caller's newest jobs up to the fixed cap; `limit` and `offset` are ignored like the platform does."""
    keys = response_keys(ctx.op, "/jobs/*")
    jobs = [project(row, keys) for row in ctx.state.store.jobs.newest(ctx.principal.user_id)[:JOBS_LIST_CAP]]
    return ctx.json({"success": True, "count": len(jobs), "jobs": jobs})


def list_local_jobs(ctx: Context) -> Response:
    """A page of the caller's jobs, newest first, optionally of one status."""
    rows = ctx.state.store.jobs.newest(ctx.principal.user_id, ctx.query.get("status"))
    limit, offset = ctx.query["limit"], ctx.query["offset"]
    keys = response_keys(ctx.op, "/jobs/*")
    jobs = [project(row, keys) for row in page(rows, limit, offset)]
    return ctx.json({"jobs": jobs, "total": len(rows), "limit": limit, "offset": offset})


def create_job(ctx: Context) -> Response:
    """Insert a new job, or update one of the caller's jobs with the fields sent; another user's job is a 404."""
    body = ctx.body
    user_id = ctx.principal.user_id
    if user_id is None:
        return ctx.error(400, "Unable to determine user_id")
    # The contract owns the job by the authenticated caller, never by a `user_id` in the body.
    fields = {key: body[key] for key in request_keys(ctx.op) if key in body and key not in ("job_id", "user_id")}
    jobs = ctx.state.store.jobs
    row = jobs.get(body["job_id"])
    if row is None:
        row = jobs.create(body["job_id"], user_id, fields)
    elif row.get("user_id") != user_id:
        return ctx.error(404, "Job not found", details=f"job_id: {body['job_id']!r} is another user's job")
    else:
        fields.pop("job_token", None)
        jobs.update(row, fields)
    return ctx.json(
        {"success": True, "persisted": True, "job_id": row["id"], "user_id": user_id, "job_token": row["job_token"]}
    )


def loss_trend(metrics: Sequence[Row]) -> str | None:
    """`improving`, `degrading` or `stable` from the last ≤10 losses (at least 5 needed), else None."""
    losses = [row["train_loss"] for row in metrics[-TREND_WINDOW:] if isinstance(row.get("train_loss"), int | float)]
    if len(losses) < TREND_MINIMUM:
        return None
    half = len(losses) // 2
    first, second = sum(losses[:half]) / half, sum(losses[half:]) / (len(losses) - half)
    if first == 0:
        return "stable"
    change = (second - first) / first
    return "improving" if change <= -TREND_THRESHOLD else "degrading" if change >= TREND_THRESHOLD else "stable"


def perplexity(stored: Any, loss: Any) -> float | None:
    """The stored perplexity, else exp(loss) when it is finite, else None."""
    if isinstance(stored, int | float):
        return float(stored)
    if isinstance(loss, int | float) and loss < 700:
        return math.exp(loss)
    return None


def _config(job: Row) -> Mapping[str, Any]:
    config = job.get("config")
    return config if isinstance(config, Mapping) else {}


def _names(job: Row) -> dict[str, Any]:
    config = _config(job)
    model_name = job.get("model_name") or pointers.get(config, "/model/name", None)
    names: dict[str, Any] = {
        "model_name": job.get("model_name"),
        "model_display_name": pointers.get(config, "/model/display_name", None)
        or (model_name.rsplit("/", 1)[-1] if isinstance(model_name, str) else None),
        "job_name": config.get("job_name") or config.get("name") or model_name or job["id"],
    }
    dataset_name = config.get("dataset_name") or (
        PurePosixPath(job["dataset_path"]).stem if isinstance(job.get("dataset_path"), str) else None
    )
    if dataset_name is not None:
        names["dataset_name"] = dataset_name
    names["dataset_path"] = job.get("dataset_path")
    if isinstance(config.get("gpu_total_memory_gb"), int | float):
        names["gpu_total_memory_gb"] = config["gpu_total_memory_gb"]
    return names


def _timing(job: Row, progress: int, now: float) -> dict[str, int]:
    started = instant(job.get("started_at"))
    end = instant(job.get("completed_at")) or now
    elapsed = max(0, int(end - started)) if started else 0
    remaining = 0
    if job.get("status") == "running" and 0 < progress < 100:
        remaining = int(elapsed * (100 - progress) / progress)
    return {"elapsed_seconds": elapsed, "remaining_seconds": remaining}


def job_status(job: Row, metrics: Sequence[Row], stale_after_s: float, now: float) -> dict[str, Any]:
    """The computed status report of a job (ref §4.5); undefined values are left out, not null."""
    latest = metrics[-1] if metrics else None
    step = latest["step"] if latest else 0
    total_steps = job.get("total_steps")
    progress = js_round(step / total_steps * 100) if isinstance(total_steps, int) and total_steps > 0 else 0
    report: dict[str, Any] = {"job_id": job["id"], "status": job["status"], **_names(job)}
    report |= {
        "current_step": step,
        "current_epoch": latest["epoch"] if latest else 0,
        "total_steps": total_steps,
        "total_epochs": job.get("total_epochs"),
        "total_samples": job.get("total_samples"),
        "progress": progress,
    }
    if latest is not None:
        report |= {"loss": latest.get("train_loss"), "eval_loss": latest.get("eval_loss")}
    report |= {
        "best_eval_loss": job.get("best_eval_loss"),
        "best_epoch": job.get("best_epoch"),
        "best_step": job.get("best_step"),
        "best_checkpoint_path": job.get("best_checkpoint_path"),
        "loss_trend": job.get("loss_trend") or loss_trend(metrics),
        "epochs_without_improvement": job.get("epochs_without_improvement") or 0,
        "train_perplexity": perplexity(job.get("train_perplexity"), report.get("loss")),
        "eval_perplexity": perplexity(job.get("perplexity"), report.get("eval_loss")),
    }
    if latest is not None:
        report |= {name: latest.get(name) for name in LATEST_METRIC_FIELDS}
    report |= {"started_at": job.get("started_at"), "completed_at": job.get("completed_at")}
    report |= _timing(job, progress, now)
    if job["status"] == "failed":
        config = _config(job)
        report["error"] = config.get("error") or "Training failed"
    silent = now - instant(job.get("updated_at"))
    if job["status"] in ("running", "pending") and silent > stale_after_s:
        minutes = int(silent // 60)
        report["warning"] = (
            f"⚠️ No updates received in {minutes} minute(s). The training process may have terminated unexpectedly."
        )
    report |= {
        "resumed_from_job_id": job.get("resumed_from_job_id"),
        "resume_from_checkpoint": job.get("resume_from_checkpoint"),
    }
    return report


def get_job_status(ctx: Context) -> Response:
    """The job's live status, computed from the job row and its latest metric rows."""
    job_id = ctx.path_params["jobId"]
    store = ctx.state.store
    job = store.jobs.owned(job_id, ctx.principal.user_id)
    if job is None:
        return ctx.error(404, "Training job not found", details=f"No job {job_id!r} for this user")
    report = job_status(job, store.metrics.of_job(job_id), ctx.state.scaled(STALE_AFTER_MS), time.time())
    return ctx.json(report)


def update_job_status(ctx: Context) -> Response:
    """A worker sets its job's status; terminal statuses also stamp `completed_at`."""
    jobs = ctx.state.store.jobs
    job = jobs.get(ctx.path_params["jobId"])
    if job is None:
        return ctx.error(404, "Job not found")
    status = ctx.body["status"]
    changes: dict[str, Any] = {"status": status}
    if status == "failed" and isinstance(ctx.body.get("error"), str):
        config = dict(job["config"]) if isinstance(job.get("config"), Mapping) else {}
        changes["config"] = {**config, "error": ctx.body["error"]}
    if status in TERMINAL and not job.get("completed_at"):
        changes["completed_at"] = utc_now()
    jobs.update(job, changes)
    return ctx.json({"success": True, "status": status, "updated_at": job["updated_at"]})


HANDLERS: dict[str, Handler] = {
    "list_jobs": list_jobs,
    "list_local_jobs": list_local_jobs,
    "create_job": create_job,
    "get_job_status": get_job_status,
    "update_job_status": update_job_status,
}
