"""JSON pointers (RFC 6901) into contract documents, request and response bodies and event data.

The one implementation for every package. Reading never raises for a value that is not there: `get` answers
`MISSING` (or a given default), since a missing value is a finding, not a crash. A malformed pointer is a
`PointerError`. `*` stands for every item of a list where a pattern is asked for (`parse_pattern`, `expand`,
`schema_at`); everywhere else it is an ordinary key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from spec._errors import PointerError

__all__ = [
    "EACH",
    "MISSING",
    "PointerError",
    "Token",
    "escape",
    "expand",
    "get",
    "join",
    "parse",
    "parse_pattern",
    "replaced",
    "schema_at",
    "set",
    "substituted",
    "unescape",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


class _Each:
    def __repr__(self) -> str:
        return "*"


MISSING: Final = _Missing()
"""What `get` and `expand` answer for a value that is not there."""
EACH: Final = _Each()
"""The `*` token of a pattern: every item of a list."""
Token = str | _Each


def escape(token: str) -> str:
    """One reference token written for a pointer: `~` as `~0`, `/` as `~1`."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """One reference token of a pointer as the key it names."""
    return token.replace("~1", "/").replace("~0", "~")


def join(*tokens: str | int) -> str:
    """The pointer to the value the keys or indices lead to: `join("paths", "/jobs", "get")` is `/paths/~1jobs/get`."""
    return "".join("/" + escape(str(token)) for token in tokens)


def parse(pointer: str) -> list[str]:
    """The keys a pointer names, in order: `/a~1b/0` is `['a/b', '0']`; `` is the whole document."""
    return [unescape(raw) for raw in _tokens(pointer)]


def parse_pattern(pointer: str) -> list[Token]:
    """`parse`, with each `*` token as `EACH`: `/predictions/*/epoch` is `['predictions', EACH, 'epoch']`."""
    return [EACH if raw == "*" else unescape(raw) for raw in _tokens(pointer)]


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PointerError(pointer, "a JSON pointer starts with / (or is empty for the whole document)")
    return pointer[1:].split("/")


def _step(node: Any, key: str) -> Any:
    if isinstance(node, Mapping):
        return node.get(key, MISSING)
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    return MISSING


def get(document: Any, pointer: str, default: Any = MISSING) -> Any:
    """The value at `pointer`, or `default` (MISSING unless given) when it is not there."""
    node = document
    for key in parse(pointer):
        node = _step(node, key)
        if node is MISSING:
            return default
    return node


def expand(document: Any, pointer: str) -> list[tuple[str, Any]]:
    """(concrete pointer, value) for every value a pattern reaches; a step that is not there gives MISSING."""
    found: list[tuple[str, Any]] = [("", document)]
    for token in parse_pattern(pointer):
        following: list[tuple[str, Any]] = []
        for where, node in found:
            if node is MISSING:
                following.append((where, MISSING))
            elif token is EACH:
                if isinstance(node, list):
                    following += [(f"{where}/{i}", item) for i, item in enumerate(node)]
                else:
                    following.append((f"{where}/*", MISSING))
            else:
                assert isinstance(token, str)
                following.append((f"{where}/{escape(token)}", _step(node, token)))
        found = following
    return found


def set(document: Any, pointer: str, value: Any) -> None:
    """Put `value` at `pointer` in place, creating the objects on the way; `-` appends to a list."""
    keys = parse(pointer)
    if not keys:
        raise PointerError(pointer, "cannot set the whole document; name a member")
    node = document
    for depth, key in enumerate(keys[:-1]):
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise PointerError(pointer, f"{join(*keys[: depth + 1])} is not an object or an item of a list")
    last = keys[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last == "-":
        node.append(value)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    else:
        raise PointerError(pointer, f"cannot set {last!r} in {type(node).__name__}")


def replaced(document: Any, pointer: str, value: Any) -> Any:
    """A copy of `document` with `value` at `pointer`; everything else is shared. Its parent must exist."""
    keys = parse(pointer)
    if not keys:
        return value
    head, last = keys[0], keys[1:]
    rest = join(*last)
    if isinstance(document, Mapping):
        inner = document.get(head, MISSING)
        if last and inner is MISSING:
            raise PointerError(pointer, f"there is no {join(head)} to follow")
        return {**document, head: replaced(inner, rest, value) if last else value}
    if isinstance(document, list) and head.isdigit() and int(head) < len(document):
        index = int(head)
        return [replaced(item, rest, value) if i == index else item for i, item in enumerate(document)]
    raise PointerError(pointer, f"cannot follow {join(head)} into {type(document).__name__}")


def substituted(document: Any, values: Mapping[str, Any]) -> Any:
    """A copy of `document` where every string equal to a key of `values` becomes its value."""
    if isinstance(document, Mapping):
        return {key: substituted(item, values) for key, item in document.items()}
    if isinstance(document, list):
        return [substituted(item, values) for item in document]
    if isinstance(document, str) and document in values:
        return values[document]
    return document


def schema_at(schema: Any, pointer: str) -> Mapping[str, Any]:
    """The JSON Schema of the value at a data pointer (`*` or an index: a list's items); {} when undeclared.

    Properties are looked up in the schema and its `allOf` parts: `schema_at(body, "/predictions/*/epoch")`.
    """
    node: Mapping[str, Any] = schema if isinstance(schema, Mapping) else {}
    for token in parse_pattern(pointer):
        if isinstance(token, str) and not (token.isdigit() and "items" in node):
            # A later `allOf` part restates a property more precisely than the ones before it.
            found = next((p[token] for p in reversed(_parts(node)) if token in p), None)
        else:
            found = node.get("items")
        node = found if isinstance(found, Mapping) else {}
    return node


def _parts(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The `properties` of a schema and of each `allOf` part, in that order."""
    parts = [schema, *(p for p in schema.get("allOf") or [] if isinstance(p, Mapping))]
    return [p["properties"] for p in parts if isinstance(p.get("properties"), Mapping)]
