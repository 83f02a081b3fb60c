"""Our HTTP checks for rules Schemathesis has no check for, registered with Schemathesis and run beside its own.

Each reads its rule from the operation's definition in the spec (for example `x-pagination`).
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis import CheckContext, Response
from schemathesis.generation.case import Case

from contracts.pointers import resolve


def _limit_default(raw: dict[str, Any], name: str) -> Any:
    for parameter in raw.get("parameters") or ():
        if isinstance(parameter, dict) and parameter.get("name") == name and parameter.get("in") == "query":
            schema = parameter.get("schema") or {}
            return schema.get("default") if isinstance(schema, dict) else None
    return None


@schemathesis.check
def pagination_limit(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A paginated list never returns more items than the `limit` asked for (or its default) allows."""
    rule = case.operation.definition.raw.get("x-pagination")
    if not isinstance(rule, dict) or not 200 <= response.status_code < 300:
        return None
    name = str(rule.get("limit", "limit"))
    limit = (case.query or {}).get(name, _limit_default(case.operation.definition.raw, name))
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        return None
    try:
        items = resolve(json.loads(response.content), str(rule["items"]))
    except ValueError:
        return None
    if isinstance(items, list) and len(items) > limit:
        raise AssertionError(f"{len(items)} items at {rule['items']} for {name}={limit}: the limit was ignored")
    return None
