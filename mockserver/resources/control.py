"""Job control: pause, resume and cancel in place, restart as a new job, record parameter changes.

The state rules below are the contract's (the platform's training server enforces them): an action
from any other status is a 400 naming `current_status` and `allowed_statuses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import now_ms, request_keys
from mockserver.store.table import Row
from mockserver.wire import utc_now

# action -> (statuses it is allowed from, status it leads to)
TRANSITIONS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "pause": (("running", "pending"), "paused"),
    "resume": (("paused",), "queued"),
    "cancel": (("queued", "pending", "running", "paused"), "cancelled"),
}
RESTARTABLE = ("failed", "cancelled", "pending", "queued")
RESUME_ADJUSTMENTS = (
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "gradient_checkpointing",
)
NOT_FOUND = "Training job not found or access denied"


def _refusal(action: str, status: str) -> str:
    if action == "pause":
        return f"Can only pause running or pending jobs (current status: {status})"
    if action == "resume":
        return f"Can only resume paused jobs (current status: {status})"
    return f"Job already finished with status: {status}"


def control_job(ctx: Context) -> Response:
    """Pause, resume or cancel the caller's job when its status allows the action."""
    store = ctx.state.store
    job = store.jobs.owned(ctx.path_params["jobId"], ctx.principal.user_id)
    if job is None:
        return ctx.error(404, NOT_FOUND)
    action = ctx.body["action"]
    allowed, target = TRANSITIONS[action]
    status = job["status"]
    if status not in allowed:
        return ctx.error(
            400, _refusal(action, status), job_id=job["id"], current_status=status, allowed_statuses=list(allowed)
        )
    if action == "cancel":
        pod = store.deployments.of_job("runpod", job["id"])
        if pod is not None:
            store.deployments.put({**pod, "status": "stopped", "timeline_start": None})
            store.jobs.update(job, {"status": target, "completed_at": job.get("completed_at") or utc_now()})
            return ctx.json(
                {
                    "success": True,
                    "action": action,
                    "job_id": job["id"],
                    "message": "RunPod pod terminated successfully",
                }
            )
    result = _apply(ctx, job, action, target)
    if isinstance(result, Response):
        return result
    return ctx.json({"success": True, "action": action, "job_id": job["id"], "result": result})


def _apply(ctx: Context, job: Row, action: str, target: str) -> dict[str, Any] | Response:
    jobs = ctx.state.store.jobs
    previous = job["status"]
    now = utc_now()
    result: dict[str, Any] = {"success": True, "job_id": job["id"], "previous_status": previous}
    if action == "pause":
        jobs.update(job, {"status": target, "paused_at": now})
        return result | {"paused_at": now, "message": "Job paused successfully"}
    if action == "resume":
        checkpoint = ctx.body.get("checkpoint_path") or job.get("best_checkpoint_path")
        if not checkpoint:
            return ctx.error(
                400,
                "No checkpoints found - cannot resume",
                job_id=job["id"],
            )
        queued = sum(1 for row in jobs.rows.values() if row.get("status") == "queued")
        jobs.update(job, {"status": target, "resume_from_checkpoint": checkpoint, "paused_at": None})
        return result | {
            "checkpoint_path": checkpoint,
            "queue_position": queued + 1,
            "message": "Job resumed and queued",
        }
    jobs.update(job, {"status": target, "completed_at": job.get("completed_at") or now})
    return result | {"message": "Job cancelled successfully"}


def _resumed_config(job: Row, adjustments: Mapping[str, Any]) -> dict[str, Any] | None:
    config = dict(job["config"]) if isinstance(job.get("config"), Mapping) else {}
    chosen = {key: adjustments[key] for key in RESUME_ADJUSTMENTS if key in adjustments}
    if chosen:
        training = dict(config["training"]) if isinstance(config.get("training"), Mapping) else {}
        config["training"] = training | chosen
    return config or None


def resume_job(ctx: Context) -> Response:
    """Restart a failed, cancelled, pending or queued job from a checkpoint as a new job."""
    jobs = ctx.state.store.jobs
    job_id = ctx.path_params["jobId"]
    job = jobs.owned(job_id, ctx.principal.user_id)
    if job is None:
        return ctx.error(404, "Training job not found", details=f"No job {job_id!r} for this user")
    if job["status"] not in RESTARTABLE:
        return ctx.error(
            400,
            "Can only resume failed, cancelled, pending, or queued jobs",
            current_status=job["status"],
            allowed_statuses=list(RESTARTABLE),
        )
    body = ctx.body
    checkpoint = body.get("checkpoint_path") or (
        job.get("best_checkpoint_path") if body.get("resume_from_best") else None
    )
    if not checkpoint:
        return ctx.error(
            400,
            "No checkpoint specified and no best checkpoint found",
            suggestion="Pass checkpoint_path, or resume_from_best: true for a job that saved a best checkpoint",
        )
    stamp = now_ms()
    while jobs.get(f"{job_id}-resume-{stamp}") is not None:
        stamp += 1
    new_id = f"{job_id}-resume-{stamp}"
    copied = {key: job.get(key) for key in ("model_name", "dataset_path", "total_epochs", "total_samples")}
    jobs.create(
        new_id,
        job["user_id"],
        copied
        | {
            "status": "pending",
            "config": _resumed_config(job, body.get("config_adjustments") or {}),
            "resumed_from_job_id": job_id,
            "resume_from_checkpoint": checkpoint,
        },
    )
    return ctx.json(
        {
            "success": True,
            "job_id": new_id,
            "resumed_from": job_id,
            "checkpoint_path": checkpoint,
            "message": "Training resumed successfully",
        }
    )


def update_job_params(ctx: Context) -> Response:
    """Record (not apply) a parameter change of a running job."""
    jobs = ctx.state.store.jobs
    job = jobs.owned(ctx.path_params["jobId"], ctx.principal.user_id)
    if job is None:
        return ctx.error(404, "Training job not found")
    allowed = request_keys(ctx.op)
    updates = {key: ctx.body[key] for key in allowed if key in ctx.body}
    if not updates:
        return ctx.error(400, "No parameters specified", allowed_params=list(allowed))
    if job["status"] != "running":
        return ctx.error(400, "Can only update parameters for running jobs", current_status=job["status"])
    now = utc_now()
    entry = updates | {"requested_at": now, "requested_by": ctx.principal.user_id}
    history = list(job.get("parameter_updates") or [])
    jobs.update(job, {"parameter_updates": [*history, entry], "last_parameter_update_at": now})
    return ctx.json(
        {
            "success": True,
            "updates": entry,
            "applied_at": now,
            "message": "Parameter update recorded (backend support pending)",
        }
    )


HANDLERS: dict[str, Handler] = {
    "control_job": control_job,
    "resume_job": resume_job,
    "update_job_params": update_job_params,
}
