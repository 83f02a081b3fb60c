"""`spec.pointers` (RFC 6901 JSON pointers, `*` patterns) and `Operation.path_for`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import spec
from spec import pointers
from spec.pointers import EACH, MISSING, PointerError

DOCUMENT: dict[str, Any] = {
    "job": {"id": "j1", "a/b": {"m~n": 1}},
    "predictions": [{"epoch": 1, "tags": ["x"]}, {"epoch": 2}],
    "": "empty key",
}


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("", DOCUMENT),
        ("/job/id", "j1"),
        ("/job/a~1b/m~0n", 1),
        ("/predictions/1/epoch", 2),
        ("/predictions/0/tags/0", "x"),
        ("/", "empty key"),
    ],
)
def test_get_follows_keys_indices_and_escapes(pointer: str, value: Any) -> None:
    assert pointers.get(DOCUMENT, pointer) == value


@pytest.mark.parametrize("pointer", ["/nope", "/job/id/deeper", "/predictions/2", "/predictions/x", "/predictions/-1"])
def test_get_answers_missing_or_the_default_for_what_is_not_there(pointer: str) -> None:
    assert pointers.get(DOCUMENT, pointer) is MISSING
    assert pointers.get(DOCUMENT, pointer, None) is None


def test_a_pointer_without_its_leading_slash_is_refused_with_the_rule() -> None:
    with pytest.raises(PointerError, match=r"'job/id': a JSON pointer starts with /"):
        pointers.get(DOCUMENT, "job/id")
    assert issubclass(PointerError, ValueError)
    assert issubclass(PointerError, spec.SpecError)


def test_parse_join_and_escape_round_trip() -> None:
    keys = ["paths", "/api/{id}", "a~b", "0"]
    pointer = pointers.join(*keys)
    assert pointer == "/paths/~1api~1{id}/a~0b/0"
    assert pointers.parse(pointer) == keys
    assert pointers.join() == ""
    assert pointers.join("predictions", 0) == "/predictions/0"
    assert pointers.parse_pattern("/predictions/*/epoch") == ["predictions", EACH, "epoch"]
    assert pointers.parse("/predictions/*") == ["predictions", "*"]


def test_expand_walks_every_item_for_a_star() -> None:
    epochs = pointers.expand(DOCUMENT, "/predictions/*/epoch")
    assert epochs == [("/predictions/0/epoch", 1), ("/predictions/1/epoch", 2)]
    assert pointers.expand(DOCUMENT, "/predictions/*/tags") == [
        ("/predictions/0/tags", ["x"]),
        ("/predictions/1/tags", MISSING),
    ]
    assert pointers.expand(DOCUMENT, "/job/*") == [("/job/*", MISSING)]
    assert pointers.expand(DOCUMENT, "") == [("", DOCUMENT)]


def test_replaced_copies_and_leaves_the_original_alone() -> None:
    original = copy.deepcopy(DOCUMENT)
    changed = pointers.replaced(DOCUMENT, "/predictions/1/epoch", 9)
    assert changed["predictions"][1] == {"epoch": 9}
    assert changed["job"] is DOCUMENT["job"]
    assert original == DOCUMENT
    assert pointers.replaced(DOCUMENT, "/job/new", 1)["job"]["new"] == 1
    assert pointers.replaced(DOCUMENT, "", 5) == 5
    with pytest.raises(PointerError, match="there is no /absent"):
        pointers.replaced(DOCUMENT, "/absent/key", 1)
    with pytest.raises(PointerError, match="into str"):
        pointers.replaced(DOCUMENT, "/job/id/key", 1)


def test_set_creates_objects_on_the_way_and_appends_with_a_dash() -> None:
    data: dict[str, Any] = {"rows": [{"a": 1}]}
    pointers.set(data, "/prediction/job_id", "j1")
    pointers.set(data, "/rows/0/a", 2)
    pointers.set(data, "/rows/-", {"a": 3})
    assert data == {"rows": [{"a": 2}, {"a": 3}], "prediction": {"job_id": "j1"}}
    with pytest.raises(PointerError, match="cannot set the whole document"):
        pointers.set(data, "", 1)
    with pytest.raises(PointerError, match="/rows/5 is not an object"):
        pointers.set(data, "/rows/5/a", 1)


def test_substituted_replaces_equal_strings_only() -> None:
    document = {"job_id": "job_x", "note": "job_x and more", "ids": ["job_x", 3], "job_x": "key stays"}
    assert pointers.substituted(document, {"job_x": "j1"}) == {
        "job_id": "j1",
        "note": "job_x and more",
        "ids": ["j1", 3],
        "job_x": "key stays",
    }


def test_schema_at_follows_properties_all_of_and_items() -> None:
    schema = {
        "type": "object",
        "allOf": [{"properties": {"jobs": {"type": "array", "items": {"properties": {"id": {"type": "string"}}}}}}],
        "properties": {"config": {"properties": {"limit": {"type": "integer", "default": 5}}}},
    }
    assert pointers.schema_at(schema, "/config/limit") == {"type": "integer", "default": 5}
    assert pointers.schema_at(schema, "/jobs/*/id") == {"type": "string"}
    assert pointers.schema_at(schema, "/jobs/0/id") == {"type": "string"}
    assert pointers.schema_at(schema, "/jobs/*/absent") == {}
    assert pointers.schema_at(schema, "") is schema


def test_the_contract_documents_own_pointers_resolve() -> None:
    contract = spec.load()
    op = contract.operations["get_prediction_trends"]
    assert pointers.get(contract.document, op.pointer)["operationId"] == "get_prediction_trends"


def test_path_for_quotes_each_parameter() -> None:
    op = spec.load().operations["get_prediction_trends"]
    assert op.path_for(jobId="job_1") == "/api/training/predictions/job_1/trends"
    assert op.path_for(jobId="a b/c?") == "/api/training/predictions/a%20b%2Fc%3F/trends"
    assert spec.load().operations["create_job"].path_for() == "/api/training/local/jobs"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "no value for jobId"),
        ({"jobId": ""}, "no value for jobId"),
        ({"jobId": "j", "job": "j"}, r"no path parameter job \(it takes jobId\)"),
    ],
)
def test_path_for_names_a_missing_or_unknown_parameter(params: dict[str, str], message: str) -> None:
    op = spec.load().operations["get_prediction_trends"]
    with pytest.raises(spec.SpecError, match=message) as raised:
        op.path_for(**params)
    assert raised.value.rule == "path-parameters"
    assert raised.value.pointer == op.pointer
