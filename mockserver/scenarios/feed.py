"""Generated predictions: valid upload items made from the spec's own example and item schema.

Stored through the store like an upload, so the REST reads and every open stream agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from mockserver.samples import sample
from mockserver.scenarios.model import ScenarioError
from mockserver.store import Store
from mockserver.store.predictions import EPOCH, SAMPLE_INDEX
from mockserver.store.table import OWNER, Row
from spec import Contract, Schema, pointers


@dataclass(frozen=True, slots=True)
class Upload:
    """What the spec says of one uploaded prediction: the item schema, its example items, its subject column."""

    schema: Schema
    examples: tuple[Row, ...]
    subject: str

    @classmethod
    def of(cls, contract: Contract) -> Upload:
        """Read from the stream contract's trigger operation (the upload that emits the trigger event)."""
        stream = contract.stream
        trigger = stream.trigger
        op = contract.operation(str(trigger["operation_id"]))
        media = op.request_body.content.get("application/json") if op.request_body else None
        if media is None or media.schema is None:
            raise ScenarioError(f"the stream trigger {op.operation_id} has no JSON request body in the spec")
        items = str(trigger["items"])
        schema = dict(pointers.schema_at(media.schema.raw, items + "/*"))
        properties = schema.get("properties") or {}
        named = (media.raw.get("examples") or {}).values()
        documents = [media.example, *(e.get("value") for e in named if isinstance(e, Mapping))]
        listed = (pointers.get(doc, items, None) or () for doc in documents)
        found = [item for found_items in listed for item in found_items if isinstance(item, Mapping)]
        template = sample(schema)
        examples = [{**template, **{k: v for k, v in item.items() if k in properties}} for item in found]
        item = pointers.parse(str(trigger.get("item_pointer", "")))
        # The item's subject column is the stream subject's pointer one key below the trigger item's pointer.
        below = (pointers.parse(str(s["pointer"])) for s in stream.subjects if s["event"] == trigger["event"])
        subject = next((keys[-1] for keys in below if len(keys) == len(item) + 1 and keys[:-1] == item), "job_id")
        return cls(Schema(schema), tuple(examples or [template]), subject)


class PredictionFeed:
    """Makes valid prediction items for a job and stores them, as the stream trigger's uploads would."""

    def __init__(self, contract: Contract, store: Store) -> None:
        self.contract = contract
        self.store = store

    @cached_property
    def upload(self) -> Upload:
        """The upload's shape, read on first use (a spec without a JSON upload fails only when generating)."""
        return Upload.of(self.contract)

    def epoch(self, job_id: str, epoch: int | str) -> int:
        """An explicit epoch, or the job's `current` (latest, 1 if none) or `next` epoch."""
        if isinstance(epoch, int):
            return epoch
        latest = max((int(r.get(EPOCH) or 0) for r in self.store.predictions.rows(job_id)), default=0)
        if epoch == "next":
            return latest + 1
        return latest or 1

    def items(self, job_id: str, user_id: str, count: int, epoch: int) -> list[Row]:
        """`count` valid items of `epoch` for a job, continuing the epoch's sample indexes.

        Each is one of the spec's example items (in turn) with the job, its owner, the epoch and the
        sample index filled in.
        """
        upload = self.upload
        examples = upload.examples
        start = sum(1 for r in self.store.predictions.rows(job_id) if r.get(EPOCH) == epoch)
        items = []
        for index in range(start, start + count):
            fields = {upload.subject: job_id, OWNER: user_id, EPOCH: epoch, SAMPLE_INDEX: index}
            item = {**examples[index % len(examples)], **fields}
            for violation in upload.schema.violations(item, "generated prediction"):
                raise ScenarioError(f"cannot generate a valid prediction: {violation}")
            items.append(item)
        return items

    def insert(self, job_id: str, count: int, epoch: int | str = "current") -> list[tuple[Row, int]]:
        """Store `count` generated predictions of a job; each stored row with the job's count after it."""
        job = self.store.jobs.get(job_id)
        if job is None:
            raise ScenarioError(f"no job {job_id!r}")
        items = self.items(job_id, str(job.get(OWNER)), count, self.epoch(job_id, epoch))
        return self.store.predictions.insert(items)
