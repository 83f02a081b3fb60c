"""The indexed, typed view of the contract.

Operations by operationId and by (method, path template), a path matcher, compiled validators
for parameters, bodies and responses, the security of each operation and the SSE stream's rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote

from spec._document import operations
from spec._errors import SpecError
from spec._schema import Schema, Violation
from spec._security import SecuritySchemes, security_schemes
from spec.pointers import join

JSON = "application/json"
PATH_TEMPLATE = re.compile(r"\{([^}]+)\}")
BAD_INPUT_STATUS = 400  # the platform answers invalid input with 400 on every route


@dataclass(frozen=True, slots=True)
class Parameter:
    """A path, query or header parameter with its compiled schema."""

    name: str
    location: str
    required: bool
    schema: Schema
    default: Any = None

    @property
    def raw_schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema as written in the spec."""
        return self.schema.raw if isinstance(self.schema.raw, dict) else {}

    def coerce(self, text: str) -> Any:
        """The typed value of a parameter sent as text; unchanged when it does not parse."""
        return coerce(text, self.raw_schema)


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    if isinstance(kind, str):
        return [kind]
    return []


def coerce(text: str, schema: Mapping[str, Any]) -> Any:
    """Turn a query, path or header string into the JSON type its schema asks for."""
    types = _types(schema)
    if "integer" in types and re.fullmatch(r"[+-]?\d+", text.strip()):
        return int(text)
    if "number" in types:
        try:
            return float(text) if text.strip().lower() not in ("nan", "inf", "-inf", "infinity") else text
        except ValueError:
            pass
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if "null" in types and text == "null":
        return None
    return text


@dataclass(frozen=True, slots=True)
class MediaType:
    """One media type of a request body or response, with its compiled schema."""

    name: str
    schema: Schema | None
    item_schema: Schema | None
    example: Any
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Response:
    """One declared response of an operation."""

    status: str
    description: str
    content: Mapping[str, MediaType]
    headers: Mapping[str, Mapping[str, Any]]
    links: Mapping[str, Mapping[str, Any]]

    @property
    def error_shape(self) -> str | None:
        """E1..E5 as the response's schema declares with `x-error-shape`, if any."""
        for media in self.content.values():
            raw = media.schema.raw if media.schema else None
            if isinstance(raw, dict):
                shape = raw.get("x-error-shape") or _nested_shape(raw)
                if shape:
                    return str(shape)
        return None

    def media(self, name: str = JSON) -> MediaType | None:
        """The media type entry for `name`, or the only one there is."""
        if name in self.content:
            return self.content[name]
        return next(iter(self.content.values()), None) if len(self.content) == 1 else None


def _nested_shape(schema: Mapping[str, Any]) -> str | None:
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, dict) and sub.get("x-error-shape"):
                return str(sub["x-error-shape"])
    return None


@dataclass(frozen=True, slots=True)
class RequestBody:
    """The request body of an operation."""

    required: bool
    content: Mapping[str, MediaType]


@dataclass(frozen=True, slots=True)
class SecurityRequirement:
    """One alternative of an operation's security: scheme name -> required roles (scopes)."""

    schemes: Mapping[str, tuple[str, ...]]


