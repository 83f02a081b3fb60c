"""Batch test runs: start, poll and cancel; a run's prompts complete over (scaled) time.

Prompts run in waves of `concurrency`, one wave every `delay_ms`; progress is computed on read.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import request_default, round_to
from mockserver.store.table import Row
from mockserver.wire import iso, utc_now
from spec.pointers import join

MIN_WAVE_MS = 200
RESPONSE_CHARS = 500
CANCELLABLE = ("running", "pending")
RUN_NOT_FOUND = "Test run not found"


def _prompts(ctx: Context, config: Mapping[str, Any]) -> list[str] | Response:
    store = ctx.state.store
    user = ctx.principal.user_id
    if config.get("test_suite_id"):
        suite = store.test_suites.owned(config["test_suite_id"], user)
        if suite is None:
            return ctx.error(404, "Test suite not found or access denied")
        return [str(p) for p in suite.get("prompts") or []]
    if config.get("dataset_id"):
        if store.datasets.owned(config["dataset_id"], user) is None:
            return ctx.error(400, "Failed to extract prompts: dataset not found or access denied")
        return list(store.datasets.lines(config["dataset_id"]))
    return [f"{config['source_path']} prompt {i + 1}" for i in range(_setting(ctx, config, "prompt_limit"))]


def _setting(ctx: Context, config: Mapping[str, Any], name: str) -> int:
    """A run setting from the config, else the default the spec declares for it."""
    value = config.get(name)
    return int(value if value is not None else request_default(ctx.op, join("config", name)))


def run_batch_test(ctx: Context) -> Response:
    """Start a run over the source's prompts (up to `prompt_limit`); it proceeds in the background."""
    config = ctx.body["config"]
    judge = config.get("judge_config")
    if isinstance(judge, Mapping) and judge.get("enabled") and ctx.principal.credential == "api_key":
        return ctx.error(
            400, "judge_config requires session auth (Bearer token). Disable judge_config or use a session token."
        )
    prompts = _prompts(ctx, config)
    if isinstance(prompts, Response):
        return prompts
    prompts = prompts[: _setting(ctx, config, "prompt_limit")]
    if not prompts:
        return ctx.error(400, "No prompts found in the test source")
    run = {
        "id": str(uuid.uuid4()),
        "user_id": ctx.principal.user_id,
        "status": "running",
        "model_name": config["model_id"],
        "test_run_name": config.get("test_run_name"),
        "total_prompts": len(prompts),
        "completed_prompts": 0,
        "failed_prompts": 0,
        "started_at": utc_now(),
        "completed_at": None,
        "error": None,
        "results": [],
        "prompts": prompts,
        "concurrency": _setting(ctx, config, "concurrency"),
        "delay_ms": _setting(ctx, config, "delay_ms"),
        "timeline_start": time.time(),
    }
    ctx.state.store.batch_tests.put(run)
    return ctx.json({"success": True, "test_run_id": run["id"], "status": "running", "total_prompts": len(prompts)})


def result(run: Row, index: int) -> dict[str, Any]:
    """The stored result of one prompt of a run."""
    prompts: Sequence[str] = run.get("prompts") or []
    prompt = prompts[index] if index < len(prompts) else f"prompt {index + 1}"
    answer = f"[{run.get('model_name')}] answer to: {prompt}"
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{run['id']}/{index}")),
        "prompt_index": index,
        "response": answer[:RESPONSE_CHARS],
        "latency_ms": 400 + 37 * (index % 11),
        "input_tokens": max(1, len(prompt) // 4),
        "output_tokens": max(1, len(answer) // 4),
        "success": True,
        "graphrag": None,
        "citations": None,
    }


def progressed(ctx: Context, run: Row) -> Row:
    """The run as it stands now: prompts done so far, and completion once all are done."""
    start = run.get("timeline_start")
    if run.get("status") != "running" or not isinstance(start, int | float):
        return run
    total = int(run["total_prompts"])
    concurrency = max(1, int(run.get("concurrency") or 1))
    wave = ctx.state.scaled(max(MIN_WAVE_MS, int(run.get("delay_ms") or 0)))
    done = min(total, int((time.time() - start) / wave) * concurrency) if wave > 0 else total
    current = {**run, "completed_prompts": done, "results": [result(run, i) for i in range(done)]}
    if done >= total:
        finished = start + math.ceil(total / concurrency) * wave
        current |= {"status": "completed", "completed_at": iso(finished), "timeline_start": None}
    return current


def status_body(run: Row) -> dict[str, Any]:
    """The status answer of a run."""
    total = int(run["total_prompts"])
    finished = int(run["completed_prompts"]) + int(run["failed_prompts"])
    return {
        "id": run["id"],
        "status": run["status"],
        "model_name": run.get("model_name"),
        "total_prompts": total,
        "completed_prompts": run["completed_prompts"],
        "failed_prompts": run["failed_prompts"],
        "progress": round_to(finished / total) if total else 0,
        "started_at": run.get("started_at"),
        "completed_at": run.get("completed_at"),
        "error": run.get("error"),
        "results": run.get("results") or [],
    }


def get_batch_test_status(ctx: Context) -> Response:
    """The caller's run with its counters and results so far."""
    runs = ctx.state.store.batch_tests
    run = runs.owned(ctx.path_params["id"], ctx.principal.user_id)
    if run is None:
        return ctx.error(
            404, "Batch test run not found", details="JSON object requested, multiple (or no) rows returned"
        )
    current = progressed(ctx, run)
    if current["status"] != run["status"]:
        runs.put(current)
    return ctx.json(status_body(current))


def cancel_batch_test(ctx: Context) -> Response:
    """Cancel a running or pending run of the caller: it is stored as failed, `Cancelled by user`."""
    runs = ctx.state.store.batch_tests
    run = runs.get(ctx.body["test_run_id"])
    if run is None:
        return ctx.error(404, RUN_NOT_FOUND)
    if run.get("user_id") != ctx.principal.user_id:
        return ctx.error(403, "Unauthorized - not your test run")
    current = progressed(ctx, run)
    if current["status"] not in CANCELLABLE:
        runs.put(current)
        return ctx.error(400, f"Cannot cancel test with status: {current['status']}")
    runs.put(
        current | {"status": "failed", "error": "Cancelled by user", "completed_at": utc_now(), "timeline_start": None}
    )
    return ctx.json({"success": True, "message": "Test run cancelled"})


HANDLERS: dict[str, Handler] = {
    "run_batch_test": run_batch_test,
    "get_batch_test_status": get_batch_test_status,
    "cancel_batch_test": cancel_batch_test,
}
