"""Analytics: trace spans (list, upsert) and usage analytics aggregated from the caller's spans.

Analytics answers are cached per user and query for 300 s (scaled) unless `noCache=true`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import mean, page, request_keys, round_to
from mockserver.store.table import Row
from mockserver.wire import instant, iso, utc_now

FILTERS = ("conversation_id", "message_id", "operation_type", "status")
MAX_RANGE_DAYS = 90
CACHE_TTL_MS = 300_000
USD_PER_TOKEN = 0.00003
FAILED = ("failed", "error")


def _hierarchy(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Spans nested under their parent (`parent_trace_id` names the parent's `span_id`)."""
    nodes = {row["span_id"]: {**row, "children": []} for row in rows}
    roots: list[dict[str, Any]] = []
    for node in sorted(nodes.values(), key=lambda n: instant(n.get("start_time"))):
        parent = nodes.get(node.get("parent_trace_id") or "")
        (parent["children"] if parent is not None and parent is not node else roots).append(node)
    return roots


def list_traces(ctx: Context) -> Response:
    """The caller's spans, newest first, filtered; a hierarchy when `trace_id` is given."""
    q = ctx.query
    rows = ctx.state.store.traces.of_user_newest(ctx.principal.user_id)
    if q.get("trace_id") is not None:
        rows = [row for row in rows if row.get("trace_id") == q["trace_id"]]
    for name in FILTERS:
        if q.get(name) is not None:
            rows = [row for row in rows if row.get(name) == q[name]]
    selected = page(rows, q["limit"], q["offset"])
    data: list[Any] = _hierarchy(selected) if q.get("trace_id") is not None else selected
    return ctx.json(
        {
            "success": True,
            "data": data,
            "pagination": {"limit": q["limit"], "offset": q["offset"], "total": len(selected)},
        }
    )


def create_trace(ctx: Context) -> Response:
    """Upsert a span on `span_id`; `start_time` defaults to now, `status` to pending."""
    body = ctx.body
    traces = ctx.state.store.traces
    existing = traces.by_span(body["span_id"])
    now = utc_now()
    row: Row = {name: None for name in traces.columns}
    row |= {key: body[key] for key in request_keys(ctx.op) if key in body}
    row |= {
        "id": existing["id"] if existing is not None else str(uuid.uuid4()),
        "user_id": ctx.principal.user_id,
        "start_time": body.get("start_time") or now,
        "status": body.get("status") or "pending",
        "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
        "created_at": existing["created_at"] if existing is not None else now,
    }
    traces.put(row)
    return ctx.json({"success": True, "data": row})


def _known_groups(ctx: Context) -> list[str]:
    media = ctx.op.success.media()
    raw = media.schema.raw if media is not None and media.schema is not None else {}
    items = raw.get("properties", {}).get("metadata", {}).get("properties", {}).get("metrics", {}).get("items", {})
    return [str(name) for name in items.get("enum", [])]


def _trend(points: Sequence[float]) -> dict[str, Any]:
    change = (points[-1] - points[0]) / points[0] * 100 if len(points) >= 2 and points[0] != 0 else None
    # No percentage from one point, from a first point of 0, or past a float's range (a tiny first point).
    if change is None or not math.isfinite(change):
        return {"direction": "stable", "changePercent": 0, "dataPoints": len(points), "confidence": "low"}
    direction = "up" if change > 5 else "down" if change < -5 else "stable"
    confidence = "high" if len(points) >= 10 else "medium" if len(points) >= 5 else "low"
    return {
        "direction": direction,
        "changePercent": round_to(change),
        "dataPoints": len(points),
        "confidence": confidence,
    }


