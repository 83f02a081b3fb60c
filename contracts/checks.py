"""The gate's checks, registered once: each with its name, kind, whether a failure fails the run, and its function.

A check module registers its rules with `@check(Kind.…)` (or `declare`, for a function registered elsewhere too);
runners call each registered function over what they observed, report writers read `CHECKS` and `names(kind)`.
`excerpt` is the one way a failure shows a response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

EXCERPT = 600
"""How many characters of a response body a failure shows."""


class Kind(StrEnum):
    """What a check looks at."""

    HTTP = "http"
    PRE_STREAM = "pre-stream"
    STREAM = "stream"
    LIVE = "live"
    LIFECYCLE = "lifecycle"
    OWNERSHIP = "ownership"
    SDK = "sdk"
    SDK_CALL = "sdk-call"
    CLIENT = "client"


@dataclass(frozen=True)
class Check:
    """One rule: its name, kind, whether its failure fails the run, the function that judges it and when it applies.

    Its runner gathers an observation (a capture, a followed link, an attempt) and calls `function` over it;
    `applies` is None for a rule that applies to everything its kind looks at.
    """

    name: str
    kind: Kind
    function: Callable[..., Any]
    fails_run: bool = True
    applies: Callable[..., bool] | None = None
    rule: str = ""
    """What the check demands, for reports that list their checks."""


_REGISTRY: dict[str, Check] = {}
CHECKS: Mapping[str, Check] = MappingProxyType(_REGISTRY)


def declare(
    name: str,
    kind: Kind,
    function: Callable[..., Any],
    *,
    fails_run: bool = True,
    applies: Callable[..., bool] | None = None,
    rule: str = "",
) -> str:
    """Register one check by name with the function that judges it (ValueError on a name taken twice); the name."""
    if name in _REGISTRY:
        raise ValueError(f"check {name!r} is registered twice ({_REGISTRY[name].kind} and {kind})")
    _REGISTRY[name] = Check(name, kind, function, fails_run, applies, rule)
    return name


def check(kind: Kind, *, fails_run: bool = True, applies: Callable[..., bool] | None = None) -> Callable[[F], F]:
    """Register the decorated function as a check named after it (applying where `applies` says, if given)."""

    def register(function: F) -> F:
        declare(function.__name__, kind, function, fails_run=fails_run, applies=applies)
        return function

    return register


def of_kind(kind: Kind) -> tuple[Check, ...]:
    """The checks of one kind, in the order they were registered."""
    return tuple(c for c in _REGISTRY.values() if c.kind == kind)


def names(*kinds: Kind) -> tuple[str, ...]:
    """The names of the checks of the given kinds, kind by kind, each in registration order."""
    return tuple(c.name for kind in kinds for c in of_kind(kind))


def excerpt(status: int, content_type: str | None, body: bytes | str, limit: int = EXCERPT) -> str:
    """A response for a failure message: `HTTP 400 (application/json)` and the start of the body."""
    text = body[:limit] if isinstance(body, str) else body[:limit].decode("utf-8", errors="replace")
    more = " …" if len(body) > limit else ""
    return f"HTTP {status} ({content_type or 'no Content-Type'})\n{text}{more}"
