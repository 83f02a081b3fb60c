"""Values generated from JSON Schemas: the smallest valid instance of a schema, properties in schema order.

Used for event data the spec declares and for generated predictions; numbers are JavaScript numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from mockserver.wire import js_numbers, utc_now

FORMAT_VALUES: Mapping[str, Callable[[], Any]] = {"date-time": utc_now, "uuid": lambda: str(uuid.uuid4())}


def sample(schema: Mapping[str, Any]) -> Any:
    """A small valid instance of a (dereferenced) JSON Schema: required properties only, in schema order."""
    if "const" in schema:
        return js_numbers(schema["const"])
    if schema.get("enum"):
        return js_numbers(schema["enum"][0])
    if "default" in schema:
        return js_numbers(schema["default"])
    for key in ("allOf", "oneOf", "anyOf"):
        if schema.get(key):
            return sample(merge(schema[key]) if key == "allOf" else schema[key][0])
    fmt = str(schema.get("format", ""))
    if fmt in FORMAT_VALUES:
        return FORMAT_VALUES[fmt]()
    kinds = schema.get("type") or ("object" if "properties" in schema else "string")
    kind = kinds if isinstance(kinds, str) else next((k for k in kinds if k != "null"), "null")
    if kind == "object":
        required = set(schema.get("required") or ())
        props = schema.get("properties") or {}
        return {name: sample(sub) for name, sub in props.items() if name in required}
    if kind == "array":
        return [sample(schema.get("items") or {}) for _ in range(int(schema.get("minItems", 0)))]
    if kind in ("integer", "number"):
        return js_numbers(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "x" * int(schema.get("minLength", 0))


def merge(parts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The parts of an `allOf` as one schema: properties and required lists joined, other keys overlaid."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged[key] = value
    return merged