@dataclass(eq=False)
class Operation:
    """One operation of the contract."""

    operation_id: str
    method: str
    path: str
    tags: tuple[str, ...]
    summary: str
    parameters: tuple[Parameter, ...]
    request_body: RequestBody | None
    responses: Mapping[str, Response]
    security: tuple[SecurityRequirement, ...]
    extensions: Mapping[str, Any]
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def auth_pattern(self) -> str:
        """The platform's auth pattern (A-E or none)."""
        return str(self.extensions.get("x-auth-pattern", "none" if not self.security else "C"))

    @property
    def pointer(self) -> str:
        """JSON pointer of the operation in the document."""
        return join("paths", self.path, self.method.lower())

    def path_for(self, **params: str | int) -> str:
        """The path with each template parameter filled in, URL-quoted: `path_for(jobId="job 1")`.

        A SpecError names a template parameter that has no value (or an empty one) and a name the path has none of.
        """
        names = PATH_TEMPLATE.findall(self.path)
        missing = [name for name in names if str(params.get(name, "")) == ""]
        unknown = sorted(name for name in params if name not in names)
        if missing or unknown:
            problems = [f"no value for {', '.join(missing)}"] if missing else []
            problems += [f"no path parameter {', '.join(unknown)}"] if unknown else []
            takes = f"it takes {', '.join(names)}" if names else "it takes none"
            raise SpecError(self.pointer, "path-parameters", f"{self.operation_id}: {'; '.join(problems)} ({takes})")
        return PATH_TEMPLATE.sub(lambda found: quote(str(params[found.group(1)]), safe=""), self.path)

    @property
    def pagination(self) -> Mapping[str, str] | None:
        """The `x-pagination` rule of the operation, if it pages a list."""
        value = self.extensions.get("x-pagination")
        return value if isinstance(value, dict) else None

    @property
    def requires_auth(self) -> bool:
        """True when some credential is needed (no empty alternative)."""
        return bool(self.security) and all(req.schemes for req in self.security)

    @cached_property
    def scheme_names(self) -> frozenset[str]:
        """Every security scheme that can satisfy this operation."""
        return frozenset(name for req in self.security for name in req.schemes)

    def parameters_in(self, location: str) -> tuple[Parameter, ...]:
        """The parameters of one location: path, query, header or cookie."""
        return tuple(p for p in self.parameters if p.location == location)

    def parameter(self, name: str, location: str | None = None) -> Parameter | None:
        """A parameter by name (header names compare case-insensitively)."""
        for p in self.parameters:
            if location is not None and p.location != location:
                continue
            if p.name == name or (p.location == "header" and p.name.lower() == name.lower()):
                return p
        return None

    def response(self, status: int) -> Response | None:
        """The declared response for a status: exact code, then `4XX`-style range, then default."""
        return (
            self.responses.get(str(status))
            or self.responses.get(f"{str(status)[0]}XX")
            or self.responses.get("default")
        )

    @cached_property
    def success(self) -> Response:
        """The first declared 2xx response (or 410 for gone-only operations)."""
        for status in sorted(self.responses):
            if status.startswith("2"):
                return self.responses[status]
        return self.responses[sorted(self.responses)[0]]

    @cached_property
    def success_status(self) -> int:
        """The status code of `success`."""
        return int(self.success.status) if self.success.status.isdigit() else 200

    @property
    def bad_input_status(self) -> int:
        """The status of a request that breaks the operation's input rules: 400 on every route of the platform."""
        return BAD_INPUT_STATUS

    def error_shape(self, status: int) -> str:
        """The error shape (E1..E5) the operation uses for `status`; E1 when nothing is declared."""
        response = self.response(status)
        shape = response.error_shape if response else None
        if shape:
            return shape
        shapes = [r.error_shape for r in self.responses.values() if r.error_shape]
        return shapes[0] if shapes else "E1"

    def check_parameters(
        self,
        path_params: Mapping[str, str],
        query: Iterable[tuple[str, str]],
        headers: Mapping[str, str],
    ) -> list[Violation]:
        """Violations of the declared path, query and header parameters."""
        found: list[Violation] = []
        query_values: dict[str, list[str]] = {}
        for key, text in query:
            query_values.setdefault(key, []).append(text)
        lowered = {k.lower(): v for k, v in headers.items()}
        for param in self.parameters:
            if param.location == "path":
                raw: list[str] | None = [path_params[param.name]] if param.name in path_params else None
            elif param.location == "query":
                raw = query_values.get(param.name)
            elif param.location == "header":
                raw = [lowered[param.name.lower()]] if param.name.lower() in lowered else None
            else:
                continue
            if raw is None:
                if param.required:
                    found.append(Violation(param.name, "Required", f"{param.location} parameter is required"))
                continue
            if "array" in _types(param.raw_schema):
                items = param.raw_schema.get("items") or {}
                value: Any = [coerce(v, items) for v in raw]
            else:
                value = param.coerce(raw[-1])
            found.extend(param.schema.violations(value, param.name))
        return found

    def check_json_body(self, body: Any, media_type: str = JSON) -> list[Violation]:
        """Violations of a parsed JSON (or form) body against the declared schema."""
        if self.request_body is None:
            return []
        media = self.request_body.content.get(media_type)
        if media is None or media.schema is None:
            return []
        return list(media.schema.violations(body, "body"))

    def accepts_media_type(self, media_type: str) -> bool:
        """True when the request body may be sent as `media_type`."""
        if self.request_body is None:
            return True
        return media_type in self.request_body.content


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
        self._matchers = _build_matchers(self.operations.values())
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
        """The operation serving `method path` and its path parameters, or None."""
        for _template, regex, by_method in self._matchers:
            found = regex.fullmatch(path)
            if found and method.upper() in by_method:
                op = by_method[method.upper()]
                params = found.groupdict()
                if all(_param_ok(op, k, v) for k, v in params.items()):
                    return op, params
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """Methods declared for the most specific template matching `path` (for 405 Allow)."""
        for _template, regex, by_method in self._matchers:
            found = regex.fullmatch(path)
            if found:
                op = next(iter(by_method.values()))
                if all(_param_ok(op, k, v) for k, v in found.groupdict().items()):
                    return sorted(by_method)
        return []

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


