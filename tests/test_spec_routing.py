"""The contract's one router: literal segments first, path parameter schemas respected, NONE / PARTIAL / FULL.

`Contract.match` and the mock both route with it; the mock's 404 and 405 are checked in tests/test_mock_routing.py.
"""

from __future__ import annotations

from typing import Any

import pytest

import spec
from spec import Match, Router
from spec._operation import build_operation

CONTRACT = spec.load()
ROUTER = CONTRACT.router


def operation(method: str, path: str, operation_id: str, **path_schemas: dict[str, Any]) -> spec.Operation:
    parameters = [{"name": n, "in": "path", "required": True, "schema": s} for n, s in path_schemas.items()]
    raw = {"operationId": operation_id, "parameters": parameters, "responses": {"200": {"description": "ok"}}}
    return build_operation(method, path, raw, {}, None)


@pytest.mark.parametrize(
    ("path", "operation_id"),
    [
        ("/api/training/jobs", "list_jobs"),
        ("/api/training/dataset/available", "list_available_datasets"),
        ("/api/training/dataset/abc", "preview_dataset"),
    ],
)
def test_literal_segments_win_over_parameters(path: str, operation_id: str) -> None:
    found = ROUTER.match("GET", path)
    assert found.match is Match.FULL
    assert found.operation is CONTRACT.operation(operation_id)


def test_a_full_match_names_its_path_parameters() -> None:
    found = ROUTER.match("PUT", "/api/training/cfg-1")
    assert (found.match, found.operation, dict(found.params)) == (
        Match.FULL,
        CONTRACT.operation("update_config"),
        {"id": "cfg-1"},
    )


def test_a_parameter_whose_schema_refuses_the_segment_does_not_match() -> None:
    # `/api/training/{id}` refuses the sibling literals, so PUT /api/training/jobs is the literal path's 405.
    found = ROUTER.match("PUT", "/api/training/jobs")
    assert (found.match, found.operation, found.allowed) == (Match.PARTIAL, None, ("GET",))


def test_a_served_path_with_another_method_is_partial_with_the_allowed_methods() -> None:
    found = ROUTER.match("PATCH", "/api/training/baselines")
    assert (found.match, found.allowed) == (Match.PARTIAL, ("DELETE", "GET", "POST", "PUT"))
    assert CONTRACT.allowed_methods("/api/training/baselines") == ["DELETE", "GET", "POST", "PUT"]


@pytest.mark.parametrize("path", ["/api/training/nope/deeper/still", "/api/training//status", "/", "api/training/jobs"])
def test_an_unserved_path_is_none(path: str) -> None:
    assert ROUTER.match("GET", path).match is Match.NONE
    assert ROUTER.allowed(path) == ()
    assert CONTRACT.match("GET", path) is None


def test_a_later_template_serves_a_method_the_literal_path_lacks() -> None:
    router = Router(
        [
            operation("POST", "/a/b", "post_b"),
            operation("GET", "/a/{x}", "get_x"),
            operation("GET", "/a/{x}/c", "get_x_c"),
            operation("GET", "/a/b/{y}", "get_b_y"),
        ]
    )
    got = router.match("GET", "/a/b")
    assert (got.match, got.operation and got.operation.operation_id, dict(got.params)) == (
        Match.FULL,
        "get_x",
        {"x": "b"},
    )
    assert router.match("POST", "/a/b").operation.operation_id == "post_b"  # type: ignore[union-attr]
    assert router.match("DELETE", "/a/b").allowed == ("POST",), "the literal path's methods come first"
    left_to_right = router.match("GET", "/a/b/c")
    assert (left_to_right.operation and left_to_right.operation.operation_id) == "get_b_y"


def test_parameter_schemas_are_checked_only_where_a_segment_can_fail() -> None:
    router = Router(
        [
            operation("GET", "/n/{count}", "by_count", count={"type": "integer", "minimum": 1}),
            operation("GET", "/s/{name}", "by_name", name={"type": "string", "minLength": 1}),
        ]
    )
    assert router.match("GET", "/n/3").match is Match.FULL
    assert router.match("GET", "/n/0").match is Match.NONE
    assert router.match("GET", "/n/three").match is Match.NONE
    assert router.match("GET", "/s/anything at all").match is Match.FULL
