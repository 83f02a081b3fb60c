"""What the simulated training worker uploads: the spec's example prediction, rewritten per job and per upload.

Each row carries its send time in a marker column, so a tab can time the fan-out from upload to event. The
columns written here are checked against the trigger operation's item schema when a plan is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from load.errors import LoadError
from spec import Contract, pointers

KIND = "upload"
"""The kind of the upload request (its Locust entry's prefix) and its key among a job's routes."""
SOURCE = ("sample_source", "ftl-load")
"""A row whose `sample_source` is `ftl-load` is one of ours ..."""
SENT_AT = "sample_source_id"
"""... and carries its send time (epoch seconds) here."""


def progress(upload: int, index: int) -> dict[str, Any]:
    """Where a training run is at upload number `upload`: an epoch every 10 uploads, 10 steps each, a falling CER."""
    return {
        "epoch": 1 + upload // 10,
        "step": (upload + 1) * 10,
        "sample_index": index,
        "char_error_rate": round(max(0.0, 0.5 - 0.004 * upload), 4),
    }


def marked(item: Mapping[str, Any], upload: int, index: int, now: float) -> dict[str, Any]:
    """One uploaded row: the template item moved to upload `upload`, marked with the send time `now`."""
    source, ours = SOURCE
    return {**item, **progress(upload, index), source: ours, SENT_AT: f"{now:.6f}"}


def body(template: Mapping[str, Any], items_pointer: str, upload: int, batch: int, now: float) -> Any:
    """Upload number `upload`: `batch` rows made from the template's one item at `items_pointer`."""
    (item,) = pointers.get(template, items_pointer)
    return pointers.replaced(template, items_pointer, [marked(item, upload, i, now) for i in range(batch)])


def sent_at(row: Any) -> float | None:
    """The send time a worker of ftl-load hid in a row, or None when the row is not one of ours."""
    source, ours = SOURCE
    if not isinstance(row, Mapping) or row.get(source) != ours:
        return None
    value = row.get(SENT_AT)
    try:
        return float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        return None


def template(contract: Contract, job_id: str, user_id: str) -> dict[str, Any]:
    """The trigger operation's request example for one job, with its first item as the only one, checked."""
    trigger = contract.stream.trigger
    items_pointer = str(trigger["items"])
    op = contract.operation(str(trigger["operation_id"]))
    media = op.request_body.content.get("application/json") if op.request_body else None
    example = media.example if media else None
    items = pointers.get(example, items_pointer)
    if not isinstance(example, dict) or not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise LoadError(f"{op.operation_id}: the spec has no request example with an item at {items_pointer}")
    item = items[0]
    schema = media.schema.raw if media is not None and media.schema is not None else {}
    columns = marked(item, 0, 0, 0.0)
    unknown = [column for column in columns if not pointers.schema_at(schema, f"{items_pointer}/*/{column}")]
    if unknown:
        raise LoadError(f"{op.operation_id}: its items declare no {', '.join(unknown)}, which ftl-load uploads")
    swaps = {str(example.get("job_id")): job_id, str(item.get("user_id")): user_id}
    return dict(pointers.substituted(pointers.replaced(example, items_pointer, [item]), swaps))
