"""The indexed, typed view of the contract.

Operations by operationId and by (method, path template), the router, the security schemes and the SSE
stream's rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from spec import pointers
from spec._document import operations
from spec._errors import SpecError
from spec._operation import Operation, build_operation
from spec._routing import Router
from spec._schema import Schema, Violation
from spec._security import SecuritySchemes, security_schemes


@dataclass(frozen=True, slots=True)
class StreamContract:
    """The SSE operation's event schemas by name and its `x-stream-contract` rules."""

    operation: Operation
    events: Mapping[str, Schema]
    item_schema: Schema
    rules: Mapping[str, Any]

    @property
    def event_names(self) -> tuple[str, ...]:
        """Every declared event name, in the order the spec lists them."""
        return tuple(self.events)

    @property
    def first_event(self) -> str:
        """The event every stream starts with."""
        return str(self.rules["first_event"])

    @property
    def heartbeat_event(self) -> str:
        """The periodic keep-alive event's name."""
        return str(self.rules["heartbeat"]["event"])

    @property
    def heartbeat_interval_ms(self) -> int:
        """Milliseconds between heartbeats (before any time scale)."""
        return int(self.rules["heartbeat"]["interval_ms"])

    @property
    def counter(self) -> Mapping[str, Any]:
        """The monotonic counter rule (event, pointer, increment, rest)."""
        return dict(self.rules["counter"])

    @property
    def trigger(self) -> Mapping[str, Any]:
        """Which operation's stored items emit which event."""
        return dict(self.rules["trigger"])

    @property
    def subjects(self) -> tuple[Mapping[str, Any], ...]:
        """(event, pointer, path_parameter) rules naming the stream's subject."""
        return tuple(self.rules.get("subject") or ())

    @property
    def error_event(self) -> str:
        """The event that reports a failed subscription."""
        return str(self.rules["error_event"])

    @property
    def wire(self) -> Mapping[str, Any]:
        """How messages are written on the wire."""
        return dict(self.rules["wire"])

    # The rules a design adds (each None in the base contract): read by the mock, the gate and ftl-load alike.

    @property
    def trigger_event(self) -> str:
        """The event that delivers stored items."""
        return str(self.rules["trigger"]["event"])

    @property
    def item_pointer(self) -> str:
        """Where one stored item sits in the trigger event's data ("" when the event batches them)."""
        return str(self.rules["trigger"].get("item_pointer") or "")

    @property
    def batch(self) -> Mapping[str, Any] | None:
        """`{items, window_ms}`: the trigger event carries several stored items, at most one event per window."""
        found = self.rules.get("batch")
        return dict(found) if found else None

    @property
    def filter(self) -> Mapping[str, Any] | None:
        """`{parameter, item_pointer}`: with the query parameter, only items whose value there equals it are sent."""
        found = self.rules.get("filter")
        return dict(found) if found else None

    @property
    def push(self) -> Mapping[str, Any] | None:
        """`{events, pointer, operation_id}`: those events carry, at `pointer`, what the operation would answer."""
        found = self.rules.get("push")
        return dict(found) if found else None

    @property
    def limit(self) -> Mapping[str, Any] | None:
        """`{per, streams, status}`: at most `streams` open streams per user; one more is refused with `status`."""
        found = self.rules.get("limit")
        return dict(found) if found else None

    @property
    def content_coding(self) -> str | None:
        """The content coding the stream is sent with to a client that accepts it (`gzip`), or None."""
        found = self.rules["wire"].get("content_coding")
        return str(found) if found else None

    def items_of(self, data: Any) -> list[Any]:
        """The stored items one trigger event's decoded data carries, in order (none when they are not there)."""
        if self.batch is not None:
            found = pointers.get(data, str(self.batch["items"]), None)
            return list(found) if isinstance(found, list) else []
        pointer = self.item_pointer
        found = pointers.get(data, pointer, None) if pointer else data
        return [] if found is None else [found]

    def check_event(self, name: str, data: str) -> list[Violation]:
        """Violations of one event (its name and its JSON data text)."""
        return list(self.item_schema.violations({"event": name, "data": data}, name)) + self.check_event_data(
            name, data
        )

    def check_event_data(self, name: str, data: str) -> list[Violation]:
        """Violations of an event's data, decoded as JSON, against its `contentSchema`."""
        schema = self.events.get(name)
        if schema is None:
            return [Violation("event", "Enum", f"must be one of: {', '.join(self.events)} (got {name!r})")]
        try:
            decoded = json.loads(data)
        except ValueError:
            return [Violation(f"{name}.data", "contentMediaType", "must be JSON")]
        return list(schema.violations(decoded, f"{name}.data"))


