"""JSON Schema compilation and human-readable violations.

Wraps jsonschema-rs (2020-12 dialect) and turns its errors into `field: must be <= 100` messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema_rs


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (a parameter name or JSON path) and what the rule says."""

    location: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_render(v) for v in value)
    return repr(value) if value is not None else "null"


def _describe(kind_name: str, details: dict[str, Any], fallback: str) -> str:
    limit = details.get("limit")
    match kind_name:
        case "Maximum":
            return f"must be <= {limit}"
        case "Minimum":
            return f"must be >= {limit}"
        case "ExclusiveMaximum":
            return f"must be < {limit}"
        case "ExclusiveMinimum":
            return f"must be > {limit}"
        case "MaxLength":
            return f"must be at most {limit} characters long"
        case "MinLength":
            return f"must be at least {limit} characters long"
        case "MaxItems":
            return f"must have at most {limit} items"
        case "MinItems":
            return f"must have at least {limit} items"
        case "MinProperties":
            return f"must have at least {limit} properties"
        case "MaxProperties":
            return f"must have at most {limit} properties"
        case "Type":
            return f"must be of type {' or '.join(details.get('types', []))}"
        case "Enum":
            return f"must be one of: {_render(details.get('options'))}"
        case "Constant":
            return f"must be {_render(details.get('expected_value'))}"
        case "Pattern":
            return f"must match pattern {details.get('pattern')}"
        case "Format":
            return f"must be a valid {details.get('format')}"
        case "Required":
            return "is required"
        case "AdditionalProperties":
            return f"unexpected properties: {_render(details.get('unexpected'))}"
        case "MultipleOf":
            return f"must be a multiple of {details.get('multiple_of')}"
        case "UniqueItems":
            return "items must be unique"
    return fallback


def _pointer(parts: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


class Schema:
    """A compiled JSON Schema with friendly violation messages."""

    __slots__ = ("_validator", "raw")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._validator = jsonschema_rs.validator_for(
            raw if raw is not None else {},
            validate_formats=True,
            ignore_unknown_formats=True,
        )

    def is_valid(self, instance: Any) -> bool:
        """True when the instance satisfies the schema."""
        return bool(self._validator.is_valid(instance))

    def violations(self, instance: Any, root: str = "") -> Iterator[Violation]:
        """Each broken rule, located relative to `root` (e.g. `body` or a parameter name)."""
        for error in self._validator.iter_errors(instance):
            kind = error.kind
            name = type(kind).__name__
            details = kind.as_dict() if hasattr(kind, "as_dict") else {}
            path = list(error.instance_path)
            if name == "Required":
                path.append(details.get("property", "?"))
            where = _pointer(path)
            location = ".".join(p for p in (root, where) if p) or root or "body"
            yield Violation(location, name, _describe(name, details, error.message))
