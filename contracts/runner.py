"""Property-based HTTP checks: Schemathesis, used as a library, driven over the spec and recorded into `Results`.

Schemathesis generates the requests (examples, coverage, fuzzing and stateful sequences along the
spec's links) and runs its checks plus ours (`contracts.http_checks`); this module only configures
it, applies the gate's credentials per operation and turns its events into check outcomes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.engine.run import PhaseName
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext

import contracts.http_checks  # noqa: F401 - registers our checks with Schemathesis
from contracts.credentials import Authenticator
from contracts.errors import GateError
from contracts.progress import Progress
from contracts.results import Results, Violation
from spec import Contract, Operation

# Checks the gate turns off: object-level authorization needs peer identities the gate does not set up;
# "schema-valid input gets 2xx" is no rule of this contract, which answers valid requests with declared
# 4xx for state (cancelling a finished test) or 410 (retired endpoints). `max_response_time` is off
# without a limit.
DISABLED_CHECKS = ("object_level_authorization", "positive_data_acceptance")
# Bytes of a response body shown with a violation.
EXCERPT = 600
# Schemathesis validates each stream request's first message only; the stream checks read it over time.
STREAM_EVENTS_PER_REQUEST = 1
REQUEST_ERROR_CHECK = "request_error"
# Phases that walk every operation once (one progress unit each); the stateful phase walks links instead.
UNIT_PHASES = (PhaseName.EXAMPLES, PhaseName.COVERAGE, PhaseName.FUZZING)


@dataclass(frozen=True)
class RunnerOptions:
    """How much Schemathesis generates and how it talks to the target."""

    base_url: str
    max_examples: int
    seed: int | None
    stateful: bool
    request_timeout: float
    stream_timeout: float


def enabled_checks(config: SchemathesisConfig) -> list[str]:
    """Names of the Schemathesis checks (built-in and ours) a run with `config` performs."""
    load_all_checks()
    checks = config.projects.get_default().checks_config_for()
    return [name for name in CHECKS.get_all_names() if checks.get_by_name(name=name).enabled]


def build_config(contract: Contract, options: RunnerOptions) -> SchemathesisConfig:
    """The Schemathesis configuration of a gate run."""
    data: dict[str, Any] = {
        "base-url": options.base_url,
        "request-timeout": options.request_timeout,
        "max-stream-events": STREAM_EVENTS_PER_REQUEST,
        "suppress-health-check": ["all"],
        "generation": {"max-examples": options.max_examples, "database": "none"},
        "checks": {name: {"enabled": False} for name in DISABLED_CHECKS},
        "phases": {"stateful": {"enabled": options.stateful}},
        "operations": [
            {
                "include-operation-id": contract.stream.operation.operation_id,
                "request-timeout": options.stream_timeout,
            }
        ],
    }
    for check, (operations, _) in turned_off(contract).items():
        data["operations"].append({"include-operation-id": operations, "checks": {check: {"enabled": False}}})
    if options.seed is not None:
        data["seed"] = options.seed
    try:
        return SchemathesisConfig.from_dict(data)
    except Exception as exc:
        raise GateError(f"invalid Schemathesis configuration: {exc}") from None


def turned_off(contract: Contract) -> dict[str, tuple[list[str], str]]:
    """Checks that do not apply to some operations: check -> (operationIds, why)."""
    # Schemathesis judges "created, then not found" by path prefix; an operation without path parameters
    # names no created resource by its path (`/api/training/deploy/runpod` is no child of `/api/training`).
    unaddressed = [op.operation_id for op in contract.operations.values() if not op.parameters_in("path")]
    off: dict[str, tuple[list[str], str]] = {}
    if unaddressed:
        why = "does not apply: the operation names no resource in its path"
        off["ensure_resource_availability"] = (unaddressed, why)
    # A multipart form field is text on the wire: a value mutated to a number or an object arrives as a
    # valid string, so no server can reject it and the check could only report false alarms.
    forms = [op.operation_id for op in contract.operations.values() if _form_only(op)]
    if forms:
        why = "does not apply: form fields are text on the wire, so a mutated type cannot be told from a string"
        off["negative_data_rejection"] = (forms, why)
    return off


def _form_only(operation: Operation) -> bool:
    body = operation.request_body
    return body is not None and all(media.startswith("multipart/") for media in body.content)


def build_schema(
    contract: Contract, config: SchemathesisConfig, operation_ids: Sequence[str], auth: Authenticator
) -> Any:
    """The Schemathesis schema of the selected operations, authenticating per the spec's security."""
    loaded = schemathesis.openapi.from_dict(dict(contract.document), config=config)
    # Excluding the rest, not including the selection: per-operation config sections add include filters
    # of their own, and includes are alternatives.
    others = [op for op in contract.operations if op not in set(operation_ids)]
    schema: Any = loaded.exclude(operation_id=others) if others else loaded

    class GateAuth:
        """Applies the gate's credential for each operation (and the job's own token)."""

        def get(self, case: Case, context: Any) -> dict[str, str] | None:
            operation = contract.operations.get(_operation_id(case))
            if operation is None:
                return None
            return auth.headers_for(operation, job_values=_job_values(case))

        def set(self, case: Case, data: dict[str, str], context: Any) -> None:
            if case.headers is None:
                case.headers = CaseInsensitiveDict()
            case.headers.update(data)

    schema.auth(refresh_interval=None)(GateAuth)

    def learn_tokens(context: HookContext, case: Case, response: Any) -> None:
        if 200 <= response.status_code < 300:
            with contextlib.suppress(ValueError):
                auth.tokens.learn(json.loads(response.content))

    schema.hooks.register_hook_with_name(learn_tokens, "after_call")
    files = example_files(contract)

    def fill_files(context: HookContext, case: Case) -> Case:
        example = files.get(_operation_id(case))
        if example and isinstance(case.body, dict) and not _is_negative(case):
            case.body = {**case.body, **{name: value for name, value in example.items() if name in case.body}}
        return case

    schema.hooks.register_hook_with_name(fill_files, "map_case")
    return schema


