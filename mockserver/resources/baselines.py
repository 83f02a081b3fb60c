"""Metric regression baselines: list by model, create, update, delete (shared by every user).

Unknown ids: an update is a 404 (the contract's choice), a delete succeeds all the same.
"""

from __future__ import annotations

import uuid

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import request_default, request_keys
from mockserver.wire import utc_now


def list_baselines(ctx: Context) -> Response:
    """The model's baselines (of one version when given), newest first."""
    model, version = ctx.query["modelName"], ctx.query.get("version")
    rows = ctx.state.store.baselines.of_model(model, version)
    body = {"success": True, "modelName": model, **({"version": version} if version is not None else {})}
    return ctx.json(body | {"count": len(rows), "baselines": rows})


def create_baseline(ctx: Context) -> Response:
    """Store a new baseline with the platform's defaults."""
    body = ctx.body
    now = utc_now()
    row = {
        "id": str(uuid.uuid4()),
        "modelName": body["modelName"],
        "version": body.get("version"),
        "metricName": body["metricName"],
        "metricCategory": body.get("metricCategory", request_default(ctx.op, "/metricCategory")),
        "baselineValue": body["baselineValue"],
        "thresholdType": body["thresholdType"],
        "thresholdValue": body["thresholdValue"],
        "severity": body["severity"],
        "alertEnabled": body.get("alertEnabled", request_default(ctx.op, "/alertEnabled")),
        "description": body.get("description"),
        "createdBy": body.get("createdBy"),
        "createdAt": now,
        "updatedAt": now,
    }
    ctx.state.store.baselines.put(row)
    return ctx.json({"success": True, "message": "Baseline created successfully", "baseline": row})


def update_baseline(ctx: Context) -> Response:
    """Change the given fields of a baseline."""
    row = ctx.state.store.baselines.get(ctx.query["id"])
    if row is None:
        return ctx.error(404, "Baseline not found")
    row |= {key: ctx.body[key] for key in request_keys(ctx.op) if key in ctx.body}
    row["updatedAt"] = utc_now()
    return ctx.json({"success": True, "message": "Baseline updated successfully", "baseline": row})


def delete_baseline(ctx: Context) -> Response:
    """Delete a baseline; success even when no baseline has this id."""
    ctx.state.store.baselines.delete(ctx.query["id"])
    return ctx.json({"success": True, "message": "Baseline deleted successfully"})


HANDLERS: dict[str, Handler] = {
    "list_baselines": list_baselines,
    "create_baseline": create_baseline,
    "update_baseline": update_baseline,
    "delete_baseline": delete_baseline,
}