def aggregate(spans: Sequence[Row], groups: Sequence[str]) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Data points per metric group and the totals, averages and trends over them."""
    spans = sorted(spans, key=lambda s: instant(s.get("start_time")))
    tokens = [s for s in spans if s.get("input_tokens") is not None or s.get("output_tokens") is not None]
    timed = [s for s in spans if isinstance(s.get("duration_ms"), int | float)]
    failed = [s for s in spans if s.get("status") in FAILED]
    conversations = sorted({str(s["conversation_id"]) for s in spans if s.get("conversation_id")})
    usage = [
        {
            "timestamp": s["start_time"],
            "messageId": s.get("message_id") or s["span_id"],
            "conversationId": s.get("conversation_id"),
            "modelId": s.get("model_name"),
            "inputTokens": s.get("input_tokens") or 0,
            "outputTokens": s.get("output_tokens") or 0,
            "estimatedCost": round(
                (int(s.get("input_tokens") or 0) + int(s.get("output_tokens") or 0)) * USD_PER_TOKEN, 6
            ),
        }
        for s in tokens
    ]
    metrics: dict[str, list[Any]] = {
        "tokenUsage": usage if "tokens" in groups else [],
        "quality": [],
        "tools": [],
        "conversations": [{"conversationId": c} for c in conversations] if "conversations" in groups else [],
        "errors": [
            {"timestamp": s["start_time"], "messageId": s["span_id"], "errorMessage": s.get("error_message")}
            for s in failed
        ]
        if "errors" in groups
        else [],
        "latency": [
            {
                "timestamp": s["start_time"],
                "messageId": s.get("message_id") or s["span_id"],
                "latencyMs": s["duration_ms"],
            }
            for s in timed
        ]
        if "latency" in groups
        else [],
    }
    total_tokens = sum(u["inputTokens"] + u["outputTokens"] for u in usage)
    total_cost = round(sum(u["estimatedCost"] for u in usage), 6)
    messages = len(usage)
    latencies = [float(s["duration_ms"]) for s in timed]
    aggregations = {
        "totals": {
            "messages": messages,
            "conversations": len(conversations),
            "tokens": total_tokens,
            "cost": total_cost,
            "evaluations": 0,
            "errors": len(failed),
        },
        "averages": {
            "tokensPerMessage": round_to(total_tokens / messages) if messages else 0,
            "costPerMessage": round(total_cost / messages, 6) if messages else 0,
            "rating": 0,
            "successRate": round_to(1 - len(failed) / len(spans)) if spans else 0,
            "errorRate": round_to(len(failed) / len(spans)) if spans else 0,
            "latencyMs": round_to(mean(latencies) or 0),
        },
        "trends": {
            "tokenUsage": _trend([u["inputTokens"] + u["outputTokens"] for u in usage]),
            "quality": _trend([]),
            "latency": _trend(latencies),
            "errorRate": _trend([1.0 if s in failed else 0.0 for s in spans] if failed else []),
        },
    }
    return metrics, aggregations


def get_analytics_data(ctx: Context) -> Response:
    """Usage analytics of the caller's spans in a date range of at most 90 days."""
    q = ctx.query
    start, end = instant(q["startDate"]), instant(q["endDate"])
    if start >= end:
        return ctx.error(400, "startDate must be before endDate")
    if end - start > MAX_RANGE_DAYS * 86_400:
        return ctx.error(400, f"Date range exceeds maximum of {MAX_RANGE_DAYS} days")
    known = _known_groups(ctx)
    asked = known if q["metrics"].strip() == "all" else [name.strip() for name in q["metrics"].split(",")]
    groups = [name for name in known if name in asked]
    if not groups:
        return ctx.error(400, "At least one metric must be specified")
    user = ctx.principal.user_id
    key = (user, q["startDate"], q["endDate"], q["granularity"], ",".join(groups))
    cache = ctx.state.store.traces.analytics_cache
    cached = cache.get(key)
    headers = {"Cache-Control": "private, max-age=300"}
    if cached is not None and not q.get("noCache") and time.time() - cached[0] < ctx.state.scaled(CACHE_TTL_MS):
        body = {**cached[1], "metadata": {**cached[1]["metadata"], "fromCache": True}}
        return ctx.json(body, headers=headers | {"X-Cache": "HIT"})
    spans = [s for s in ctx.state.store.traces.of_user(user) if start <= instant(s.get("start_time")) <= end]
    metrics, aggregations = aggregate(spans, groups)
    now = utc_now()
    time_range = {"start": iso(start), "end": iso(end), "period": q["granularity"]}
    body = {
        "success": True,
        "data": {
            "userId": user,
            "timeRange": time_range,
            "metrics": metrics,
            "aggregations": aggregations,
            "generatedAt": now,
        },
        "metadata": {
            "userId": user,
            "dateRange": time_range,
            "metrics": groups,
            "granularity": q["granularity"],
            "generatedAt": now,
            "fromCache": False,
        },
    }
    cache[key] = (time.time(), body)
    return ctx.json(body, headers=headers | {"X-Cache": "MISS"})


HANDLERS: dict[str, Handler] = {
    "list_traces": list_traces,
    "create_trace": create_trace,
    "get_analytics_data": get_analytics_data,
}
