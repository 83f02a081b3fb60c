"""Our HTTP checks for rules Schemathesis has no check for, registered with Schemathesis and run beside its own.

Each reads its rule from the operation's definition in the spec (for example `x-pagination`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import schemathesis
from schemathesis import CheckContext, Response
from schemathesis.core.failures import CustomFailure
from schemathesis.generation.case import Case

from contracts.checks import Kind, declare
from spec import pointers


def _query_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _items(response: Response, pointer: str) -> list[Any] | None:
    if not 200 <= response.status_code < 300:
        return None
    try:
        items = pointers.get(json.loads(response.content), pointer)
    except ValueError:
        return None
    return items if isinstance(items, list) else None


@schemathesis.check
class pagination_limit:  # lower case: the class name is the check name reports show
    """A paginated list (`x-pagination`) never returns more items than `limit` asks for.

    Every list answer is checked against the `limit` it was asked with; once per operation, a list
    with several items is asked for again with a smaller `limit`, so an ignored limit shows even
    when the generated limits were all large.
    """

    def __init__(self) -> None:
        self.probed: set[str] = set()
        self.lock = threading.Lock()

    def after_response(self, ctx: CheckContext, response: Response, case: Case) -> bool | None:
        rule = case.operation.definition.raw.get("x-pagination")
        if not isinstance(rule, dict):
            return None
        name, pointer = str(rule.get("limit", "limit")), str(rule["items"])
        items = _items(response, pointer)
        if items is None:
            return None
        limit = _query_int((case.query or {}).get(name))
        if limit is not None and limit >= 1 and len(items) > limit:
            raise AssertionError(f"{len(items)} items at {pointer} for {name}={limit}: the limit was ignored")
        if len(items) >= 2 and (limit is None or limit >= len(items)):
            self._probe(ctx, case, name, pointer, len(items) - 1)
        return None

    def _probe(self, ctx: CheckContext, case: Case, name: str, pointer: str, smaller: int) -> None:
        with self.lock:
            if case.operation.label in self.probed:
                return
        probe = case.derive(query={**(case.query or {}), name: smaller}, keep_auth=True)
        ctx.internals.record_case(parent_id=case.id, case=probe)
        answer = case.operation.schema.transport.send(probe, **dict(ctx.internals.transport_kwargs or {}))
        ctx.internals.record_response(case_id=probe.id, response=answer)
        items = _items(answer, pointer)
        if items is None:
            return
        with self.lock:
            self.probed.add(case.operation.label)
        if len(items) > smaller:
            message = f"{len(items)} items at {pointer} for {name}={smaller}: the limit was ignored"
            raise CustomFailure(
                operation=case.operation.label,
                title="Custom check failed: `pagination_limit`",
                message=message,
                exception=AssertionError(message),
                case_id=probe.id,
            )


declare("pagination_limit", Kind.HTTP, function=pagination_limit)
