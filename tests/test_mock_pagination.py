"""Paging in the mock, driven by the spec: every `x-pagination` operation slices its full list.

`limit`/`offset` (named by the operation's rule) select items `[offset, offset + limit)` of the
array the rule points at; operations without the rule, like `list_jobs`, ignore them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import ALICE_KEY, ALICE_PRODUCTION_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, MockProcess

import spec
from spec import pointers

CONTRACT = spec.load()
KEY = {"X-API-Key": ALICE_KEY}
SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
# operationId -> (path parameters, other query parameters, credentials) of a list with at least 4 items
LISTS: dict[str, tuple[dict[str, str], dict[str, str], dict[str, str]]] = {
    "get_predictions": ({"jobId": DEMO_JOB}, {}, KEY),
    "list_local_jobs": ({}, {}, KEY),
    "get_logs": ({"jobId": DEMO_JOB}, {}, KEY),
    "list_local_metrics": ({}, {"job_id": DEMO_JOB}, KEY),
    "preview_dataset": ({"id": "5b0e7c3a-2f41-4d8e-9c61-7a3d2e9f0b14"}, {}, SESSION),
    "list_traces": ({}, {}, {"X-API-Key": ALICE_PRODUCTION_KEY}),
}
PAGED = sorted(op.operation_id for op in CONTRACT.operations.values() if op.pagination)


def items(mock: MockProcess, op_id: str, limit: int, offset: int) -> list[Any]:
    op = CONTRACT.operations[op_id]
    rule = op.pagination
    assert rule is not None
    path_params, query, headers = LISTS[op_id]
    params = {**query, rule["limit"]: limit, rule["offset"]: offset}
    response = httpx.get(mock.url + op.path_for(**path_params), params=params, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return list(pointers.get(response.json(), str(rule["items"])))


def largest_limit(op_id: str) -> int:
    op = CONTRACT.operations[op_id]
    rule = op.pagination
    assert rule is not None
    param = op.parameter(rule["limit"], "query")
    assert param is not None
    return int(param.raw_schema.get("maximum", 1000))


def test_every_paginated_operation_has_a_list_here() -> None:
    assert sorted(LISTS) == PAGED


@pytest.mark.parametrize("op_id", PAGED)
def test_limit_and_offset_slice_the_full_list(mock: MockProcess, op_id: str) -> None:
    whole = items(mock, op_id, largest_limit(op_id), 0)
    assert len(whole) >= 4, "the demo data needs a longer list for this check"
    assert items(mock, op_id, 2, 1) == whole[1:3]
    assert items(mock, op_id, 1, len(whole) - 1) == whole[-1:]
    assert items(mock, op_id, 3, len(whole)) == []


def test_list_jobs_is_not_paginated(mock: MockProcess) -> None:
    assert CONTRACT.operations["list_jobs"].pagination is None
    url = mock.url + CONTRACT.operations["list_jobs"].path
    whole = httpx.get(url, headers=KEY).json()["jobs"]
    assert httpx.get(url, params={"limit": 1, "offset": 2}, headers=KEY).json()["jobs"] == whole
    assert len(whole) > 2
