"""Design variants of the contract: OpenAPI Overlays in spec/designs/, applied with oas-patch and checked like the base.

A broken overlay fails with the file, the action and the rule; a design whose result breaks the contract's own rules
fails like a broken base document, saying which design it was.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import spec
from spec import OverlayError, SpecError

ROOT = Path(__file__).resolve().parent.parent
STREAM_PATH = "$.paths['/api/training/predictions/{jobId}/stream'].get"
# What each bundled design adds to the stream's rules (x-stream-contract), as the spec package reads them.
RULES = {
    "sse-push": (
        "push",
        {"events": ["connected", "prediction"], "pointer": "/trends", "operation_id": "get_prediction_trends"},
    ),
    "sse-epoch-filter": ("filter", {"parameter": "epoch", "item_pointer": "/epoch"}),
    "sse-batched-2s": ("batch", {"items": "/predictions", "window_ms": 2000}),
    "sse-limit": ("limit", {"per": "user", "streams": 6, "status": 429}),
    "sse-gzip": ("content_coding", "gzip"),
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every load here validates the whole OpenAPI document, never a result remembered from another run.
    monkeypatch.setenv("FTL_CACHE_DIR", str(tmp_path / "cache"))


def overlay(tmp_path: Path, *actions: dict[str, Any], version: str = "1.0.0", name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    document = {"overlay": version, "info": {"title": "test", "version": "1"}, "actions": list(actions)}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_the_bundled_designs_are_the_ones_the_issue_names() -> None:
    assert set(spec.designs()) == set(RULES)


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_design_applies_validates_and_adds_its_rule(name: str) -> None:
    contract = spec.load(design=name)
    assert contract.design == name
    assert len(contract.operations) == 63
    key, value = RULES[name]
    assert getattr(contract.stream, key) == value
    base = spec.load()
    assert base.design is None
    assert getattr(base.stream, key) is None


def test_a_design_does_not_change_the_base_contract() -> None:
    before = yaml.safe_dump(dict(spec.load().document))
    spec.load(design="sse-batched-2s")
    assert yaml.safe_dump(dict(spec.load().document)) == before
    assert spec.load().stream.trigger_event == "prediction"


def test_the_batched_design_replaces_the_one_row_event() -> None:
    stream = spec.load(design="sse-batched-2s").stream
    assert stream.event_names == ("connected", "heartbeat", "error", "predictions")
    assert (stream.trigger_event, stream.item_pointer, stream.counter["event"]) == ("predictions", "", "predictions")
    assert stream.items_of({"predictions": [{"a": 1}, {"a": 2}], "total_count": 2}) == [{"a": 1}, {"a": 2}]
    assert {"event": "predictions", "pointer": "/predictions/*/job_id", "path_parameter": "jobId"} in stream.subjects


def test_the_push_design_requires_the_trends_in_its_events() -> None:
    stream = spec.load(design="sse-push").stream
    violations = stream.check_event_data("connected", '{"jobId":"j","timestamp":"2026-01-01T00:00:00.000Z"}')
    assert [str(v) for v in violations] == ["connected.data.trends: is required"]


def test_a_design_is_loaded_from_a_file_too(tmp_path: Path) -> None:
    path = overlay(tmp_path, {"target": "$.info", "update": {"summary": "mine"}})
    contract = spec.load(design=path)
    assert contract.design == "mine"
    assert contract.document["info"]["summary"] == "mine"


def test_an_unknown_design_names_the_ones_there_are() -> None:
    with pytest.raises(OverlayError, match=r"no design 'sse-nope': give a bundled name \(sse-batched-2s, .*sse-push\)"):
        spec.load(design="sse-nope")


@pytest.mark.parametrize(
    ("actions", "version", "where", "rule", "says"),
    [
        (
            [{"target": "$.info", "update": {"summary": "x"}}, {"target": "$.paths['/nope'].get", "update": {"x": 1}}],
            "1.0.0",
            "actions[1]",
            "overlay-target",
            "target $.paths['/nope'].get selects nothing in",
        ),
        ([{"target": "$.info"}], "1.0.0", "actions[0]", "overlay-action", "exactly one of update or remove: true"),
        (
            [{"target": "$.info", "update": {"a": 1}, "remove": True}],
            "1.0.0",
            "actions[0]",
            "overlay-action",
            "update and remove: true together",
        ),
        ([{"target": "info", "update": {}}], "1.0.0", "actions[0]", "overlay-1.0", "must match pattern"),
        ([{"target": "$.info[?(", "update": {}}], "1.0.0", "actions[0]", "jsonpath", "is not a JSONPath"),
        ([{"target": "$.info", "update": {}}], "2.0.0", None, "overlay-version", "must be an Overlay 1.0.x document"),
    ],
)
def test_a_broken_overlay_names_the_file_the_action_and_the_rule(
    tmp_path: Path, actions: list[dict[str, Any]], version: str, where: str | None, rule: str, says: str
) -> None:
    path = overlay(tmp_path, *actions, version=version)
    with pytest.raises(OverlayError) as caught:
        spec.load(design=path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: {rule}: " if where else f"{path}: {rule}: "), message
    assert says in message


@pytest.mark.parametrize(
    ("action", "pointer", "says"),
    [
        # The overlaid document must still be OpenAPI 3.2 ...
        (
            {"target": STREAM_PATH, "update": {"responses": {"200": {"description": 7}}}},
            "get/responses/200/description",
            'openapi-3.2: 7 is not of type "string"',
        ),
        # ... with examples that match their schemas ...
        (
            {
                "target": "$.components.schemas.ConnectedEvent.properties.data.contentSchema",
                "update": {"required": ["x"]},
            },
            "text~1event-stream/example",
            "does not match its schema",
        ),
        # ... and stream rules that name what the contract declares.
        (
            {
                "target": f"{STREAM_PATH}['x-stream-contract']",
                "update": {"filter": {"parameter": "epoch", "item_pointer": "/epoch"}},
            },
            "x-stream-contract/filter/parameter",
            "'epoch' is not a query parameter of stream_predictions",
        ),
        (
            {
                "target": f"{STREAM_PATH}['x-stream-contract']",
                "update": {"push": {"events": ["connected"], "pointer": "/jobId", "operation_id": "nope"}},
            },
            "x-stream-contract/push/operation_id",
            "no operation 'nope'",
        ),
        (
            {
                "target": f"{STREAM_PATH}['x-stream-contract']",
                "update": {"limit": {"per": "user", "streams": 2, "status": 429}},
            },
            "x-stream-contract/limit/status",
            "declares no 429 response",
        ),
        (
            {"target": f"{STREAM_PATH}['x-stream-contract'].wire", "update": {"content_coding": "br"}},
            "x-stream-contract/wire/content_coding",
            "must be one of gzip, got 'br'",
        ),
    ],
)
def test_a_design_whose_contract_breaks_a_rule_fails_like_the_base(
    tmp_path: Path, action: dict[str, Any], pointer: str, says: str
) -> None:
    path = overlay(tmp_path, action)
    with pytest.raises(SpecError) as caught:
        spec.load(design=path)
    message = str(caught.value)
    assert caught.value.pointer.endswith(pointer), message
    assert says in message
    assert f"(in the contract of design mine ({path} over {spec.BUNDLED_SPEC}))" in message


def test_ftl_spec_prints_the_summary_of_a_design() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spec", "--design", "sse-batched-2s"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("design sse-batched-2s (") and lines[1].endswith(
        "sse-batched-2s.yaml) over " + str(spec.BUNDLED_SPEC)
    )
    assert (
        "stream stream_predictions: events connected, heartbeat, error, predictions; heartbeat every 15000 ms" in lines
    )
    assert "  batch: predictions events carry the rows at /predictions, at most one per job every 2000 ms" in lines


def test_ftl_spec_refuses_an_unknown_design_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spec"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"FTL_SPEC_DESIGN": "sse-nope", "PATH": ""},
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "ftl-spec: error:" in done.stderr and "no design 'sse-nope'" in done.stderr
