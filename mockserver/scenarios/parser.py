"""Scenario documents checked against `spec/scenarios/scenario.schema.json` and the stream contract.

Every error names the source, the step and the rule: `inline scenario: steps[0]: unknown step 'fly'`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mockserver.scenarios.model import Scenario, ScenarioError, Step, pointers, walk
from mockserver.sse import EventFactory
from mockserver.wire import js_numbers
from spec import SPEC_DIR, Schema, StreamContract

SCENARIO_DIR = SPEC_DIR / "scenarios"
SCHEMA_FILE = SCENARIO_DIR / "scenario.schema.json"
_NOT_STEPS = ("steps", "duration", "event_name")  # $defs of the schema that are not step kinds


class ScenarioParser:
    """Checks scenario documents against scenario.schema.json and the stream contract."""

    def __init__(self, stream: StreamContract, schema_file: Path = SCHEMA_FILE) -> None:
        self.stream = stream
        self.events = EventFactory(stream)
        raw = json.loads(schema_file.read_text(encoding="utf-8"))
        defs = raw["$defs"]
        self._document = Schema({**raw, "properties": {**raw["properties"], "steps": {"type": "array"}}})
        # Each step's shape is checked by hand, for a message that names the step's kind.
        self._steps = Schema({k: v for k, v in defs["steps"].items() if k != "items"})
        self._kinds = {
            kind: Schema({"$defs": defs, "$ref": f"#/$defs/{kind}"}) for kind in defs if kind not in _NOT_STEPS
        }

    def step_schema(self, kind: str) -> Schema:
        """The schema of one step kind's value (the admin API checks `insert` bodies with it)."""
        return self._kinds[kind]

    def parse(self, document: Any, source: str, default_name: str = "") -> Scenario:
        """A Scenario from a parsed YAML/JSON document; ScenarioError naming file, step and rule otherwise."""
        if not isinstance(document, dict):
            raise ScenarioError(f"{source}: a scenario must be a mapping with `steps`")
        self._check(self._document, document, source, "scenario")
        steps = self._parse_steps(document["steps"], source, "steps")
        for step in steps[1:]:
            if step.kind == "http_error":
                raise ScenarioError(f"{source}: {step.where}: http_error is only allowed as the first step [Order]")
        self._check_nested_http_error(steps, source)
        return Scenario(
            name=str(document.get("name") or default_name or "inline"),
            description=str(document.get("description", "")),
            heartbeats=bool(document.get("heartbeats", False)),
            steps=steps,
            source=source,
        )

    def _check(self, schema: Schema, value: Any, source: str, where: str) -> None:
        for violation in schema.violations(value, where):
            location = violation.location.replace(".[", "[")
            raise ScenarioError(f"{source}: {location}: {violation.message} [{violation.rule}]")

    def _parse_steps(self, raw: Any, source: str, where: str) -> tuple[Step, ...]:
        self._check(self._steps, raw, source, where)
        return tuple(self._parse_step(item, source, f"{where}[{i}]") for i, item in enumerate(raw))

    def _parse_step(self, item: Any, source: str, where: str) -> Step:
        if not isinstance(item, dict) or len(item) != 1:
            got = ", ".join(map(str, item)) if isinstance(item, dict) else type(item).__name__
            raise ScenarioError(
                f"{source}: {where}: a step is a mapping with exactly one key, its kind (got {got}) [Step]"
            )
        ((kind, value),) = item.items()
        schema = self._kinds.get(kind)
        if schema is None:
            known = ", ".join(sorted(self._kinds))
            raise ScenarioError(f"{source}: {where}: unknown step {kind!r}; steps are: {known} [StepKind]")
        self._check(schema, value, source, f"{where}.{kind}")
        if kind == "repeat":
            nested = self._parse_steps(value["steps"], source, f"{where}.repeat.steps")
            return Step(kind, value, where, nested)
        if kind == "emit":
            value = self._check_emit(value, source, f"{where}.emit")
        return Step(kind, value, where)

    def _check_emit(self, value: Any, source: str, where: str) -> dict[str, Any]:
        emit: dict[str, Any] = {"event": value} if isinstance(value, str) else dict(value)
        name = str(emit["event"])
        if name not in self.stream.events:
            declared = ", ".join(self.stream.event_names)
            raise ScenarioError(f"{source}: {where}.event: {name!r} is not a declared event ({declared}) [Enum]")
        # Event data goes out as JavaScript writes it: a `1.0` in a scenario file is sent as `1`.
        for key in ("data", "raw_data"):
            if key in emit:
                emit[key] = js_numbers(emit[key])
        given = emit.get("data")
        if isinstance(given, dict):
            data = self.events.data(name, "job_scenario_check", pointers(given))
            violations = list(self.stream.events[name].violations(data, f"{where}.data"))
            if violations:
                v = violations[0]
                raise ScenarioError(f"{source}: {v.location}: {v.message} [{v.rule}]")
        return emit

    def _check_nested_http_error(self, steps: Sequence[Step], source: str) -> None:
        for step in steps:
            if step.kind == "repeat":
                for inner in walk(step.steps):
                    if inner.kind == "http_error":
                        raise ScenarioError(
                            f"{source}: {inner.where}: http_error is only allowed as the first step [Order]"
                        )