def example_files(contract: Contract) -> dict[str, dict[str, Any]]:
    """Per operation, the spec example's content of each uploaded file field (binary media in a form).

    Random bytes are never a valid dataset; with the example's file, generated uploads can succeed and
    stateful sequences can go on from them (upload, read, delete, read again).
    """
    found: dict[str, dict[str, Any]] = {}
    for operation in contract.operations.values():
        body = operation.request_body
        for media in body.content.values() if body else ():
            raw = media.schema.raw if media.schema is not None else {}
            properties = raw.get("properties", {}) if isinstance(raw, dict) else {}
            if not isinstance(media.example, dict):
                continue
            fields = {
                name: media.example[name]
                for name, sub in properties.items()
                if name in media.example and (sub.get("contentMediaType") or sub.get("format") == "binary")
            }
            if fields:
                found[operation.operation_id] = fields
    return found


def _is_negative(case: Case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.NEGATIVE


def _operation_id(case: Case) -> str:
    return str(case.operation.definition.raw.get("operationId", case.operation.label))


def _job_values(case: Case) -> list[Any]:
    values = list((case.path_parameters or {}).values())
    if isinstance(case.body, dict):
        values.extend(case.body.values())
    return values


class Runner:
    """Runs Schemathesis over the selected operations and records every check outcome."""

    def __init__(self, contract: Contract, auth: Authenticator, options: RunnerOptions) -> None:
        self.contract = contract
        self.auth = auth
        self.options = options
        self.config = build_config(contract, options)
        self.checks = enabled_checks(self.config)
        self.warnings: list[str] = []

    def run(self, operation_ids: Sequence[str], results: Results, progress: Progress) -> None:
        """Execute every phase and record what each check found on each operation."""
        schema = build_schema(self.contract, self.config, operation_ids, self.auth)
        skip_reasons: dict[str, str] = {}
        progress.start("schemathesis", total=self.units(operation_ids))
        for event in from_schema(schema).execute():
            if isinstance(event, events.PhaseStarted):
                progress.update("schemathesis", f"{event.phase.name.value} phase")
            elif isinstance(event, events.PhaseFinished) and event.phase.name == PhaseName.STATEFUL_TESTING:
                progress.advance("schemathesis")
            elif isinstance(event, events.ScenarioFinished):
                self._record(event.recorder, results)
                if event.status == Status.SKIP and event.skip_reason:
                    skip_reasons.setdefault(self._label_operation(event.recorder.label), event.skip_reason)
                if event.phase in UNIT_PHASES:
                    progress.advance("schemathesis")
            elif isinstance(event, events.NonFatalError):
                self._record_error(event, results)
            elif isinstance(event, events.FatalError):
                raise GateError(f"Schemathesis stopped: {event.exception}".splitlines()[0])
        progress.finish("schemathesis")
        self._record_skips(operation_ids, results, skip_reasons)

    def units(self, operation_ids: Sequence[str]) -> int:
        """Progress units of a run: each operation once per enabled unit phase, the stateful phase as one."""
        phases = self.config.projects.get_default().phases
        unit_phases = sum(phases.get_by_name(name=phase.value).enabled for phase in UNIT_PHASES)
        return unit_phases * len(operation_ids) + int(phases.stateful.enabled)

    def _label_operation(self, label: str) -> str:
        method, _, path = label.partition(" ")
        operation = self.contract.by_route.get((method.upper(), path))
        return operation.operation_id if operation else label

    def _record(self, recorder: ScenarioRecorder, results: Results) -> None:
        results.count_requests(len(recorder.interactions))
        for case_id, nodes in recorder.checks.items():
            node = recorder.cases.get(case_id)
            if node is None:
                continue
            operation = _operation_id(node.value)
            for check in nodes:
                if check.status == Status.SUCCESS:
                    results.passed(operation, check.name)
                elif check.status == Status.FAILURE and check.failure_info is not None:
                    results.failed(self._violation(recorder, case_id, operation, check.name, check.failure_info))

    def _violation(self, recorder: ScenarioRecorder, case_id: str, operation: str, check: str, info: Any) -> Violation:
        failure = info.failure
        if failure.operation:
            operation = self._label_operation(failure.operation)
        steps = [step.curl for step in info.steps] or [info.code_sample]
        interaction = recorder.interactions.get(failure.case_id or case_id)
        response = interaction.response if interaction is not None else None
        return Violation(
            operation=operation,
            check=check,
            message=f"{failure.title}: {failure.message}".strip().rstrip(":"),
            curl="\n".join(steps),
            response=_excerpt(response) if response is not None else None,
        )

    def _record_error(self, event: events.NonFatalError, results: Results) -> None:
        message = f"{event.info.title}: {event.info.message}".splitlines()[0]
        operation = self._label_operation(event.label)
        if event.related_to_operation and operation in self.contract.operations:
            results.failed(Violation(operation, REQUEST_ERROR_CHECK, message))
        else:
            # Run-wide notes (for example "no links left for stateful testing") do not judge the target.
            self.warnings.append(f"Schemathesis ({event.label}): {message}")

    def _record_skips(self, operation_ids: Iterable[str], results: Results, reasons: dict[str, str]) -> None:
        seen = {(tally.operation, tally.check) for tally in results}
        off = {(op, check): why for check, (ops, why) in turned_off(self.contract).items() for op in ops}
        for operation in operation_ids:
            reason = reasons.get(operation, "no response of this operation reached the check")
            for check in self.checks:
                if (operation, check) not in seen:
                    results.skipped(operation, check, off.get((operation, check), reason))


def _excerpt(response: Any) -> str:
    content_type = ", ".join(response.headers.get("content-type", [])) or "no Content-Type"
    body = bytes(response.content or b"")
    text = body[:EXCERPT].decode("utf-8", errors="replace")
    more = " …" if len(body) > EXCERPT else ""
    return f"HTTP {response.status_code} ({content_type})\n{text}{more}"
