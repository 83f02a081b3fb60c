"""Scripted streams: scenario files from spec/scenarios, validated on load, run against one stream.

A scenario lists steps (emit, wait, repeat, insert and stream faults); the admin API binds one to a job.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from starlette.responses import Response

from mockserver.sse import (
    EventFactory,
    EventStream,
    Receive,
    Scope,
    Send,
    StreamHub,
    StreamWriter,
    Subscription,
    compact,
    sample,
)
from spec import SPEC_DIR, Schema, StreamContract

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.routing import BaseRoute

    from mockserver.state import MockState
    from mockserver.store import Store

logger = logging.getLogger("mockserver.scenarios")

SCENARIO_DIR = SPEC_DIR / "scenarios"
SCHEMA_FILE = SCENARIO_DIR / "scenario.schema.json"
# A split message's chunks need a real pause between them or TCP coalesces them into one read.
MIN_SPLIT_GAP_S = 0.005
LINE_ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


class ScenarioError(ValueError):
    """A scenario that cannot be loaded or bound; the message names the file, the step and the rule."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a scenario: its kind (the step's only key), its value and where it was written."""

    kind: str
    value: Any
    where: str
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario."""

    name: str
    description: str
    heartbeats: bool
    steps: tuple[Step, ...]
    source: str

    @property
    def http_error(self) -> Mapping[str, Any] | None:
        """The HTTP error the scenario answers with instead of a stream, if any."""
        first = self.steps[0]
        return first.value if first.kind == "http_error" else None

    def summary(self) -> dict[str, Any]:
        """Name, description and source, for the admin API."""
        return {"name": self.name, "description": self.description, "source": self.source}


# --- loading and validation -------------------------------------------------------------------


class ScenarioParser:
    """Checks scenario documents against scenario.schema.json and the stream contract."""

    def __init__(self, stream: StreamContract, schema_file: Path = SCHEMA_FILE) -> None:
        self.stream = stream
        self.events = EventFactory(stream)
        raw = json.loads(schema_file.read_text(encoding="utf-8"))
        self._defs = raw["$defs"]
        self._document = Schema({**raw, "properties": {**raw["properties"], "steps": {"type": "array"}}})
        # Each step's shape is checked by hand, for a message that names the step's kind.
        self._steps = Schema({k: v for k, v in self._defs["steps"].items() if k != "items"})
        self._kinds = {
            kind: Schema({"$defs": self._defs, "$ref": f"#/$defs/{kind}"})
            for kind in self._defs
            if kind not in ("steps", "duration", "event_name")
        }

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
        given = emit.get("data")
        if isinstance(given, dict):
            data = self.events.data(name, "job_scenario_check", _pointers(given))
            violations = list(self.stream.events[name].violations(data, f"{where}.data"))
            if violations:
                v = violations[0]
                raise ScenarioError(f"{source}: {v.location}: {v.message} [{v.rule}]")
        return emit

    def _check_nested_http_error(self, steps: Sequence[Step], source: str) -> None:
        for step in steps:
            if step.kind == "repeat":
                for inner in _walk(step.steps):
                    if inner.kind == "http_error":
                        raise ScenarioError(
                            f"{source}: {inner.where}: http_error is only allowed as the first step [Order]"
                        )


def _walk(steps: Sequence[Step]) -> Iterator[Step]:
    for step in steps:
        yield step
        yield from _walk(step.steps)


def _pointers(data: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys of given data as JSON pointers to lay over generated data."""
    return {"/" + key.replace("~", "~0").replace("/", "~1"): value for key, value in data.items()}


