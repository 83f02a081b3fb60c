"""One operation of the contract, typed: parameters, bodies and responses with compiled schemas, security.

`build_operation` indexes one resolved operation object; `Operation.path_for` fills its path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote

from spec._errors import SpecError
from spec._schema import Schema, Violation
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
