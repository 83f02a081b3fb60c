"""Metrics, logs and errors of a job: the owner's reads and the worker's job-token writes.

Every metric a worker stores also updates the job's summary and starts a pending or queued job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import page, response_keys
from mockserver.store.table import Row
from mockserver.wire import utc_now

NOT_FOUND = "Job not found or unauthorized"
NO_LOGS = "No logs available yet"
# Measurements a metric point copies onto its job's summary columns (job column: metric column).
SUMMARY_FIELDS = {
    "loss": "train_loss",
    "eval_loss": "eval_loss",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "samples_per_second": "samples_per_second",
    "perplexity": "perplexity",
    "train_perplexity": "train_perplexity",
    "gpu_memory_allocated_gb": "gpu_memory_allocated_gb",
    "gpu_memory_reserved_gb": "gpu_memory_reserved_gb",
    "gpu_utilization_percent": "gpu_utilization_percent",
}


def _owned(ctx: Context) -> Row | None:
    return ctx.state.store.jobs.owned(ctx.path_params["jobId"], ctx.principal.user_id)


def get_metrics(ctx: Context) -> Response:
    """Every metric row of the job, by step."""
    job = _owned(ctx)
    if job is None:
        return ctx.error(404, NOT_FOUND)
    return ctx.json({"job_id": job["id"], "metrics": list(ctx.state.store.metrics.of_job(job["id"]))})


def summarize(job: Row, point: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The job columns a stored metric point changes (ref §5.4)."""
    changes: dict[str, Any] = {"current_step": point["step"], "current_epoch": point["epoch"]}
    changes |= {column: point[name] for column, name in SUMMARY_FIELDS.items() if point.get(name) is not None}
    total_steps = job.get("total_steps")
    if isinstance(total_steps, int) and total_steps > 0:
        changes["progress"] = round(min(100.0, point["step"] / total_steps * 100), 2)
    eval_loss = point.get("eval_loss")
    if isinstance(eval_loss, int | float) and (job.get("best_eval_loss") is None or eval_loss < job["best_eval_loss"]):
        changes |= {"best_eval_loss": eval_loss, "best_epoch": point["epoch"], "best_step": point["step"]}
    changes |= {key: value for key, value in (extra or {}).items() if value is not None}
    if job.get("status") in ("pending", "queued"):
        changes["status"] = "running"
    if not job.get("started_at"):
        changes["started_at"] = utc_now()
    return changes


def _store_points(ctx: Context, job: Row, points: list[Mapping[str, Any]], extra: Mapping[str, Any] | None) -> None:
    store = ctx.state.store
    rows = [store.metrics.insert(job["id"], point) for point in points]
    latest = max(rows, key=lambda row: row["step"])
    if latest["step"] >= (job.get("current_step") or 0):
        store.jobs.update(job, summarize(job, latest, extra))
    else:
        store.jobs.update(job, {})


def _worker_job(ctx: Context, job_id: str) -> Row | None:
    return ctx.state.store.jobs.get(job_id)


def record_metric(ctx: Context) -> Response:
    """Store one metric point of the job (PUT, job token)."""
    job = _worker_job(ctx, ctx.path_params["jobId"])
    if job is None:
        return ctx.error(404, "Job not found")
    _store_points(ctx, job, [ctx.body], None)
    return ctx.json({"success": True})


def create_job_metric(ctx: Context) -> Response:
    """Store one metric update of a training script: `loss` is `train_loss`, epochs are truncated."""
    job = _worker_job(ctx, ctx.path_params["jobId"])
    if job is None:
        return ctx.error(404, "Job not found")
    body = ctx.body
    point = dict(body)
    if body.get("loss") is not None:
        point["train_loss"] = body["loss"]
    point["epoch"] = int(body["epoch"]) if body.get("epoch") is not None else job.get("current_epoch") or 0
    if point.get("train_perplexity") is None:
        point["train_perplexity"] = _exp(point.get("train_loss"))
    if point.get("perplexity") is None:
        point["perplexity"] = _exp(point.get("eval_loss"))
    extra = {key: body.get(key) for key in ("progress", "elapsed_seconds", "remaining_seconds")}
    _store_points(ctx, job, [point], extra)
    return ctx.json({"success": True})


def _exp(loss: Any) -> float | None:
    return math.exp(loss) if isinstance(loss, int | float) and loss < 700 else None


def create_metrics_batch(ctx: Context) -> Response:
    """Store a batch of metric points of the job named in the body."""
    job = _worker_job(ctx, ctx.body["job_id"])
    if job is None:
        return ctx.error(404, "Job not found")
    points = list(ctx.body["metrics"])
    _store_points(ctx, job, points, None)
    return ctx.json({"success": True, "count": len(points)})


def list_local_metrics(ctx: Context) -> Response:
    """A page of the job's metric points, without their `id` and `job_id`."""
    job_id = ctx.query["job_id"]
    if ctx.state.store.jobs.owned(job_id, ctx.principal.user_id) is None:
        return ctx.error(404, "Training job not found")
    rows = ctx.state.store.metrics.of_job(job_id)
    limit, offset = ctx.query["limit"], ctx.query["offset"]
    hidden = ("id", "job_id")
    keys = [key for key in response_keys(ctx.op, "/metrics/*") if key not in hidden]
    metrics = [{key: row[key] for key in keys if key in row} for row in page(rows, limit, offset)]
    return ctx.json({"job_id": job_id, "metrics": metrics, "total": len(rows), "limit": limit, "offset": offset})


def get_logs(ctx: Context) -> Response:
    """A page of the job's stored log lines, or the training server's "no logs yet" answer."""
    job = _owned(ctx)
    if job is None:
        return ctx.error(404, NOT_FOUND)
    lines = ctx.state.store.metrics.logs(job["id"])
    if not lines:
        return ctx.json({"job_id": job["id"], "logs": [], "total_lines": 0, "message": NO_LOGS})
    limit, offset = ctx.query["limit"], ctx.query["offset"]
    return ctx.json({"logs": page(lines, limit, offset), "total_lines": len(lines), "offset": offset, "limit": limit})


def append_logs(ctx: Context) -> Response:
    """Append a worker's log lines to the job (the last 10 000 are kept)."""
    job = _worker_job(ctx, ctx.path_params["jobId"])
    if job is None:
        return ctx.error(404, "Job not found")
    lines = ctx.body["logs"]
    if not lines:
        return ctx.json({"success": True, "message": "No logs to append"})
    total = ctx.state.store.metrics.append_logs(job["id"], lines)
    ctx.state.store.jobs.update(job, {})
    return ctx.json({"success": True, "logs_appended": len(lines), "total_logs": total})


def get_errors(ctx: Context) -> Response:
    """The training server's error report of the job (an empty report when it has none)."""
    job = _owned(ctx)
    if job is None:
        return ctx.error(404, NOT_FOUND)
    report = ctx.state.store.metrics.errors(job["id"]) or {}
    return ctx.json(
        {
            "job_id": job["id"],
            "error_summary": report.get("error_summary"),
            "errors": report.get("errors", []),
            "traceback": report.get("traceback"),
            "error_count": report.get("error_count", 0),
            "unique_error_count": report.get("unique_error_count", 0),
        }
    )


HANDLERS: dict[str, Handler] = {
    "get_metrics": get_metrics,
    "record_metric": record_metric,
    "create_job_metric": create_job_metric,
    "create_metrics_batch": create_metrics_batch,
    "list_local_metrics": list_local_metrics,
    "get_logs": get_logs,
    "append_logs": append_logs,
    "get_errors": get_errors,
}
