"""JSON pointers (RFC 6901) into response and event data, as the spec's extensions name them.

`resolve` returns `MISSING` instead of raising, since a missing value is a finding, not a crash.
"""

from __future__ import annotations

from typing import Any, Final


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer` in `document`, or MISSING."""
    if pointer in ("", "/"):
        return document
    node = document
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return MISSING
    return node


def replaced(document: Any, pointer: str, value: Any) -> Any:
    """A copy of `document` with `value` at `pointer` (which must exist, except for its last token)."""
    if pointer in ("", "/"):
        return value
    head, _, last = pointer.rpartition("/")
    token = last.replace("~1", "/").replace("~0", "~")
    parent = resolve(document, head)
    if isinstance(parent, dict):
        new_parent: Any = {**parent, token: value}
    elif isinstance(parent, list) and token.isdigit():
        new_parent = [value if i == int(token) else item for i, item in enumerate(parent)]
    else:
        raise KeyError(pointer)
    return replaced(document, head, new_parent) if head else new_parent


def substituted(document: Any, values: dict[str, Any]) -> Any:
    """A copy of `document` where every string equal to a key of `values` becomes its value."""
    if isinstance(document, dict):
        return {key: substituted(item, values) for key, item in document.items()}
    if isinstance(document, list):
        return [substituted(item, values) for item in document]
    if isinstance(document, str) and document in values:
        return values[document]
    return document
