"""The contract's paths indexed for fast matching: literal paths in a dict, templates by segment count.

Resolves a request the way `Contract.match` does (literal segments first, path parameter schemas
respected) without running a regex per template on every request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from spec import Contract, Operation, Parameter


@dataclass(frozen=True, slots=True)
class Template:
    """One path template: its literal segments (None where a parameter sits) and operations by method."""

    path: str
    segments: tuple[str | None, ...]
    names: tuple[str | None, ...]
    methods: Mapping[str, Operation]
    checked: tuple[str, ...] = ()

    def bind(self, parts: list[str]) -> dict[str, str] | None:
        """The path parameters when `parts` fits the template, else None."""
        params: dict[str, str] = {}
        for literal, name, part in zip(self.segments, self.names, parts, strict=True):
            if literal is None:
                if not part:
                    return None
                params[name or ""] = part
            elif literal != part:
                return None
        return params

    def accepts(self, params: Mapping[str, str]) -> bool:
        """True when every path parameter satisfies its schema (any operation of the template)."""
        if not self.checked:
            return True
        op = next(iter(self.methods.values()))
        for name in self.checked:
            param = op.parameter(name, "path")
            if param is not None and not param.schema.is_valid(param.coerce(params[name])):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of routing: an operation and its path parameters, or the methods the path allows."""

    op: Operation | None
    params: Mapping[str, str]
    allowed: tuple[str, ...] = ()


NO_MATCH = Match(None, {})


class Router:
    """Maps `(method, path)` to the operation serving it."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        grouped: dict[str, dict[str, Operation]] = {}
        for op in operations:
            grouped.setdefault(op.path, {})[op.method] = op
        self._literal: dict[str, Template] = {}
        self._templates: dict[int, list[Template]] = {}
        for path, methods in grouped.items():
            template = _template(path, methods)
            if "{" in path:
                self._templates.setdefault(len(template.segments), []).append(template)
            else:
                self._literal[path] = template
        for candidates in self._templates.values():
            # Literal segments win over parameters, left to right (`/dataset/available` before `/dataset/{id}`).
            candidates.sort(key=lambda t: [0 if s is not None else 1 for s in t.segments])

    @classmethod
    def from_contract(cls, contract: Contract) -> Router:
        """A router over every operation of the contract."""
        return cls(contract.operations.values())

    def match(self, method: str, path: str) -> Match:
        """The operation for `method path`; otherwise the allowed methods (405) or nothing (404)."""
        literal = self._literal.get(path)
        if literal is not None:
            op = literal.methods.get(method)
            if op is not None:
                return Match(op, {})
        parts = path.split("/")
        allowed: tuple[str, ...] = tuple(sorted(literal.methods)) if literal is not None else ()
        for template in self._templates.get(len(parts), ()):
            params = template.bind(parts)
            if params is None or not template.accepts(params):
                continue
            op = template.methods.get(method)
            if op is not None:
                return Match(op, params)
            if not allowed:
                allowed = tuple(sorted(template.methods))
        return Match(None, {}, allowed) if allowed else NO_MATCH


def _template(path: str, methods: Mapping[str, Operation]) -> Template:
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
    checked = tuple(name for name in names if name is not None and not _any_segment_fits(op.parameter(name, "path")))
    return Template(path, tuple(segments), tuple(names), dict(methods), checked)


# Schemas every non-empty path segment satisfies: checking them per request would only cost time.
_TRIVIAL: tuple[dict[str, object], ...] = ({}, {"type": "string"}, {"type": "string", "minLength": 1})


def _any_segment_fits(param: Parameter | None) -> bool:
    return param is None or {k: v for k, v in param.raw_schema.items() if k != "description"} in _TRIVIAL
