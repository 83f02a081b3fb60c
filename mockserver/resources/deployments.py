"""Cloud training deployments (RunPod, HuggingFace Spaces, Colab, Kaggle, SageMaker) and deprecated Lambda.

A new deployment moves through its provider's statuses over time (scaled by `--time-scale`); the
status is computed from the elapsed time on every read, so no background task is needed.
"""

from __future__ import annotations

import math
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import const_headers, example_body, now_ms, request_default, round_to
from mockserver.store.table import Row
from mockserver.wire import instant, iso, utc_now
from spec import pointers

Timeline = tuple[tuple[str, int | None], ...]
# Each provider's statuses with how long (ms, before --time-scale) a new deployment stays in each.
TIMELINES: Mapping[str, Timeline] = {
    "runpod": (("creating", 5_000), ("starting", 10_000), ("running", 120_000), ("stopped", None)),
    "hf-spaces": (("building", 10_000), ("running", 5_000), ("training", 120_000), ("completed", None)),
    "google-colab": (("creating", 5_000), ("running", 5_000), ("training", 120_000), ("completed", None)),
    "kaggle": (("queued", 5_000), ("running", 120_000), ("completed", None)),
    "sagemaker": (("queued", 5_000), ("starting", 15_000), ("training", 120_000), ("completed", None)),
    "sagemaker-stop": (("stopping", 5_000), ("stopped", None)),
}
RUNPOD_USD_PER_HOUR = {
    "NVIDIA RTX A4000": 0.34,
    "NVIDIA RTX A5000": 0.44,
    "NVIDIA RTX A6000": 0.79,
    "NVIDIA A40": 0.69,
    "NVIDIA A100 40GB": 1.39,
    "NVIDIA A100 80GB": 1.99,
    "NVIDIA H100": 3.29,
}
RUNPOD_DEFAULT_GPU = "NVIDIA RTX A4000"
HF_USD_PER_HOUR = {
    "cpu-basic": 0.0,
    "t4-small": 0.4,
    "t4-medium": 0.6,
    "a10g-small": 1.05,
    "a10g-large": 3.15,
    "a100-large": 4.13,
}
HF_DEFAULT_TIER = "t4-small"
COLAB_UNITS_PER_HOUR = {"none": 0.1, "t4": 1.96, "v100": 5.0, "a100": 13.0}
COLAB_UNITS_LIMIT = 100
SECONDS_PER_STEP = 6.0
# The platform's defaults when the configuration leaves them out (ref §8.1).
DEFAULT_BATCH, DEFAULT_ACCUMULATION, DEFAULT_EPOCHS = 4, 8, 3
CONFIG_NOT_FOUND = "Training configuration not found"
DEPLOYMENT_NOT_FOUND = "Deployment not found"
ACTIVE_LOGS = ("Installing requirements", "Loading dataset", "Training started")


def status_of(ctx: Context, record: Row) -> str:
    """The deployment's status now: its stored one, or where its timeline has got to."""
    start = record.get("timeline_start")
    if not isinstance(start, int | float):
        return str(record["status"])
    elapsed = time.time() - start
    for status, span_ms in TIMELINES[record.get("timeline") or record["provider"]]:
        if span_ms is None:
            return status
        span = ctx.state.scaled(span_ms)
        if elapsed < span:
            return status
        elapsed -= span
    return str(record["status"])


def finished_at(ctx: Context, record: Row) -> str | None:
    """When a timed deployment reached its last status, if it has."""
    start = record.get("timeline_start")
    if not isinstance(start, int | float):
        return record.get("completed_at")
    timeline = TIMELINES[record.get("timeline") or record["provider"]]
    end = start + sum(ctx.state.scaled(ms) for _, ms in timeline if ms is not None)
    return iso(end) if time.time() >= end else None


def hours_used(record: Row) -> float:
    """Hours the deployment has run (capped at its estimate; a stopped one keeps its final time)."""
    if isinstance(record.get("final_hours"), int | float):
        return float(record["final_hours"])
    started = record.get("timeline_start") or instant(record.get("created_at"))
    used = max(0.0, time.time() - started) / 3600 if started else 0.0
    estimate = record.get("estimated_hours")
    return min(used, float(estimate)) if isinstance(estimate, int | float) else used


def actual_cost(record: Row) -> float:
    """The cost so far in USD."""
    return round_to(hours_used(record) * float(record.get("cost_per_hour") or 0))


