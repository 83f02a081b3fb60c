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
    """The loaded contract: the document and indexed, compiled views of it."""

    document: Mapping[str, Any]
    resolved: Mapping[str, Any]
    operations: Mapping[str, Operation]
    source: str

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
                return _stream_contract(op, rules)
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
    return StreamContract(op, events, media.item_schema, rules)


def index(document: Mapping[str, Any], resolved: Mapping[str, Any], source: str) -> Contract:
    """Build the Contract from a checked document and its dereferenced copy."""
    ops: dict[str, Operation] = {}
    paths = resolved.get("paths", {})
    for method, path, raw in operations(dict(resolved)):
        op = build_operation(method, path, raw, paths[path], resolved.get("security"))
        ops[op.operation_id] = op
    return Contract(document=document, resolved=resolved, operations=ops, source=source)
