"""Datasets: multipart upload with format detection and cost estimates, list, preview, delete.

An uploaded file is normalised to JSON lines and kept in the store; previews slice those lines.
"""

from __future__ import annotations

import gzip
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import page, round_to
from mockserver.store.table import Row
from mockserver.validation import UploadedFile
from mockserver.wire import MAX_DEPTH, text, too_deep, utc_now

NOT_FOUND = "Dataset not found"
CONFIG_NOT_FOUND = "Training configuration not found"
CHARS_PER_TOKEN = 4
EPOCHS = 3
# provider -> (training tokens per second, cost per hour in USD, warnings)
PROVIDERS: Mapping[str, tuple[float, float, tuple[str, ...]]] = {
    "runpod": (2500.0, 1.99, ()),
    "local": (1000.0, 0.0, ("Training time depends on the local GPU",)),
    "openai": (5000.0, 0.0, ()),
}
OPENAI_USD_PER_MILLION_TOKENS = 8.0
# Keys that mark each format, checked in this order on the first example.
FORMAT_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chatml", ("messages",)),
    ("sharegpt", ("conversations",)),
    ("dpo", ("prompt", "chosen", "rejected")),
    ("rlhf", ("prompt", "response", "reward")),
    ("alpaca", ("instruction", "output")),
    ("openorca", ("system_prompt", "question", "response")),
    ("unnatural", ("instruction", "instances")),
    ("raw_text", ("text",)),
)
INPUT_ROLES = ("system", "user", "human")
INPUT_KEYS = ("instruction", "input", "prompt", "question", "system_prompt", "text")
OUTPUT_KEYS = ("output", "response", "completion", "chosen", "answer")


def list_datasets(ctx: Context) -> Response:
    """The caller's datasets, newest first, unpaginated."""
    return ctx.json({"datasets": ctx.state.store.datasets.newest(ctx.principal.user_id)})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_examples(data: bytes) -> tuple[list[Any], list[str]]:
    """The examples of an uploaded file (a JSON array, one JSON object, or JSON lines) and line errors.

    UnicodeDecodeError for a file that is not UTF-8. No example may nest deeper than `MAX_DEPTH` levels:
    the depth is checked on the bytes, before anything is parsed.
    """
    data.decode("utf-8")
    whole = None
    # The whole file as one array adds one level above its examples.
    if not too_deep(data, MAX_DEPTH + 1):
        try:
            whole = json.loads(data, parse_constant=_no_constants)
        except ValueError:
            whole = None
    if isinstance(whole, list):
        return whole, []
    if isinstance(whole, dict):
        return [whole], []
    examples, errors = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        if too_deep(line):
            errors.append(f"line {number}: nests arrays and objects more than {MAX_DEPTH} levels deep")
            continue
        try:
            examples.append(json.loads(line, parse_constant=_no_constants))
        except ValueError:
            errors.append(f"line {number}: Invalid JSON")
    return examples, errors


def detect_format(example: Any) -> str:
    """The canonical format an example is written in (`jsonl` when nothing more specific fits)."""
    if isinstance(example, Mapping):
        for name, keys in FORMAT_KEYS:
            if all(key in example for key in keys):
                return name
    return "jsonl"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


def lengths(example: Any) -> tuple[int, int]:
    """Characters of input and of output in one example."""
    if not isinstance(example, Mapping):
        return len(_text(example)), 0
    turns = example.get("messages") or example.get("conversations")
    if isinstance(turns, list):
        inputs = outputs = 0
        for turn in turns:
            if not isinstance(turn, Mapping):
                continue
            role = turn.get("role") or turn.get("from")
            size = len(_text(turn.get("content", turn.get("value"))))
            inputs, outputs = (inputs + size, outputs) if role in INPUT_ROLES else (inputs, outputs + size)
        return inputs, outputs
    return (
        sum(len(_text(example.get(key))) for key in INPUT_KEYS if key in example),
        sum(len(_text(example.get(key))) for key in OUTPUT_KEYS if key in example),
    )


def cost_estimates(tokens: int) -> dict[str, dict[str, Any]]:
    """What training on `tokens` tokens for 3 epochs would cost with each provider."""
    training = tokens * EPOCHS
    estimates = {}
    for provider, (speed, per_hour, warnings) in PROVIDERS.items():
        hours = training / speed / 3600
        cost = training / 1e6 * OPENAI_USD_PER_MILLION_TOKENS if provider == "openai" else hours * per_hour
        estimates[provider] = {
            "provider": provider,
            "totalTokens": tokens,
            "trainingTokens": training,
            "estimatedCost": round_to(cost),
            "currency": "USD",
            "breakdown": {"epochs": EPOCHS, "costPerEpoch": round_to(cost / EPOCHS), "estimatedHours": round_to(hours)},
            "warnings": list(warnings),
        }
    return estimates