def _param_ok(op: Operation, name: str, value: str) -> bool:
    param = op.parameter(name, "path")
    return param is None or param.schema.is_valid(param.coerce(value))


def _build_matchers(ops: Iterable[Operation]) -> list[tuple[str, re.Pattern[str], dict[str, Operation]]]:
    grouped: dict[str, dict[str, Operation]] = {}
    for op in ops:
        grouped.setdefault(op.path, {})[op.method] = op
    matchers = []
    for template, by_method in grouped.items():
        pattern = re.sub(r"\\\{([^}]+)\\\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(template))
        matchers.append((template, re.compile(pattern), by_method))
    # Literal segments win over templated ones (`/dataset/available` before `/dataset/{id}`).
    matchers.sort(key=lambda m: [0 if "{" not in seg else 1 for seg in m[0].split("/")])
    return matchers


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


def build_operation(
    method: str, path: str, raw: Mapping[str, Any], path_item: Mapping[str, Any], root_security: Any
) -> Operation:
    """Index one resolved operation object."""
    params_raw = {(p["name"], p["in"]): p for p in path_item.get("parameters", [])}
    params_raw.update({(p["name"], p["in"]): p for p in raw.get("parameters", [])})
    parameters = tuple(
        Parameter(
            name=p["name"],
            location=p["in"],
            required=bool(p.get("required", p["in"] == "path")),
            schema=Schema(p.get("schema", {})),
            default=(p.get("schema") or {}).get("default"),
        )
        for p in params_raw.values()
    )
    body = raw.get("requestBody")
    request_body = (
        RequestBody(bool(body.get("required", False)), _media_types(body.get("content", {}))) if body else None
    )
    responses = {
        str(status): Response(
            status=str(status),
            description=str(resp.get("description", "")),
            content=_media_types(resp.get("content", {})),
            headers=resp.get("headers", {}),
            links=resp.get("links", {}),
        )
        for status, resp in (raw.get("responses") or {}).items()
    }
    security_raw = raw.get("security", root_security) or []
    security = tuple(SecurityRequirement({k: tuple(v) for k, v in req.items()}) for req in security_raw)
    return Operation(
        operation_id=raw["operationId"],
        method=method.upper(),
        path=path,
        tags=tuple(raw.get("tags", ())),
        summary=str(raw.get("summary", "")),
        parameters=parameters,
        request_body=request_body,
        responses=responses,
        security=security,
        extensions={k: v for k, v in raw.items() if k.startswith("x-")},
        raw=raw,
    )


def _media_types(content: Mapping[str, Any]) -> dict[str, MediaType]:
    return {
        name: MediaType(
            name=name,
            schema=Schema(media["schema"]) if "schema" in media else None,
            item_schema=Schema(media["itemSchema"]) if "itemSchema" in media else None,
            example=media.get("example"),
            raw=media,
        )
        for name, media in content.items()
    }


def index(document: Mapping[str, Any], resolved: Mapping[str, Any], source: str) -> Contract:
    """Build the Contract from a checked document and its dereferenced copy."""
    ops: dict[str, Operation] = {}
    paths = resolved.get("paths", {})
    for method, path, raw in operations(dict(resolved)):
        op = build_operation(method, path, raw, paths[path], resolved.get("security"))
        ops[op.operation_id] = op
    return Contract(document=document, resolved=resolved, operations=ops, source=source)