def stop(ctx: Context, record: Row, status: str, timeline: str | None = None) -> Row:
    """Freeze a deployment's cost and set its status (or start its stop timeline)."""
    stopped = {**record, "final_hours": hours_used(record), "status": status, "timeline_start": None}
    if timeline is not None:
        stopped |= {"timeline": timeline, "timeline_start": time.time()}
    return ctx.state.store.deployments.put(stopped)


def begin(ctx: Context, provider: str, key: str, fields: Mapping[str, Any]) -> Row:
    """Store a new deployment of the caller at the start of its provider's timeline."""
    record = {
        "id": key,
        "provider": provider,
        "user_id": ctx.principal.user_id,
        "training_config_id": ctx.body["training_config_id"],
        "status": TIMELINES[provider][0][0],
        "created_at": utc_now(),
        "timeline_start": time.time(),
        **fields,
    }
    return ctx.state.store.deployments.put(record)


def _config(ctx: Context) -> Row | None:
    return ctx.state.store.configs.owned(ctx.body["training_config_id"], ctx.principal.user_id)


def _training(config: Row) -> Mapping[str, Any]:
    training = pointers.get(config, "/config_json/training", None)
    return training if isinstance(training, Mapping) else {}


def _positive(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value > 0 else default


def _username(ctx: Context) -> str:
    user = ctx.state.store.accounts.users.get(str(ctx.principal.user_id), {})
    local = str(user.get("email") or user.get("name") or "user").split("@")[0]
    return re.sub(r"[^a-z0-9-]+", "-", local.lower()).strip("-") or "user"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "training"


def _unique(ctx: Context, key: str) -> str:
    found, n = key, 1
    while ctx.state.store.deployments.get(found) is not None:
        n += 1
        found = f"{key}-{n}"
    return found


def cost(record: Row, actual: bool = False) -> dict[str, Any]:
    """The cost object of a deployment."""
    per_hour = float(record.get("cost_per_hour") or 0)
    hours = float(record.get("estimated_hours") or 0)
    body: dict[str, Any] = {"estimated_cost": round_to(per_hour * hours), "cost_per_hour": per_hour}
    if actual:
        body["actual_cost"] = actual_cost(record)
    body |= {"estimated_hours": hours, "budget_limit": record.get("budget_limit"), "currency": "USD"}
    return body


# --- RunPod ------------------------------------------------------------------------------------


def create_runpod_deployment(ctx: Context) -> Response:
    """Create the training job (pending, with a job token) and its pod."""
    config = _config(ctx)
    if config is None:
        return ctx.error(404, CONFIG_NOT_FOUND)
    store = ctx.state.store
    datasets = store.datasets.of_config(config["id"])
    if not datasets:
        return ctx.error(400, "Please attach a dataset to this training configuration before deploying")
    training = _training(config)
    samples = sum(int(d.get("total_examples") or 0) for d in datasets)
    per_step = _positive(training.get("batch_size"), DEFAULT_BATCH) * _positive(
        training.get("gradient_accumulation_steps"), DEFAULT_ACCUMULATION
    )
    epochs = _positive(training.get("num_epochs"), DEFAULT_EPOCHS)
    total_steps = math.ceil(samples / per_step) * epochs
    job_id = str(uuid.uuid4())
    store.jobs.create(
        job_id,
        str(ctx.principal.user_id),
        {
            "model_name": pointers.get(config, "/config_json/model/name", None),
            "status": "pending",
            "config": {**config["config_json"], "job_id": job_id},
            "total_epochs": epochs,
            "total_steps": total_steps,
            "total_samples": samples,
        },
    )
    gpu_type = ctx.body.get("gpu_type") or RUNPOD_DEFAULT_GPU
    record = begin(
        ctx,
        "runpod",
        job_id,
        {
            "job_id": job_id,
            "gpu_type": gpu_type,
            "gpu_count": ctx.body.get("gpu_count") or 1,
            "cost_per_hour": RUNPOD_USD_PER_HOUR.get(gpu_type, RUNPOD_USD_PER_HOUR[RUNPOD_DEFAULT_GPU]),
            "estimated_hours": max(0.1, round_to(total_steps * SECONDS_PER_STEP / 3600)),
            "budget_limit": ctx.body.get("budget_limit"),
            "pod_url": f"https://{job_id}-8888.proxy.runpod.net",
        },
    )
    return ctx.json(
        {
            "job_id": job_id,
            "deployment_id": job_id,
            "pod_id": job_id,
            "pod_url": record["pod_url"],
            "status": status_of(ctx, record),
            "gpu_type": gpu_type,
            "gpu_count": record["gpu_count"],
            "cost": cost(record),
            "message": "RunPod deployment created successfully",
        }
    )


def _runpod(ctx: Context) -> Row | None:
    # The contract's owner check; the platform asks RunPod for any pod id and checks no owner (ref §8.1).
    return _owned_of(ctx, "runpod", ctx.query["deployment_id"])


def get_runpod_deployment(ctx: Context) -> Response:
    """The pod's status, cost so far and (while it runs) its metrics."""
    record = _runpod(ctx)
    if record is None:
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    status = status_of(ctx, record)
    body: dict[str, Any] = {
        "deployment_id": record["id"],
        "status": status,
        "pod_url": record.get("pod_url") or "",
        "cost": {
            "actual_cost": actual_cost(record),
            "cost_per_hour": float(record.get("cost_per_hour") or 0),
            "currency": "USD",
            "estimated_cost": 0,
        },
    }
    if status == "running":
        uptime = int(hours_used(record) * 3600)
        body["metrics"] = {"gpu_utilization_percent": 97, "memory_utilization_percent": 71, "uptime_seconds": uptime}
    return ctx.json(body)


def delete_runpod_deployment(ctx: Context) -> Response:
    """Terminate the pod."""
    record = _runpod(ctx)
    if record is None:
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    stop(ctx, record, "stopped")
    return ctx.json(
        {"deployment_id": record["id"], "status": "stopped", "message": "RunPod deployment stopped successfully"}
    )


# --- HuggingFace Spaces ------------------------------------------------------------------------


def create_hf_spaces_deployment(ctx: Context) -> Response:
    """Create the Space that runs the training."""
    config = _config(ctx)
    if config is None:
        return ctx.error(404, CONFIG_NOT_FOUND)
    body = ctx.body
    space = body.get("space_name") or f"ftl-{_slug(config['name'])}"
    key = _unique(ctx, f"{_username(ctx)}/{_slug(space)}")
    tier = body.get("gpu_tier") or HF_DEFAULT_TIER
    record = begin(
        ctx,
        "hf-spaces",
        key,
        {
            "gpu_tier": tier,
            "cost_per_hour": HF_USD_PER_HOUR[tier],
            "estimated_hours": float(_positive(_training(config).get("num_epochs"), DEFAULT_EPOCHS)),
            "budget_limit": body.get("budget_limit"),
            "alert_threshold": body.get("alert_threshold", 0.8),
            "auto_stop_on_budget": bool(body.get("auto_stop_on_budget", False)),
            "visibility": body.get("visibility") or "private",
            "space_url": f"https://huggingface.co/spaces/{key}",
        },
    )
    return ctx.json(
        {
            "deployment_id": key,
            "space_url": record["space_url"],
            "status": status_of(ctx, record),
            "gpu_tier": tier,
            "cost": cost(record),
            "message": "HuggingFace Space deployment created successfully",
        }
    )


def budget_status(record: Row) -> dict[str, Any]:
    """How much of the budget the Space has used."""
    budget = record.get("budget_limit")
    spent = actual_cost(record)
    if not isinstance(budget, int | float) or budget <= 0:
        return {"isOverBudget": False, "isNearBudget": False, "percentUsed": 0}
    threshold = record.get("alert_threshold")
    near = float(threshold) if isinstance(threshold, int | float) else 0.8
    return {
        "isOverBudget": spent >= budget,
        "isNearBudget": spent >= budget * near,
        "percentUsed": round_to(spent / budget * 100),
    }


def get_hf_spaces_deployment(ctx: Context) -> Response:
    """The Space's status, cost and budget; a Space over budget with auto-stop is stopped."""
    record = ctx.state.store.deployments.owned(ctx.query["deployment_id"], ctx.principal.user_id)
    if record is None or record.get("provider") != "hf-spaces":
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    budget = budget_status(record)
    body: dict[str, Any] = {
        "deployment_id": record["id"],
        "status": status_of(ctx, record),
        "space_url": record.get("space_url") or "",
        "cost": cost(record, actual=True),
        "budget_status": budget,
    }
    if budget["isOverBudget"] and record.get("auto_stop_on_budget") and body["status"] != "stopped":
        stop(ctx, record, "stopped")
        return ctx.json(body | {"status": "stopped", "message": "Deployment auto-stopped due to budget limit"})
    body["metrics"] = {"stage": body["status"].upper(), "hardware": record.get("gpu_tier")}
    return ctx.json(body)


def delete_hf_spaces_deployment(ctx: Context) -> Response:
    """Delete the Space; the platform does not check that it exists."""
    key = ctx.query["deployment_id"]
    record = ctx.state.store.deployments.owned(key, ctx.principal.user_id)
    final = 0.0
    if record is not None and record.get("provider") == "hf-spaces":
        final = actual_cost(stop(ctx, record, "stopped"))
    return ctx.json(
        {
            "deployment_id": key,
            "status": "stopped",
            "final_cost": final,
            "message": "HuggingFace Space deployment stopped successfully",
        }
    )


# --- Google Colab ------------------------------------------------------------------------------


def create_google_colab_deployment(ctx: Context) -> Response:
    """Create the notebook that runs the training."""
    config = _config(ctx)
    if config is None:
        return ctx.error(404, CONFIG_NOT_FOUND)
    body = ctx.body
    key = _unique(ctx, f"colab-{now_ms()}-{secrets.token_hex(3)}")
    notebook_id = secrets.token_urlsafe(24)
    tier = body.get("gpu_tier") or request_default(ctx.op, "/gpu_tier")
    runtime = body.get("runtime_type") or request_default(ctx.op, "/runtime_type")
    record = begin(
        ctx,
        "google-colab",
        key,
        {
            "notebook_id": notebook_id,
            "notebook_url": f"https://colab.research.google.com/drive/{notebook_id}",
            "notebook_name": body["notebook_name"],
            "gpu_tier": tier,
            "runtime_type": runtime,
            "compute_units_limit": COLAB_UNITS_LIMIT,
            "budget_limit": body.get("budget_limit"),
            "record_id": str(uuid.uuid4()),
        },
    )
    return ctx.json(
        {
            "deployment_id": key,
            "notebook_id": notebook_id,
            "notebook_url": record["notebook_url"],
            "status": status_of(ctx, record),
            "gpu_tier": tier,
            "runtime_type": runtime,
            "created_at": record["created_at"],
            "record_id": record["record_id"],
            "message": "Google Colab notebook created successfully",
        }
    )


def _owned_of(ctx: Context, provider: str, key: str) -> Row | None:
    record = ctx.state.store.deployments.owned(key, ctx.principal.user_id)
    return record if record is not None and record.get("provider") == provider else None


def _progress_fields(ctx: Context, record: Row, status: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"logs": list(ACTIVE_LOGS[: 1 + ("running", "training", "completed").index(status)])}
    fields["started_at"] = record["created_at"]
    done = finished_at(ctx, record)
    if status == "completed" and done is not None:
        fields["completed_at"] = done
    return fields


def get_google_colab_deployment(ctx: Context) -> Response:
    """The notebook's status and compute units used."""
    record = _owned_of(ctx, "google-colab", ctx.query["deployment_id"])
    if record is None:
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    status = status_of(ctx, record)
    body: dict[str, Any] = {
        "deployment_id": record["id"],
        "notebook_id": record.get("notebook_id") or record["id"],
        "status": status,
        "notebook_url": record.get("notebook_url") or "",
    }
    if status in ("running", "training", "completed"):
        rate = COLAB_UNITS_PER_HOUR.get(str(record.get("gpu_tier")), 0.0)
        body |= _progress_fields(ctx, record, status)
        body["compute_units_used"] = round_to(hours_used(record) * rate)
        body["compute_units_limit"] = record.get("compute_units_limit") or COLAB_UNITS_LIMIT
    return ctx.json(body)


def delete_google_colab_deployment(ctx: Context) -> Response:
    """Stop and delete the notebook."""
    record = _owned_of(ctx, "google-colab", ctx.query["deployment_id"])
    if record is None:
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    stop(ctx, record, "stopped")
    return ctx.json({"success": True, "message": "Notebook stopped and deleted successfully"})


# --- Kaggle ------------------------------------------------------------------------------------


def create_kaggle_deployment(ctx: Context) -> Response:
    """Push the notebook that runs the training; pushing the same slug again makes a new version."""
    config = _config(ctx)
    if config is None:
        return ctx.error(404, CONFIG_NOT_FOUND)
    body = ctx.body
    slug = _slug(body.get("notebook_slug") or body["notebook_title"])
    key = f"{_username(ctx)}/{slug}"
    previous = ctx.state.store.deployments.of_provider("kaggle", key)
    version = int(previous.get("version") or 1) + 1 if previous is not None else 1
    record = begin(
        ctx,
        "kaggle",
        key,
        {
            "notebook_slug": slug,
            "notebook_title": body["notebook_title"],
            "notebook_url": f"https://www.kaggle.com/code/{key}",
            "version": version,
            "record_id": str(uuid.uuid4()),
        },
    )
    return ctx.json(
        {
            "deployment_id": key,
            "notebook_url": record["notebook_url"],
            "notebook_slug": slug,
            "status": status_of(ctx, record),
            "kernel_slug": key,
            "version": version,
            "created_at": record["created_at"],
            "record_id": record["record_id"],
            "message": "Kaggle notebook created successfully",
        }
    )


def get_kaggle_deployment(ctx: Context) -> Response:
    """The caller's notebook run's status (the contract's owner check; the platform asks Kaggle and checks none)."""
    record = _owned_of(ctx, "kaggle", ctx.query["deployment_id"])
    if record is None:
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    status = status_of(ctx, record)
    body: dict[str, Any] = {
        "deployment_id": record["id"],
        "status": status,
        "notebook_url": record.get("notebook_url") or "",
    }
    if status in ("running", "completed"):
        body |= _progress_fields(ctx, record, "training" if status == "running" else status)
    if status == "completed":
        body["output_files"] = ["adapter_model.safetensors", "adapter_config.json", "training_log.txt"]
    return ctx.json(body)


def delete_kaggle_deployment(ctx: Context) -> Response:
    """Mark the caller's notebook run cancelled (success even when there is none)."""
    record = _owned_of(ctx, "kaggle", ctx.query["deployment_id"])
    if record is not None:
        stop(ctx, record, "cancelled")
    return ctx.json({"success": True, "message": "Notebook cancelled successfully"})


# --- SageMaker ---------------------------------------------------------------------------------


def create_sagemaker_deployment(ctx: Context) -> Response:
    """Submit the SageMaker training job."""
    config = _config(ctx)
    if config is None:
        return ctx.error(404, CONFIG_NOT_FOUND)
    job_name = _unique(ctx, f"ftl-{_slug(config['name'])[:40]}-{now_ms()}")
    instance = ctx.body["instance_type"]
    record = begin(ctx, "sagemaker", job_name, {"instance_type": instance})
    return ctx.json(
        {
            "job_name": job_name,
            "status": status_of(ctx, record),
            "instance_type": instance,
            "message": "SageMaker training job created successfully",
        }
    )


def get_sagemaker_deployment(ctx: Context) -> Response:
    """The training job's status."""
    record = _owned_of(ctx, "sagemaker", ctx.query["job_name"])
    if record is None:
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    status = status_of(ctx, record)
    body: dict[str, Any] = {"job_name": record["id"], "status": status, "instance_type": record.get("instance_type")}
    if status not in ("queued",):
        body["started_at"] = record["created_at"]
    done = finished_at(ctx, record)
    if status in ("completed", "stopped") and done is not None:
        body["completed_at"] = done
    return ctx.json({key: value for key, value in body.items() if value is not None})


def delete_sagemaker_deployment(ctx: Context) -> Response:
    """Ask SageMaker to stop the job: it is `stopping`, then `stopped`."""
    record = _owned_of(ctx, "sagemaker", ctx.query["job_name"])
    if record is None:
        return ctx.error(404, DEPLOYMENT_NOT_FOUND)
    if status_of(ctx, record) not in ("stopping", "stopped", "completed", "failed"):
        record = stop(ctx, record, "stopped", timeline="sagemaker-stop")
    return ctx.json(
        {"job_name": record["id"], "status": status_of(ctx, record), "message": "SageMaker training job stop requested"}
    )


# --- Lambda Labs (deprecated) ------------------------------------------------------------------


def lambda_gone(ctx: Context) -> Response:
    """410 Gone with the migration text and the deprecation headers, whatever the request."""
    return ctx.json(example_body(ctx.op), headers=const_headers(ctx.op))


HANDLERS: dict[str, Handler] = {
    "create_runpod_deployment": create_runpod_deployment,
    "get_runpod_deployment": get_runpod_deployment,
    "delete_runpod_deployment": delete_runpod_deployment,
    "create_hf_spaces_deployment": create_hf_spaces_deployment,
    "get_hf_spaces_deployment": get_hf_spaces_deployment,
    "delete_hf_spaces_deployment": delete_hf_spaces_deployment,
    "create_google_colab_deployment": create_google_colab_deployment,
    "get_google_colab_deployment": get_google_colab_deployment,
    "delete_google_colab_deployment": delete_google_colab_deployment,
    "create_kaggle_deployment": create_kaggle_deployment,
    "get_kaggle_deployment": get_kaggle_deployment,
    "delete_kaggle_deployment": delete_kaggle_deployment,
    "create_sagemaker_deployment": create_sagemaker_deployment,
    "get_sagemaker_deployment": get_sagemaker_deployment,
    "delete_sagemaker_deployment": delete_sagemaker_deployment,
    "create_lambda_deployment": lambda_gone,
    "get_lambda_deployment": lambda_gone,
    "delete_lambda_deployment": lambda_gone,
}
