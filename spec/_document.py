"""Reading and checking the contract document.

Parses the YAML once, checks it is valid OpenAPI 3.2, that every `$ref` resolves, that every
operation has an `operationId`, and that every example validates against its schema.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from spec._errors import SpecError
from spec._schema import Schema
from spec.pointers import MISSING, PointerError, get, join

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")


def _on_first_use(name: str) -> ModuleType:
    """The module `name`, its code run on its first attribute access (`importlib.util.LazyLoader`)."""
    if name in sys.modules:
        return sys.modules[name]
    found = importlib.util.find_spec(name)
    if found is None or found.loader is None:
        raise ImportError(f"No module named {name!r}", name=name)
    found.loader = importlib.util.LazyLoader(found.loader)
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module
    found.loader.exec_module(module)
    return module


# Importing the validator takes longer than the rest of a load; a document already found valid never needs it.
openapi_spec_validator = _on_first_use("openapi_spec_validator")


def read(path: Path) -> dict[str, Any]:
    """Parse the YAML or JSON document at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError("", "readable", f"cannot read {path}: {exc.strerror}") from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise SpecError("", "yaml", f"{path} is not valid YAML at {where}: {problem}") from None
    if not isinstance(document, dict):
        raise SpecError("", "document", f"{path} does not hold an OpenAPI object")
    return document


def check_openapi(document: dict[str, Any]) -> None:
    """Fail with the first OpenAPI 3.2 rule the document breaks."""
    version = str(document.get("openapi", ""))
    if not version.startswith("3.2"):
        raise SpecError("/openapi", "version", f"must be an OpenAPI 3.2.x document, got {version!r}")
    for error in openapi_spec_validator.OpenAPIV32SpecValidator(document).iter_errors():
        path = getattr(error, "path", None) or getattr(error, "absolute_path", [])
        pointer = join(*path)
        raise SpecError(pointer, "openapi-3.2", str(getattr(error, "message", error)))


def resolve_pointer(document: Any, ref: str, where: str) -> Any:
    """The value a local `$ref` points at, or a SpecError naming the reference."""
    if not ref.startswith("#"):
        raise SpecError(where, "$ref", f"only local references are supported, got {ref!r}")
    try:
        node = get(document, ref[1:])
    except PointerError:
        node = MISSING
    if node is MISSING:
        raise SpecError(where, "$ref", f"{ref} does not resolve")
    return node


def dereference(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with every local `$ref` inlined; siblings of `$ref` are kept."""
    done: dict[str, Any] = {}

    def walk(node: Any, where: str, stack: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref in stack:
                    raise SpecError(where, "$ref", f"{ref} refers to itself")
                if ref not in done:
                    target = resolve_pointer(document, ref, where)
                    done[ref] = walk(target, ref[1:], (*stack, ref))
                resolved = done[ref]
                siblings = {k: walk(v, where + join(k), stack) for k, v in node.items() if k != "$ref"}
                if siblings and isinstance(resolved, dict):
                    return {**resolved, **siblings}
                return resolved
            return {k: walk(v, where + join(k), stack) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{where}/{i}", stack) for i, v in enumerate(node)]
        return node

    result = walk(document, "", ())
    assert isinstance(result, dict)
    return result


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each (method, path template, operation object) of the document's paths."""
    for path, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield method, path, op


def check_operation_ids(document: dict[str, Any]) -> None:
    """Every operation has a unique operationId."""
    seen: dict[str, str] = {}
    for method, path, op in operations(document):
        pointer = join("paths", path, method)
        op_id = op.get("operationId")
        if not op_id:
            raise SpecError(pointer, "operationId", "every operation must have an operationId")
        if op_id in seen:
            raise SpecError(pointer, "operationId", f"{op_id!r} is already used by {seen[op_id]}")
        seen[op_id] = pointer


def _examples_of(node: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    """(pointer, schema, example value) for every example next to a schema."""
    if isinstance(node, dict):
        schema = node.get("schema", node.get("itemSchema"))
        if "schema" in node and "example" in node:
            yield f"{where}/example", node["schema"], node["example"]
        if isinstance(node.get("schema"), dict):
            yield from _schema_examples(node["schema"], f"{where}/schema")
        if schema is not None and isinstance(node.get("examples"), dict):
            for name, ex in node["examples"].items():
                if isinstance(ex, dict) and "value" in ex:
                    yield where + join("examples", name, "value"), schema, ex["value"]
        for key, value in node.items():
            if key in ("example", "examples", "schema"):
                continue
            yield from _examples_of(value, where + join(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _examples_of(value, f"{where}/{i}")


_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_ONE = ("items", "not", "additionalProperties", "contentSchema", "if", "then", "else", "contains")


def _schema_examples(schema: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    """(pointer, schema, example) for the `example` keyword of a schema and its subschemas."""
    if not isinstance(schema, dict):
        return
    if "example" in schema:
        yield f"{where}/example", {k: v for k, v in schema.items() if k != "example"}, schema["example"]
    for name, sub in (schema.get("properties") or {}).items():
        yield from _schema_examples(sub, where + join("properties", name))
    for key in _SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            yield from _schema_examples(sub, f"{where}/{key}/{i}")
    for key in _SUBSCHEMA_ONE:
        yield from _schema_examples(schema.get(key), f"{where}/{key}")


def check_examples(resolved: dict[str, Any]) -> int:
    """Validate every example against its schema; returns how many were checked."""
    count = 0
    media_examples = list(_examples_of(resolved.get("paths", {}), "/paths"))
    media_examples += list(_examples_of(resolved.get("components", {}).get("responses", {}), "/components/responses"))
    for pointer, schema, value in media_examples:
        count += 1
        if isinstance(value, str) and _is_stream_example(pointer):
            continue
        compiled = Schema(schema)
        for violation in compiled.violations(copy.deepcopy(value)):
            raise SpecError(pointer, "example", f"does not match its schema: {violation}")
    schemas = resolved.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        for pointer, sub, value in _schema_examples(schema, join("components", "schemas", name)):
            count += 1
            for violation in Schema(sub).violations(value):
                raise SpecError(pointer, "example", f"does not match its schema: {violation}")
    return count


def _is_stream_example(pointer: str) -> bool:
    return "text~1event-stream" in pointer