def _dataset_row(ctx: Context, form: Mapping[str, Any], upload: UploadedFile, lines: Sequence[str]) -> Row:
    examples = [json.loads(line) for line in lines]
    sizes = [lengths(example) for example in examples]
    tokens = math.ceil(sum(i + o for i, o in sizes) / CHARS_PER_TOKEN)
    detected = detect_format(examples[0])
    dataset_id = str(uuid.uuid4())
    user_id = ctx.principal.user_id
    now = utc_now()
    return {
        "id": dataset_id,
        "user_id": user_id,
        "config_id": form.get("config_id") or None,
        "name": form["name"],
        "description": form.get("description") or None,
        "format": form["format"],
        "file_size_bytes": len(gzip.compress("\n".join(lines).encode("utf-8"))),
        "total_examples": len(examples),
        "avg_input_length": round_to(sum(i for i, _ in sizes) / len(sizes)),
        "avg_output_length": round_to(sum(o for _, o in sizes) / len(sizes)),
        "storage_path": f"{user_id}/private/{dataset_id}.jsonl.gz",
        "storage_provider": form.get("storage_provider") or "supabase",
        "metadata": {
            "original_format": detected,
            "detected_format_canonical": detected,
            "user_selected_format": form["format"],
            "format_mismatch": detected != form["format"],
            "normalized": True,
            "compressed": True,
            "compression_type": "gzip",
            "original_size_bytes": len(upload.data),
            "normalization_date": now,
            "errors": [],
            "estimated_total_tokens": tokens,
            "cost_estimates": cost_estimates(tokens),
        },
        "created_at": now,
        "updated_at": now,
    }


def upload_dataset(ctx: Context) -> Response:
    """Store an uploaded dataset file as JSON lines, with its statistics and cost estimates.

    A `config_id` must name one of the caller's configurations: someone else's is as absent as an unknown one.
    """
    form = ctx.body
    upload = form.get("file")
    if not isinstance(upload, UploadedFile):
        return ctx.error(400, "file: must be a file part")
    config_id = form.get("config_id") or None
    if config_id is not None and ctx.state.store.configs.owned(config_id, ctx.principal.user_id) is None:
        return ctx.error(404, CONFIG_NOT_FOUND, details=f"config_id: no configuration {config_id!r} of yours")
    try:
        examples, errors = parse_examples(upload.data)
    except UnicodeDecodeError as exc:
        return ctx.error(
            400, "Validation failed", details=f"file: must be UTF-8 text ({exc.reason} at byte {exc.start})"
        )
    if not examples:
        return ctx.error(400, "Invalid dataset", details=[*errors, "No valid examples found in the file"])
    # Each example as the JSON line it was (a string example too: stored bare, it would not read back as JSON).
    lines = [text(example) for example in examples]
    row = _dataset_row(ctx, form, upload, lines)
    row["metadata"]["errors"] = errors
    ctx.state.store.datasets.add(row, lines)
    tokens = row["metadata"]["estimated_total_tokens"]
    return ctx.json({"dataset": row, "cost_estimates": row["metadata"]["cost_estimates"], "estimated_tokens": tokens})


def _preview_example(index: int, line: str) -> dict[str, Any]:
    try:
        return {"index": index, "data": json.loads(line)}
    except ValueError:
        return {"index": index, "data": line, "error": "Invalid JSON"}


def preview_dataset(ctx: Context) -> Response:
    """A slice of the dataset's stored lines, each parsed when it is JSON."""
    datasets = ctx.state.store.datasets
    row = datasets.owned(ctx.path_params["id"], ctx.principal.user_id)
    if row is None:
        return ctx.error(404, NOT_FOUND)
    lines = datasets.lines(row["id"])
    offset, limit = ctx.query["offset"], ctx.query["limit"]
    examples = [_preview_example(offset + i, line) for i, line in enumerate(page(lines, limit, offset))]
    return ctx.json(
        {
            "examples": examples,
            "total": len(lines),
            "offset": offset,
            "limit": limit,
            "has_more": offset + limit < len(lines),
        }
    )


def delete_dataset(ctx: Context) -> Response:
    """Delete the caller's dataset and its file."""
    datasets = ctx.state.store.datasets
    if datasets.owned(ctx.path_params["id"], ctx.principal.user_id) is None:
        return ctx.error(404, NOT_FOUND)
    datasets.delete(ctx.path_params["id"])
    return ctx.json({"success": True, "message": "Dataset deleted"})


def dropdown_item(row: Row) -> dict[str, Any]:
    """A dataset in the camelCase form of the dataset picker."""
    examples = row.get("total_examples")
    return {
        "id": row["id"],
        "name": row["name"],
        "format": row["format"],
        "totalExamples": examples,
        "storagePath": row["storage_path"],
        "fileSizeMB": f"{(row.get('file_size_bytes') or 0) / 1024 / 1024:.2f}",
        "createdAt": row["created_at"],
        "displayLabel": f"{row['name']} ({row['format']}, {examples or 0:,} examples)",
    }


def list_available_datasets(ctx: Context) -> Response:
    """The caller's datasets for a selection list."""
    items = [dropdown_item(row) for row in ctx.state.store.datasets.newest(ctx.principal.user_id)]
    return ctx.json({"success": True, "count": len(items), "datasets": items})


HANDLERS: dict[str, Handler] = {
    "list_datasets": list_datasets,
    "upload_dataset": upload_dataset,
    "preview_dataset": preview_dataset,
    "delete_dataset": delete_dataset,
    "list_available_datasets": list_available_datasets,
}