class Library:
    """The shipped scenarios (spec/scenarios/*.yaml) plus files named by path."""

    def __init__(self, stream: StreamContract, directory: Path = SCENARIO_DIR) -> None:
        self.parser = ScenarioParser(stream)
        self.directory = directory
        self._cache: dict[str, Scenario] = {}

    def names(self) -> list[str]:
        """Names of the shipped scenarios."""
        return sorted(p.stem for p in self.directory.glob("*.yaml"))

    def get(self, name: str) -> Scenario:
        """A shipped scenario by name, or a scenario file by path."""
        if name not in self._cache:
            path = Path(name)
            if path.suffix not in (".yaml", ".yml", ".json"):
                path = self.directory / f"{name}.yaml"
                if not path.is_file():
                    available = ", ".join(self.names())
                    raise ScenarioError(f"unknown scenario {name!r}; available: {available}")
            self._cache[name] = self.load_file(path)
        return self._cache[name]

    def load_file(self, path: Path) -> Scenario:
        """Read and validate one scenario file."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror}") from None
        try:
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
        return self.parser.parse(document, str(path), path.stem)

    def inline(self, document: Any) -> Scenario:
        """A scenario given as data (the admin API's inline form)."""
        return self.parser.parse(document, "inline scenario")


# --- running ----------------------------------------------------------------------------------


class ScenarioStream(EventStream):
    """A scripted stream: plays a scenario, then stays open like a live stream."""

    def __init__(self, hub: StreamHub, scenario: Scenario, job_id: str, feed: PredictionFeed) -> None:
        error = scenario.http_error
        super().__init__(hub, job_id, int(error["status"]) if error is not None else 200)
        self.scenario = scenario
        self.feed = feed
        self._error_body = b""
        if error is not None:
            self._error_body, self.raw_headers = self._error_response(error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.scenario.http_error is not None:
            await self._http_error(send)
            return
        sub = self.hub.subscribe(self.job_id, predictions=False, heartbeats=False)
        writer = StreamWriter(sub, send, receive)
        run = ScenarioRun(self, sub, writer)
        writer.deliver = run.deliver
        try:
            await writer.start(self.raw_headers)
            try:
                await run.steps(self.scenario.steps)
            except ScenarioError as exc:
                # E.g. an insert step after the job was deleted: end this stream, keep the server quiet.
                logger.warning("scenario %s on job %s stopped: %s", self.scenario.name, self.job_id, exc)
                sub.close("script")
            if not sub.closed:
                await writer.run()
        finally:
            self.hub.unsubscribe(sub)
            await writer.finish()

    def _error_response(self, error: Mapping[str, Any]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        status = int(error["status"])
        content_type = str(error.get("content_type", "text/plain"))
        body = error.get("body")
        if body is None:
            response = self.hub.stream.operation.response(status)
            media = response.media(content_type) if response else None
            body = str(media.example) if media is not None and media.example is not None else ""
        if content_type.startswith("text/") and "charset" not in content_type:
            content_type += "; charset=utf-8"
        payload = str(body).encode("utf-8")
        headers = [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(payload)).encode())]
        return payload, headers

    async def _http_error(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self._error_body, "more_body": False})


