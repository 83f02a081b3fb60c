"""OpenAPI Overlay 1.0 documents: read, checked, and applied to a contract document with `oas-patch`.

An overlay is checked against the Overlay 1.0 JSON Schema that `oas-patch` ships, then each action must say
what it does (`update`, or `remove: true`, not both) and its JSONPath `target` must select at least one node of
the document it is applied to (speakeasy's `--strict`): an action that selects nothing is a design whose base
moved under it. The actions themselves are applied by `oas_patch.apply_overlay` (jsonpath-ng's extended
JSONPath), never by hand. Every failure is an `OverlayError` naming the file, the action and the rule.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonpath_ng.ext import parse as jsonpath

from spec._document import _on_first_use, read
from spec._errors import OverlayError, SpecError
from spec._schema import Schema

# Importing oas-patch takes a third of a second (its command line comes with it); only designs need it.
oas_patch = _on_first_use("oas_patch")

SCHEMA_FILE = "overlay_schema_1.0.0.yml"


def _schema() -> Schema:
    """The Overlay 1.0 JSON Schema bundled with oas-patch, compiled."""
    text = resources.files("oas_patch.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return Schema(yaml.safe_load(text))


def read_overlay(path: Path) -> dict[str, Any]:
    """The overlay document at `path`, checked against the Overlay 1.0 schema and the rules of its actions."""
    try:
        document = read(path)
    except SpecError as exc:
        raise OverlayError(path, None, exc.rule, exc.message) from None
    if not str(document.get("overlay", "")).startswith("1.0."):
        raise OverlayError(
            path, None, "overlay-version", f"must be an Overlay 1.0.x document, got {document.get('overlay')!r}"
        )
    for violation in _schema().violations(document, "overlay"):
        index = _action_index(violation.location)
        raise OverlayError(path, index, "overlay-1.0", str(violation))
    for index, action in enumerate(document["actions"]):
        _check_action(path, index, action)
    return document


def _action_index(location: str) -> int | None:
    """The action a schema violation is in (`overlay.actions[2].update` is 2), if any."""
    _, sep, rest = location.partition("actions[")
    if not sep:
        return None
    number = rest.split("]", 1)[0]
    return int(number) if number.isdigit() else None


def _check_action(path: Path, index: int, action: Mapping[str, Any]) -> None:
    removes = action.get("remove") is True
    if removes == ("update" in action):
        rule = "update and remove: true together" if removes else "neither update nor remove: true"
        raise OverlayError(
            path, index, "overlay-action", f"an action needs exactly one of update or remove: true, got {rule}"
        )
    try:
        jsonpath(str(action["target"]))
    except Exception as exc:  # jsonpath-ng raises lexer, parser and plain errors alike
        raise OverlayError(path, index, "jsonpath", f"target {action['target']!r} is not a JSONPath: {exc}") from None


def apply(document: Mapping[str, Any], overlay: Mapping[str, Any], path: Path, base: str) -> dict[str, Any]:
    """A new document: `overlay` (read from `path`) applied to a copy of `document` (read from `base`).

    Actions apply in order, each to the result of the ones before it, so every target is checked on the
    document it will change; one that selects nothing is an OverlayError.
    """
    result: dict[str, Any] = copy.deepcopy(dict(document))
    for index, action in enumerate(overlay["actions"]):
        target = str(action["target"])
        if not jsonpath(target).find(result):
            raise OverlayError(path, index, "overlay-target", f"target {target} selects nothing in {base}")
        try:
            result = oas_patch.apply_overlay(result, {"actions": [action]})
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise OverlayError(path, index, "overlay-apply", f"target {target}: {exc}") from None
    return result
