"""References in manifest arguments to the state of a run: `${demo:job_id}`, `${response:new_job/job_token}`.

A string that is exactly one reference becomes the referenced value (any type); references inside a
longer string are interpolated as text. Sources: demo, target, env, data, response, result, run, tmp.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.sdk.mapping import expand, parse_pointer
from spec import pointers

REF = re.compile(r"\$\{(?P<source>[a-z]+):(?P<rest>[^}]*)\}")
DEMO_FIELDS = ("url", "api_key", "jwt", "job_token", "job_id")
TARGET_FIELDS = ("url", "admin")
SOURCES = {
    "demo": f"one of {', '.join(DEMO_FIELDS)} (the mock's demo credentials)",
    "target": f"one of {', '.join(TARGET_FIELDS)} (where the SDK is pointed)",
    "env": "an environment variable name",
    "data": "a JSON pointer into the mock's data at the start of the run (GET /__mock/data)",
    "response": "<call id>/<JSON pointer> into the response an earlier call got",
    "result": "<call id>/<pointer> into the value an earlier call returned (attributes or keys)",
    "run": "id (a value unique to this run)",
    "tmp": "dir (a temporary directory of this run)",
}


class RefError(ValueError):
    """A reference that does not resolve."""


def references(value: Any) -> Iterator[tuple[str, str]]:
    """Every (source, rest) referenced anywhere in an argument value."""
    if isinstance(value, str):
        for found in REF.finditer(value):
            yield found.group("source"), found.group("rest")
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from references(item)


def syntax_problem(source: str, rest: str) -> str | None:
    """Why a reference is malformed, or None."""
    if source not in SOURCES:
        return f"unknown source {source!r}; use one of {', '.join(SOURCES)}"
    expected = SOURCES[source]
    if source == "demo" and rest not in DEMO_FIELDS:
        return f"${{demo:…}} takes {expected}"
    if source == "target" and rest not in TARGET_FIELDS:
        return f"${{target:…}} takes {expected}"
    if source in ("run", "tmp") and rest not in ("id", "dir"):
        return f"${{{source}:…}} takes {expected}"
    if source in ("response", "result") and not re.fullmatch(r"[A-Za-z0-9_.\-]+(/.*)?", rest):
        return f"${{{source}:…}} takes {expected}"
    if source == "data" and rest and not rest.startswith("/"):
        return f"${{data:…}} takes {expected}"
    return None


def call_of(rest: str) -> str:
    """The call id a response/result reference names."""
    return rest.split("/", 1)[0]


@dataclass
class RunState:
    """What references resolve against; calls add their responses and results as they run."""

    demo: Mapping[str, str | None]
    target: Mapping[str, str]
    run_id: str
    tmp_dir: str
    data: Callable[[], Any]
    responses: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def lookup(self, source: str, rest: str) -> Any:
        """The value of one reference; RefError when there is none."""
        value = self._lookup(source, rest)
        if value is pointers.MISSING or value is None:
            raise RefError(f"${{{source}:{rest}}} has no value in this run")
        return value

    def _lookup(self, source: str, rest: str) -> Any:
        match source:
            case "demo":
                return self.demo.get(rest)
            case "target":
                return self.target.get(rest)
            case "env":
                return self.environ.get(rest)
            case "run":
                return self.run_id
            case "tmp":
                return self.tmp_dir
            case "data":
                return pointers.get(self.data(), rest)
            case "response" | "result":
                call, _, pointer = rest.partition("/")
                store = self.responses if source == "response" else self.results
                if call not in store:
                    raise RefError(f"${{{source}:{rest}}}: call {call!r} has not run or got no {source}")
                return _walk(store[call], f"/{pointer}" if pointer else "")
        raise RefError(f"${{{source}:{rest}}}: unknown source")

    def resolve(self, value: Any) -> Any:
        """`value` with every reference replaced."""
        if isinstance(value, str):
            whole = REF.fullmatch(value)
            if whole:
                return self.lookup(whole.group("source"), whole.group("rest"))
            return REF.sub(lambda m: str(self.lookup(m.group("source"), m.group("rest"))), value)
        if isinstance(value, Mapping):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value


def _walk(root: Any, pointer: str) -> Any:
    tokens = parse_pointer(pointer)
    if pointers.EACH in tokens:
        raise RefError(f"{pointer}: a reference names one value; * is not allowed")
    (_, value), *_ = expand(root, tokens)
    return value