class ScenarioRun:
    """One play of a scenario on one open stream: the steps, the current line ending and split."""

    def __init__(self, stream: ScenarioStream, sub: Subscription, writer: StreamWriter) -> None:
        self.hub = stream.hub
        self.job_id = stream.job_id
        self.feed = stream.feed
        self.heartbeats = stream.scenario.heartbeats
        self.events = stream.hub.events
        self.sub = sub
        self.writer = writer
        self._wire_end = self.events.line_ending
        self._end = self._wire_end
        self._split: tuple[int, float] | None = None

    # steps

    async def steps(self, steps: Sequence[Step]) -> None:
        """Play steps in order until they end or the stream closes."""
        for step in steps:
            if self.sub.closed:
                return
            await self.writer.flush()
            await getattr(self, f"_step_{step.kind}")(step)
            # A long script of sends that never block must still let other streams run.
            await asyncio.sleep(0)

    async def _step_http_error(self, step: Step) -> None:
        """Handled before the stream opens."""

    async def _step_emit(self, step: Step) -> None:
        emit = step.value
        name = emit["event"]
        if "raw_data" in emit:
            data: Any = emit["raw_data"]
        else:
            data = self.events.data(name, self.job_id, _pointers(emit.get("data") or {}))
        if name == self.hub.stream.first_event:
            self._attach()
        frame = self.events.frame(name, data, id=emit.get("id"), retry=emit.get("retry"))
        await self.deliver(frame)

    async def _step_wait(self, step: Step) -> None:
        await self._idle(self._scaled(step.value), deliver=True)

    async def _step_stall(self, step: Step) -> None:
        await self._idle(None if step.value is None else self._scaled(step.value), deliver=False)

    async def _step_repeat(self, step: Step) -> None:
        for _ in range(int(step.value["times"])):
            if self.sub.closed:
                return
            await self.steps(step.steps)

    async def _step_insert(self, step: Step) -> None:
        self._attach()
        count = int(step.value.get("count", 1))
        epoch = step.value.get("epoch", "current")
        rate = step.value.get("rate")
        if rate is None:
            self.feed.insert(self.job_id, count, epoch)
            return
        interval = self._scaled(1000.0 / float(rate))
        for i in range(count):
            self.feed.insert(self.job_id, 1, epoch if i == 0 or epoch != "next" else "current")
            if i < count - 1:
                await self._idle(interval, deliver=True)

    async def _step_close(self, step: Step) -> None:
        await self.writer.flush()
        self.sub.close("script")

    async def _step_malformed(self, step: Step) -> None:
        await self.deliver(self._malformed(str(step.value)))

    async def _step_split(self, step: Step) -> None:
        gap = max(self._scaled(step.value.get("gap_ms", 20)), MIN_SPLIT_GAP_S)
        self._split = (int(step.value.get("parts", 2)), gap)

    async def _step_line_endings(self, step: Step) -> None:
        self._end = LINE_ENDINGS[step.value]

    async def _step_comment(self, step: Step) -> None:
        await self.deliver(f": {step.value}{self._wire_end}".encode())

    async def _step_retry(self, step: Step) -> None:
        await self.deliver(f"retry: {step.value}{self._wire_end}{self._wire_end}".encode())

    async def _step_raw(self, step: Step) -> None:
        await self.writer.write(str(step.value).encode("utf-8"))

    # writing

    def _attach(self) -> None:
        # The live parts of a stream (predictions, the heartbeat clock) start with its first event.
        self.hub.attach(self.sub, heartbeats=self.heartbeats)

    def _scaled(self, milliseconds: float) -> float:
        return float(milliseconds) * self.hub.time_scale / 1000.0

    async def deliver(self, frame: bytes) -> None:
        """Write one message with the current line ending, split if a split step asked for it."""
        if self._end != self._wire_end:
            frame = frame.replace(self._wire_end.encode(), self._end.encode())
        if self._split is None:
            await self.writer.write(frame)
            return
        parts, gap = self._split
        self._split = None
        size = -(-len(frame) // parts)
        chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
        for i, chunk in enumerate(chunks):
            if i:
                await self._idle(gap, deliver=False)
                if self.writer.client_gone:
                    return
            await self.writer.write(chunk)

    async def _idle(self, seconds: float | None, *, deliver: bool) -> None:
        """Let `seconds` pass (None: until the stream closes), writing stored predictions if `deliver`."""
        sub = self.sub
        deadline = None if seconds is None else time.monotonic() + seconds
        while not sub.closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            if deliver:
                await self.writer.flush()
                await sub.wait(remaining)
                await self.writer.flush()
            else:
                await sub.wait_closed(remaining)

    def _malformed(self, kind: str) -> bytes:
        end = self._wire_end
        heartbeat = self.hub.stream.heartbeat_event
        data = compact(self.events.data(heartbeat, self.job_id))
        if kind == "invalid-json":
            return f"event: {heartbeat}{end}data: {data[: len(data) // 2]}{end}{end}".encode()
        if kind == "data-only":
            return f"data: {data}{end}{end}".encode()
        if kind == "event-only":
            return f"event: {heartbeat}{end}{end}".encode()
        if kind == "unknown-event":
            name = next(n for n in (f"unknown-{i}" for i in range(100)) if n not in self.hub.stream.events)
            return f"event: {name}{end}data: {data}{end}{end}".encode()
        if kind == "schema-violation":
            return f"event: {heartbeat}{end}data: {{}}{end}{end}".encode()
        if kind == "multiline-data":
            cut = len(data) // 2
            return f"event: {heartbeat}{end}data: {data[:cut]}{end}data: {data[cut:]}{end}{end}".encode()
        if kind == "no-space":
            return f"event:{heartbeat}{end}data:{data}{end}{end}".encode()
        raise ScenarioError(f"unknown malformed kind {kind!r}")


# --- generated predictions --------------------------------------------------------------------

# Realistic values for the prediction columns a dashboard shows; only columns the spec's item schema
# declares are written, and every row is checked against that schema before it is stored.
SAMPLES = (
    ("Translate to French: Good morning", "Bonjour"),
    ("Translate to French: Thank you very much", "Merci beaucoup"),
    ("Translate to French: See you tomorrow", "A demain"),
    ("Translate to French: The cat sleeps", "Le chat dort"),
    ("Translate to French: Where is the station?", "Ou est la gare ?"),
    ("Translate to French: I like green tea", "J'aime le the vert"),
)
STEPS_PER_EPOCH = 250


class PredictionFeed:
    """Generates valid prediction items for a job and stores them, so REST and every stream agree."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        contract = state.contract
        trigger = contract.stream.trigger
        op = contract.operation(str(trigger["operation_id"]))
        media = op.request_body.content.get("application/json") if op.request_body else None
        if media is None or media.schema is None:
            raise ScenarioError(f"the stream trigger {op.operation_id} has no JSON request body in the spec")
        self.item_schema = Schema(_items_schema(media.schema.raw, str(trigger["items"])))
        item_pointer = str(trigger.get("item_pointer", ""))
        # The item's subject column is the stream subject's pointer below the trigger item's pointer.
        self.subject_column = next(
            (
                str(s["pointer"])[len(item_pointer) + 1 :]
                for s in contract.stream.subjects
                if s["event"] == trigger["event"] and str(s["pointer"]).startswith(item_pointer + "/")
            ),
            "job_id",
        )

    @property
    def store(self) -> Store:
        """The mock's store."""
        return self.state.store

    def epoch(self, job_id: str, epoch: int | str) -> int:
        """An explicit epoch, or the job's `current` (latest, 1 if none) or `next` epoch."""
        if isinstance(epoch, int):
            return epoch
        rows = self.store.predictions.rows(job_id)
        latest = max((int(r.get("epoch") or 0) for r in rows), default=0)
        if epoch == "next":
            return latest + 1
        return latest or 1

    def items(self, job_id: str, user_id: str, count: int, epoch: int) -> list[dict[str, Any]]:
        """`count` valid items of `epoch` for a job, continuing its sample indexes."""
        start = sum(1 for r in self.store.predictions.rows(job_id) if r.get("epoch") == epoch)
        props = self.item_schema.raw.get("properties") or {}
        items = []
        for index in range(start, start + count):
            prompt, truth = SAMPLES[index % len(SAMPLES)]
            # Later epochs get more right: a dashboard shows accuracy rising.
            correct = (index + epoch) % 5 < min(epoch + 1, 5)
            predicted = truth if correct else truth.lower().rstrip(" ?") + "..."
            values = {
                self.subject_column: job_id,
                "user_id": user_id,
                "epoch": epoch,
                "step": epoch * STEPS_PER_EPOCH,
                "sample_index": index,
                "prompt": prompt,
                "prediction": predicted,
                "ground_truth": truth,
                "exact_match": 1 if correct else 0,
                "char_error_rate": 0 if correct else 0.25,
                "length_ratio": _number(len(predicted) / len(truth)),
                "word_overlap": 1 if correct else 0.5,
                "prompt_id": f"val-{index:04d}",
                "sample_source": "validation",
            }
            item = {**sample(self.item_schema.raw), **{k: v for k, v in values.items() if k in props}}
            for violation in self.item_schema.violations(item, "generated prediction"):
                raise ScenarioError(f"cannot generate a valid prediction: {violation}")
            items.append(item)
        return items

    def insert(self, job_id: str, count: int, epoch: int | str = "current") -> list[tuple[dict[str, Any], int]]:
        """Store `count` generated predictions of a job; each stored row with the job's count after it."""
        job = self.store.jobs.get(job_id)
        if job is None:
            raise ScenarioError(f"no job {job_id!r}")
        items = self.items(job_id, str(job.get("user_id")), count, self.epoch(job_id, epoch))
        return self.store.predictions.insert(items)


def _number(value: float) -> float | int:
    # Whole numbers as ints, so REST (Python JSON) and the stream (JavaScript-style) write the same bytes.
    rounded = round(value, 3)
    return int(rounded) if rounded.is_integer() else rounded


def _items_schema(schema: Mapping[str, Any], pointer: str) -> dict[str, Any]:
    node: Mapping[str, Any] = schema
    for part in pointer.strip("/").split("/"):
        node = (node.get("properties") or {}).get(part) or {}
    return dict(node.get("items") or {})


# --- bindings and the admin API ---------------------------------------------------------------


class Scenarios:
    """One mock's scenario library, its job bindings and the generated-prediction feed."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.library = Library(state.contract.stream)
        self.feed = PredictionFeed(state)
        self.bindings: dict[str, Scenario] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, state: MockState) -> Scenarios:
        """The scenarios of a mock, created on first use."""
        found = state.extras.get("scenarios")
        if not isinstance(found, Scenarios):
            found = state.extras["scenarios"] = cls(state)
        return found

    def reset(self) -> None:
        """Forget every binding and stop background inserts (for the admin reset)."""
        self.bindings.clear()
        for task in list(self._tasks):
            task.cancel()

    def for_job(self, job_id: str) -> Scenario | None:
        """The scenario a job's streams play: its own binding, else the mock's `--scenario`, else none."""
        bound = self.bindings.get(job_id)
        if bound is not None:
            return bound
        default = self.state.settings.scenario
        return self.library.get(default) if default else None

    def bind(self, job_id: str, spec: Any) -> Scenario:
        """Bind a scenario given by name, path or inline document."""
        if isinstance(spec, str):
            scenario = self.library.get(spec)
        elif isinstance(spec, dict):
            scenario = self.library.inline(spec)
        else:
            raise ScenarioError("scenario: must be a scenario name or an inline scenario object")
        self.bindings[job_id] = scenario
        return scenario

    def stream(self, job_id: str) -> ScenarioStream | None:
        """A scripted stream response for a job, or None when it streams live."""
        scenario = self.for_job(job_id)
        if scenario is None:
            return None
        return ScenarioStream(self.state.streams, scenario, job_id, self.feed)

    def trickle(self, job_id: str, count: int, epoch: int | str, rate: float) -> None:
        """Insert `count` predictions in the background, `rate` per (scaled) second."""
        task = asyncio.get_running_loop().create_task(self._trickle(job_id, count, epoch, rate))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _trickle(self, job_id: str, count: int, epoch: int | str, rate: float) -> None:
        interval = 1.0 / rate * self.state.settings.time_scale
        resolved = self.feed.epoch(job_id, epoch)
        for i in range(count):
            if i:
                await asyncio.sleep(interval)
            if self.state.store.jobs.get(job_id) is None:
                return
            self.feed.insert(job_id, 1, resolved)


def admin_routes(state: MockState) -> list[BaseRoute]:
    """`GET /__mock/streams`, `PUT/DELETE /__mock/streams/{jobId}`, `POST /__mock/jobs/{jobId}/predictions`."""
    from starlette.routing import Route

    admin = ScenarioAdmin(state)
    return [
        Route("/__mock/streams", admin.list_streams, methods=["GET"]),
        Route("/__mock/streams/{jobId}", admin.bind, methods=["PUT"]),
        Route("/__mock/streams/{jobId}", admin.unbind, methods=["DELETE"]),
        Route("/__mock/jobs/{jobId}/predictions", admin.insert, methods=["POST"]),
    ]


class ScenarioAdmin:
    """Handlers of the scenario and prediction-trigger admin routes."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        raw = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
        self._insert = Schema({"$defs": raw["$defs"], "$ref": "#/$defs/insert"})

    @property
    def scenarios(self) -> Scenarios:
        """The mock's scenarios."""
        return Scenarios.of(self.state)

    async def list_streams(self, request: Request) -> Response:
        """Open streams, bindings, the default scenario and the shipped scenario names."""
        hub = self.state.streams
        scenarios = self.scenarios
        return _json(
            {
                "open_streams": hub.open_streams,
                "dropped_slow": hub.dropped_slow,
                "default_scenario": self.state.settings.scenario,
                "bindings": {job: s.summary() for job, s in scenarios.bindings.items()},
                "scenarios": scenarios.library.names(),
            }
        )

    async def bind(self, request: Request) -> Response:
        """Bind a scenario (`{"scenario": name}` or `{"scenario": {...}}`) to a job's streams."""
        job_id = request.path_params["jobId"]
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict) or "scenario" not in body:
            return _error(400, 'body: must be {"scenario": <name or inline scenario>}')
        try:
            scenario = self.scenarios.bind(job_id, body["scenario"])
        except ScenarioError as exc:
            return _error(400, str(exc))
        return _json({"job_id": job_id, "scenario": scenario.summary()})

    async def unbind(self, request: Request) -> Response:
        """Remove a job's binding; its streams go live again (or play the default scenario)."""
        job_id = request.path_params["jobId"]
        removed = self.scenarios.bindings.pop(job_id, None)
        return _json({"job_id": job_id, "removed": removed is not None})

    async def insert(self, request: Request) -> Response:
        """Insert `count` generated predictions now, or `rate` per second in the background."""
        job_id = request.path_params["jobId"]
        body = await _json_body(request, default={})
        if isinstance(body, Response):
            return body
        for violation in self._insert.violations(body, "body"):
            return _error(400, str(violation))
        if self.state.store.jobs.get(job_id) is None:
            return _error(404, f"jobId: no job {job_id!r}")
        count = int(body.get("count", 1))
        epoch = body.get("epoch", "current")
        if "rate" in body:
            self.scenarios.trickle(job_id, count, epoch, float(body["rate"]))
            return _json({"job_id": job_id, "scheduled": count, "rate": body["rate"]}, 202)
        stored = self.scenarios.feed.insert(job_id, count, epoch)
        return _json({"job_id": job_id, "inserted": len(stored), "total_count": stored[-1][1]})


async def _json_body(request: Request, default: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        return default if default is not None else _error(400, "body: a JSON object is required")
    try:
        return json.loads(raw)
    except ValueError as exc:
        return _error(400, f"body: not valid JSON ({exc})")


def _json(body: Any, status: int = 200) -> Response:
    from mockserver.context import dumps

    return Response(dumps(body), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    from mockserver.errors import plain_error

    return plain_error(status, message)
