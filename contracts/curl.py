"""Copy-pasteable curl commands for the requests the gate sends itself, with credentials filtered out.

Schemathesis writes its own; these follow the same form so a report reads the same everywhere.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

FILTERED = "[Filtered]"


def curl(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    *,
    secret_headers: Iterable[str] = ("authorization",),
    stream: bool = False,
) -> str:
    """`curl` for one request; values of `secret_headers` are replaced by [Filtered]."""
    secrets = {name.lower() for name in secret_headers}
    parts = ["curl", "-N"] if stream else ["curl"]
    if method.upper() != "GET":
        parts += ["-X", method.upper()]
    for name, value in (headers or {}).items():
        shown = FILTERED if name.lower() in secrets else value
        parts += ["-H", shlex.quote(f"{name}: {shown}")]
    if body is not None:
        parts += ["-H", shlex.quote("Content-Type: application/json")]
        parts += ["-d", shlex.quote(json.dumps(body, separators=(",", ":")))]
    parts.append(shlex.quote(url))
    return " ".join(parts)