@dataclass
class Contract:
    """The loaded contract: the document and indexed, compiled views of it.

    `source` is the base document's path; `design` the name of the design overlaid on it, if any.
    """

    document: Mapping[str, Any]
    resolved: Mapping[str, Any]
    operations: Mapping[str, Operation]
    source: str
    design: str | None = None

    def __post_init__(self) -> None:
        self.by_route: dict[tuple[str, str], Operation] = {(op.method, op.path): op for op in self.operations.values()}
        self.router = Router(self.operations.values())
        """The one router: `router.match(method, path)` is FULL, PARTIAL (a 405 with `Allow`) or NONE."""
        self.schemes: SecuritySchemes = security_schemes(self.resolved)
        """The security schemes, typed (header, credential, key pattern, redaction), by name in document order."""

    @property
    def security_schemes(self) -> Mapping[str, Mapping[str, Any]]:
        """The `components.securitySchemes` of the document as written (`schemes` is the typed view)."""
        return dict(self.resolved.get("components", {}).get("securitySchemes", {}))

    @property
    def tags(self) -> tuple[str, ...]:
        """Tag names in document order."""
        return tuple(t["name"] for t in self.resolved.get("tags", []))

    def operation(self, operation_id: str) -> Operation:
        """The operation with this operationId; SpecError when there is none."""
        try:
            return self.operations[operation_id]
        except KeyError:
            raise SpecError("/paths", "operationId", f"no operation {operation_id!r}") from None

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving `method path` and its path parameters, or None (`router.match` says why)."""
        found = self.router.match(method.upper(), path)
        return (found.operation, dict(found.params)) if found.operation is not None else None

    def allowed_methods(self, path: str) -> list[str]:
        """Methods declared for the most specific template matching `path` (for 405 Allow)."""
        return list(self.router.allowed(path))

    @cached_property
    def stream(self) -> StreamContract:
        """The SSE operation's contract (the one operation with `x-stream-contract`)."""
        for op in self.operations.values():
            rules = op.extensions.get("x-stream-contract")
            if rules:
                stream = _stream_contract(op, rules)
                push = stream.push
                if push is not None and push.get("operation_id") not in self.operations:
                    pointer = f"{op.pointer}/x-stream-contract/push/operation_id"
                    raise SpecError(pointer, "push", f"no operation {push.get('operation_id')!r}")
                return stream
        raise SpecError("/paths", "x-stream-contract", "no operation declares x-stream-contract")

    def iter_operations(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Iterator[Operation]:
        """Operations filtered by operationId or tag (include all when `include` is empty)."""
        inc, exc = set(include), set(exclude)
        for op in self.operations.values():
            names = {op.operation_id, *op.tags}
            if inc and not names & inc:
                continue
            if names & exc:
                continue
            yield op


def _stream_contract(op: Operation, rules: Mapping[str, Any]) -> StreamContract:
    media = op.success.content.get("text/event-stream")
    if media is None or media.item_schema is None:
        raise SpecError(op.pointer, "itemSchema", "the stream operation needs text/event-stream with itemSchema")
    events: dict[str, Schema] = {}
    for variant in media.item_schema.raw.get("oneOf", []):
        name = variant["properties"]["event"].get("const")
        content_schema = variant["properties"]["data"].get("contentSchema", {})
        if not name:
            raise SpecError(op.pointer, "itemSchema", "every event variant needs `event: {const: <name>}`")
        events[name] = Schema(content_schema)
    for key in ("first_event", "heartbeat", "counter", "trigger", "error_event", "wire"):
        if key not in rules:
            raise SpecError(f"{op.pointer}/x-stream-contract", key, "is required")
    for key in ("first_event", "error_event"):
        if rules[key] not in events:
            raise SpecError(f"{op.pointer}/x-stream-contract/{key}", "event", f"{rules[key]!r} is not a declared event")
    stream = StreamContract(op, events, media.item_schema, rules)
    _check_design_rules(stream, f"{op.pointer}/x-stream-contract")
    return stream


CONTENT_CODINGS = ("gzip",)


def _check_design_rules(stream: StreamContract, where: str) -> None:
    """The optional rules a design adds must name what the contract declares."""
    op, events = stream.operation, stream.events
    if stream.trigger_event not in events:
        raise SpecError(f"{where}/trigger/event", "event", f"{stream.trigger_event!r} is not a declared event")
    batch = stream.batch
    if batch is not None:
        window = batch.get("window_ms")
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise SpecError(
                f"{where}/batch/window_ms", "batch", f"must be a whole number of milliseconds >= 1, got {window!r}"
            )
        items = pointers.schema_at(events[stream.trigger_event].raw, str(batch.get("items", "")))
        if items.get("type") != "array":
            raise SpecError(
                f"{where}/batch/items", "batch", f"{stream.trigger_event} declares no array at {batch.get('items')!r}"
            )
    found = stream.filter
    if found is not None:
        declared = {p.name for p in op.parameters_in("query")}
        if found.get("parameter") not in declared:
            raise SpecError(
                f"{where}/filter/parameter",
                "filter",
                f"{found.get('parameter')!r} is not a query parameter of {op.operation_id}",
            )
    push = stream.push
    if push is not None:
        unknown = [name for name in push.get("events") or () if name not in events]
        if not push.get("events") or unknown:
            raise SpecError(f"{where}/push/events", "push", f"must list declared events, got {push.get('events')!r}")
        for name in push["events"]:
            if not pointers.schema_at(events[name].raw, str(push.get("pointer", ""))):
                raise SpecError(f"{where}/push/pointer", "push", f"{name} declares nothing at {push.get('pointer')!r}")
    limit = stream.limit
    if limit is not None:
        streams = limit.get("streams")
        if not isinstance(streams, int) or isinstance(streams, bool) or streams < 1:
            raise SpecError(f"{where}/limit/streams", "limit", f"must be a whole number >= 1, got {streams!r}")
        if str(limit.get("status")) not in op.responses:
            raise SpecError(
                f"{where}/limit/status", "limit", f"{op.operation_id} declares no {limit.get('status')!r} response"
            )
    coding = stream.content_coding
    if coding is not None and coding not in CONTENT_CODINGS:
        raise SpecError(
            f"{where}/wire/content_coding", "wire", f"must be one of {', '.join(CONTENT_CODINGS)}, got {coding!r}"
        )


def index(
    document: Mapping[str, Any], resolved: Mapping[str, Any], source: str, *, design: str | None = None
) -> Contract:
    """Build the Contract from a checked document and its dereferenced copy (of `design`, when one is overlaid)."""
    ops: dict[str, Operation] = {}
    paths = resolved.get("paths", {})
    for method, path, raw in operations(dict(resolved)):
        op = build_operation(method, path, raw, paths[path], resolved.get("security"))
        ops[op.operation_id] = op
    return Contract(document=document, resolved=resolved, operations=ops, source=source, design=design)
