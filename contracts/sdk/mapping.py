"""How an SDK method's return value maps to the response it got: `test_id: /test_run_id`, `a[].b: /a/*/b`.

The left side walks the returned value (attributes or keys, `[]` for every item, `[N]` for one);
the right side is a JSON pointer into the response body, `*` for every item. Equal means equal JSON.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.sdk.findings import Finding, failure, warning
from spec import pointers
from spec.pointers import EACH, MISSING, PointerError, parse_pattern

Token = pointers.Token | int
SEGMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)?(?P<index>(\[\d*\])*)$")
INDEX = re.compile(r"\[(\d*)\]")
SHOWN = 80


class MappingError(ValueError):
    """A result path or response pointer that cannot be read."""


def parse_result_path(path: str) -> list[Token]:
    """`predictions[].epoch` -> ['predictions', EACH, 'epoch']; '' is the whole value."""
    tokens: list[Token] = []
    if path == "":
        return tokens
    for segment in path.split("."):
        found = SEGMENT.match(segment)
        if not segment or found is None or (not found.group("name") and not found.group("index")):
            raise MappingError(f"{path!r}: {segment!r} is not a name, optionally followed by [] or [N]")
        if found.group("name"):
            tokens.append(found.group("name"))
        for index in INDEX.findall(found.group("index")):
            tokens.append(int(index) if index else EACH)
    return tokens


def parse_pointer(pointer: str) -> list[Token]:
    """`/predictions/*/epoch` -> ['predictions', EACH, 'epoch']; '' is the whole body."""
    try:
        return list(parse_pattern(pointer))
    except PointerError:
        raise MappingError(f"{pointer!r}: a response pointer starts with / (or is empty for the whole body)") from None


def check_pair(result_path: str, pointer: str) -> None:
    """MappingError unless both sides parse and expand over the same number of lists."""
    left, right = parse_result_path(result_path), parse_pointer(pointer)
    if left.count(EACH) != right.count(EACH):
        raise MappingError(f"{result_path!r} and {pointer!r} must have as many [] as *")


def _step(node: Any, token: str | int) -> Any:
    if isinstance(token, int):
        if isinstance(node, Sequence) and not isinstance(node, str | bytes) and token < len(node):
            return node[token]
        return MISSING
    if isinstance(node, Mapping):
        return node.get(token, MISSING)
    if isinstance(node, list):
        return node[int(token)] if token.isdigit() and int(token) < len(node) else MISSING
    return getattr(node, token, MISSING) if not isinstance(node, str | int | float | bool | type(None)) else MISSING


def expand(root: Any, tokens: Sequence[Token], label: str = "") -> list[tuple[str, Any]]:
    """(concrete path, value) for every value the tokens reach; a list where EACH stands on a non-list."""
    if not tokens:
        return [(label, root)]
    token, rest = tokens[0], tokens[1:]
    if not isinstance(token, str | int):
        if not isinstance(root, Sequence) or isinstance(root, str | bytes):
            return [(label, MISSING)]
        return [pair for i, item in enumerate(root) for pair in expand(item, rest, f"{label}[{i}]")]
    step = f"{label}[{token}]" if isinstance(token, int) else f"{label}.{token}" if label else str(token)
    value = _step(root, token)
    return [(step, MISSING)] if value is MISSING else expand(value, rest, step)


def _pointer_label(tokens: Sequence[Token], indices: Sequence[int]) -> str:
    numbers = iter(indices)
    return "/" + "/".join(str(next(numbers, "*")) if t is EACH else str(t) for t in tokens)


def _indices(label: str) -> list[int]:
    return [int(i) for i in re.findall(r"\[(\d+)\]", label)]


def plain(value: Any) -> Any:
    """A returned value as JSON-like data (dataclasses become dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1, and containers compare member by member."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def show(value: Any) -> str:
    """A short repr for messages."""
    text = repr(plain(value))
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def compare(result: Any, response: Any, mapping: Mapping[str, str]) -> list[Finding]:
    """Findings where the returned value differs from the response under `mapping`."""
    findings: list[Finding] = []
    for result_path, pointer in mapping.items():
        findings.extend(_compare_one(result, response, result_path, pointer))
    return findings


def _compare_one(result: Any, response: Any, result_path: str, pointer: str) -> list[Finding]:
    field = result_path or "(the returned value)"
    left_tokens, right_tokens = parse_result_path(result_path), parse_pointer(pointer)
    right = expand(response, right_tokens)
    if any(value is MISSING for _, value in right) and len(right) == 1:
        return [warning("result_matches", f"the response has no {pointer or 'body'}; {field} not compared", field)]
    left = expand(result, left_tokens)
    if len(left) != len(right):
        return [
            failure(
                "result_matches",
                f"{field} has {len(left)} values but the response's {pointer} has {len(right)}",
                field,
            )
        ]
    findings = []
    for (left_label, mine), (_, theirs) in zip(left, right, strict=True):
        where = left_label or field
        their_pointer = _pointer_label(right_tokens, _indices(left_label))
        if theirs is MISSING:
            continue
        if mine is MISSING:
            findings.append(
                failure(
                    "result_matches",
                    f"the returned value has no {where}; the response's {their_pointer} is {show(theirs)}",
                    where,
                )
            )
        elif not same(plain(mine), theirs):
            findings.append(
                failure(
                    "result_matches",
                    f"{where} is {show(mine)} but the response's {their_pointer} is {show(theirs)}",
                    where,
                )
            )
    return findings
