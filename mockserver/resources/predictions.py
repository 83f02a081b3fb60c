"""Training predictions: pages, epoch summaries and trends computed from the store, and uploads.

Every read checks that the job is the caller's (404 otherwise); an upload writes the job its token opens,
and only as that job's owner (the platform stores each item under whatever job and user it names, ref §2.5).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import groupby
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import mean
from mockserver.store import Store
from mockserver.store.table import Row
from mockserver.wire import dumps

NOT_FOUND = "Job not found"
JSON = "application/json"
TREND_METRICS = ("exact_match", "char_error_rate", "length_ratio", "word_overlap")


def _owned(ctx: Context) -> str | None:
    job_id = ctx.path_params["jobId"]
    return job_id if ctx.state.store.jobs.owned(job_id, ctx.principal.user_id) is not None else None


def get_predictions(ctx: Context) -> Response:
    """A page of the job's predictions; `total_count` and `epoch_count` ignore the epoch filter."""
    job_id = _owned(ctx)
    if job_id is None:
        return ctx.error(404, NOT_FOUND)
    predictions = ctx.state.store.predictions
    limit, offset, epoch = ctx.query["limit"], ctx.query["offset"], ctx.query.get("epoch")

    def render(rows: Sequence[Row]) -> bytes:
        page = predictions.page(job_id, limit, offset, epoch)
        body = {
            "job_id": job_id,
            "predictions": page,
            "total_count": len(rows),
            "epoch_count": predictions.epoch_count(job_id),
        }
        return dumps(body)

    # Dashboards poll the same page over and over: the encoded body is reused until the job changes.
    body = predictions.derived(job_id, ("page", limit, offset, epoch), render)
    return Response(body, status_code=ctx.op.success_status, media_type=JSON)


def by_epoch(rows: Sequence[Row]) -> Iterator[tuple[int, list[Row]]]:
    """The rows of each epoch, epochs ascending (rows are stored in epoch order)."""
    for epoch, group in groupby(rows, key=lambda row: row["epoch"]):
        yield epoch, list(group)


def epoch_summaries(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Per epoch: how many predictions and the largest step."""
    return [
        {"epoch": epoch, "prediction_count": len(group), "latest_step": max(row["step"] for row in group)}
        for epoch, group in by_epoch(rows)
    ]


def get_prediction_epochs(ctx: Context) -> Response:
    """The job's predictions grouped by epoch."""
    job_id = _owned(ctx)
    if job_id is None:
        return ctx.error(404, NOT_FOUND)
    epochs = ctx.state.store.predictions.derived(job_id, "epochs", epoch_summaries)
    return ctx.json({"job_id": job_id, "epochs": epochs})


def epoch_trend(epoch: int, group: Sequence[Row]) -> dict[str, Any]:
    """One epoch's aggregates over the non-null values of each metric (ref §2.3)."""
    present = {name: [row[name] for row in group if row.get(name) is not None] for name in TREND_METRICS}
    verdicts = [row["validation_pass"] for row in group if row.get("validation_pass") is not None]
    cer = present["char_error_rate"]
    return {
        "epoch": epoch,
        "step": max(row["step"] for row in group),
        "sample_count": len(group),
        **{f"avg_{name}": mean(present[name]) for name in TREND_METRICS},
        "min_char_error_rate": min(cer) if cer else None,
        "max_char_error_rate": max(cer) if cer else None,
        "validation_pass_rate": sum(1 for v in verdicts if v) / len(verdicts) if verdicts else None,
    }


def overall_improvement(trends: Sequence[Mapping[str, Any]]) -> float | None:
    """(firstCER − lastCER) / firstCER × 100 over the first and last epochs, when it is defined."""
    if len(trends) < 2:
        return None
    first, last = trends[0]["avg_char_error_rate"], trends[-1]["avg_char_error_rate"]
    if first is None or last is None or first <= 0:
        return None
    change = float((first - last) / first * 100)
    # Past a float's range (a tiny first CER) the improvement is no number: undefined, like a first CER of 0.
    return change if math.isfinite(change) else None


def trends_of(rows: Sequence[Row]) -> dict[str, Any]:
    """The trend series of a job's predictions and its overall improvement."""
    trends = [epoch_trend(epoch, group) for epoch, group in by_epoch(rows)]
    return {"trends": trends, "overall_improvement": overall_improvement(trends)}


def trends_body(store: Store, job_id: str) -> dict[str, Any]:
    """What `get_prediction_trends` answers for a job: its trend series and overall improvement."""
    return {"job_id": job_id, **store.predictions.derived(job_id, "trends", trends_of)}


def get_prediction_trends(ctx: Context) -> Response:
    """Per-epoch quality aggregates of the job's predictions."""
    job_id = _owned(ctx)
    if job_id is None:
        return ctx.error(404, NOT_FOUND)
    return ctx.json(trends_body(ctx.state.store, job_id))


def create_predictions(ctx: Context) -> Response:
    """Store the items under the job the token opened; each stored row reaches that job's streams.

    Every item must name that job and its owner: a job token writes its own job, never another user's.
    """
    job_id = ctx.body["job_id"]
    job = ctx.state.store.jobs.get(job_id)
    owner = job.get("user_id") if job is not None else None
    for index, item in enumerate(ctx.body["predictions"]):
        if item["job_id"] != job_id:
            message = f"predictions[{index}].job_id: must be the envelope's job_id {job_id!r} (got {item['job_id']!r})"
            return ctx.error(400, f"{message}; a job token writes its own job only")
        if item["user_id"] != owner:
            return ctx.error(400, f"predictions[{index}].user_id: must be {owner!r}, the owner of job {job_id!r}")
    stored = ctx.state.store.predictions.insert(ctx.body["predictions"])
    return ctx.json({"success": True, "count": len(stored)})


PROJECTIONS: dict[str, Callable[[Store, str], Any]] = {"get_prediction_trends": trends_body}
"""What an operation answers about one job, for a design that pushes it in the stream (`x-stream-contract.push`)."""

HANDLERS: dict[str, Handler] = {
    "get_predictions": get_predictions,
    "get_prediction_epochs": get_prediction_epochs,
    "get_prediction_trends": get_prediction_trends,
    "create_predictions": create_predictions,
}
