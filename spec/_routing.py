"""The one router of the contract: `(method, path)` to the operation serving it, as the mock and the gate need it.

Literal paths are a dict lookup and templates are grouped by segment count, so a request costs no regex. Literal
segments win over parameters, left to right (`/dataset/available` before `/dataset/{id}`), and a path parameter
whose schema refuses the segment does not match (`/api/training/jobs` is not `/api/training/{id}`). As in
Starlette, a match is NONE, PARTIAL (the path is served, not with this method: a 405 with `Allow`) or FULL.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from spec._operation import Operation, Parameter


class Match(enum.Enum):
    """How far a request matched: no path, the path but not the method, or an operation."""

    NONE = 0
    PARTIAL = 1
    FULL = 2


NO_PARAMS: Mapping[str, str] = MappingProxyType({})


class RouteMatch(NamedTuple):
    """The outcome of routing: the operation and its path parameters (FULL), or the methods the path allows.

    A named tuple: one is made per request, and a frozen dataclass costs several times as much to make.
    """

    match: Match
    operation: Operation | None
    params: Mapping[str, str]
    allowed: tuple[str, ...] = ()


NOT_FOUND = RouteMatch(Match.NONE, None, NO_PARAMS)


@dataclass(frozen=True, slots=True)
class _Template:
    """One path of the contract: its literal segments (None where a parameter sits) and its operations by method."""

    path: str
    segments: tuple[str | None, ...]
    prefix: str
    rest: tuple[tuple[int, str | None, str | None], ...]
    methods: Mapping[str, Operation]
    allowed: tuple[str, ...]
    checked: tuple[Parameter, ...]
    literal: Mapping[str, RouteMatch]

    def bind(self, parts: list[str]) -> dict[str, str] | None:
        """The path parameters when the split path fits the template past its literal `prefix` (the caller checked
        that) and each checked parameter's schema, else None."""
        params: dict[str, str] = {}
        for index, literal, name in self.rest:
            part = parts[index]
            if literal is None:
                if not part:
                    return None
                params[name or ""] = part
            elif literal != part:
                return None
        for param in self.checked:
            if not param.schema.is_valid(param.coerce(params[param.name])):
                return None
        return params


class Router:
    """Maps `(method, path)` to the operation serving it (methods in upper case, paths as received)."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        grouped: dict[str, dict[str, Operation]] = {}
        for op in operations:
            grouped.setdefault(op.path, {})[op.method] = op
        self._literal: dict[str, _Template] = {}
        self._templates: dict[int, list[_Template]] = {}
        for path, methods in grouped.items():
            template = _template(path, methods)
            if "{" in path:
                self._templates.setdefault(len(template.segments), []).append(template)
            else:
                self._literal[path] = template
        for candidates in self._templates.values():
            candidates.sort(key=lambda t: [0 if s is not None else 1 for s in t.segments])

    def match(self, method: str, path: str) -> RouteMatch:
        """FULL with the operation and its path parameters; else PARTIAL with the allowed methods, or NONE."""
        literal = self._literal.get(path)
        if literal is not None:
            found = literal.literal.get(method)
            if found is not None:
                return found
        allowed = literal.allowed if literal is not None else ()
        candidates = self._templates.get(path.count("/") + 1)
        if candidates:
            parts = path.split("/")
            for template in candidates:
                if not path.startswith(template.prefix):
                    continue
                params = template.bind(parts)
                if params is None:
                    continue
                op = template.methods.get(method)
                if op is not None:
                    return RouteMatch(Match.FULL, op, params)
                allowed = allowed or template.allowed
        return RouteMatch(Match.PARTIAL, None, NO_PARAMS, allowed) if allowed else NOT_FOUND

    def allowed(self, path: str) -> tuple[str, ...]:
        """The methods of the most specific path that serves `path` (empty when none does), sorted."""
        literal = self._literal.get(path)
        if literal is not None:
            return literal.allowed
        parts = path.split("/")
        fitting = (
            t for t in self._templates.get(len(parts), ()) if path.startswith(t.prefix) and t.bind(parts) is not None
        )
        return next((t.allowed for t in fitting), ())


def _template(path: str, methods: Mapping[str, Operation]) -> _Template:
    segments: list[str | None] = []
    names: list[str | None] = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            segments.append(None)
            names.append(part[1:-1])
        else:
            segments.append(part)
            names.append(None)
    op = next(iter(methods.values()))
    declared = (op.parameter(name, "path") for name in names if name is not None)
    checked = tuple(param for param in declared if param is not None and not _any_segment_fits(param))
    literal = {} if None in segments else {m: RouteMatch(Match.FULL, o, NO_PARAMS) for m, o in methods.items()}
    # The literal segments before the first parameter, compared as one string (with the `/` after them).
    first = segments.index(None) if None in segments else len(segments)
    prefix = "/".join(str(s) for s in segments[:first]) + ("/" if first < len(segments) else "")
    rest = tuple((i, segments[i], names[i]) for i in range(first, len(segments)))
    return _Template(path, tuple(segments), prefix, rest, dict(methods), tuple(sorted(methods)), checked, literal)


# Schemas every non-empty path segment satisfies: checking them per request would only cost time.
_TRIVIAL: tuple[dict[str, object], ...] = ({}, {"type": "string"}, {"type": "string", "minLength": 1})


def _any_segment_fits(param: Parameter) -> bool:
    return {k: v for k, v in param.raw_schema.items() if k != "description"} in _TRIVIAL
