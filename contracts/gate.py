"""One gate run: load the contract, pick the target, check that it is this API, provision, run every part, classify.

`run_gate(settings, progress)` returns a `GateRun` whose `exit_code` is 0 or 1; setup problems raise
`GateError` (exit 2).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import httpx

from cmdline import unreachable
from contracts import divergences, embedded, provisioning
from contracts.checks import Kind, names
from contracts.credentials import Authenticator, Credentials
from contracts.errors import GateError
from contracts.lifecycle import Lifecycles
from contracts.live_check import LiveCheck, StreamOptions
from contracts.ownership import Ownership
from contracts.probes import ProbeOutcome, Prober, ProbeState, not_probed
from contracts.progress import Progress
from contracts.provisioning import Provisioner, Resources
from contracts.results import DeclaredServerError, Results, Verdict
from contracts.runner import REQUEST_ERROR_CHECK, Runner, RunnerOptions
from contracts.settings import GateSettings
from contracts.stream_checks import Timing
from spec import Contract, Operation, SpecError, load

AUTH_REJECTIONS = (401, 403)
PREFLIGHT_TIMEOUT_S = 10.0
# The per-operation check that counts success answers: passed with their number, skipped when none came.
SUCCESS_CHECK = "success_reached"
EMBEDDED_PROBES = "the embedded mock implements the contract, not the platform's quirks"


@dataclass
class Target:
    """Where the gate sends requests and with which credentials."""

    url: str
    credentials: Credentials
    time_scale: float
    description: str
    stream_job: str | None = None
    embedded: bool = False


@dataclass
class GateRun:
    """The outcome of a run."""

    rows: list[divergences.Row]
    requests: int
    duration: float
    target: str
    operations: list[str]
    warnings: list[str] = field(default_factory=list)
    seed: int | None = None
    probes: list[ProbeOutcome] = field(default_factory=list)
    declared: list[DeclaredServerError] = field(default_factory=list)
    successes: dict[str, int] = field(default_factory=dict)
    strict: bool = False

    def count(self, verdict: Verdict) -> int:
        """How many (operation, check) pairs got `verdict`."""
        return sum(1 for row in self.rows if row.verdict == verdict)

    def probed(self, state: ProbeState) -> list[ProbeOutcome]:
        """The divergence probes that ended in `state`."""
        return [outcome for outcome in self.probes if outcome.state == state]

    @property
    def exit_code(self) -> int:
        """1 when any check failed (or, with --strict, a divergence no longer reproduces), else 0."""
        stale = self.strict and self.probed(ProbeState.NOT_REPRODUCED)
        return 1 if self.count(Verdict.FAILED) or stale else 0

    @property
    def reason(self) -> str:
        """One line saying why the gate passed or failed."""
        failed = [row for row in self.rows if row.verdict == Verdict.FAILED]
        tail = f"{self.requests} requests in {self.duration:.1f} s"
        again = f"; repeat with --seed {self.seed}" if self.seed is not None else ""
        stale = len(self.probed(ProbeState.NOT_REPRODUCED))
        if failed:
            operations = len({row.tally.operation for row in failed})
            checks = ", ".join(sorted({row.tally.check for row in failed}))
            return f"failed: {len(failed)} check(s) broken on {operations} operation(s) ({checks}); {tail}{again}"
        if self.exit_code:
            return f"failed: {stale} known divergence(s) no longer reproduce (--strict); {tail}{again}"
        extras = []
        known = self.count(Verdict.KNOWN)
        if known:
            extras.append(f"{known} known divergence(s)")
        declared = sum(item.count for item in self.declared)
        if declared:
            extras.append(f"{declared} declared server error(s)")
        if stale:
            extras.append(f"{stale} divergence(s) not reproduced")
        extra = f", {', '.join(extras)}" if extras else ""
        return f"passed: {self.count(Verdict.PASSED)} checks held{extra}; {tail}"


def load_contract(path: str | None, design: str | None = None) -> Contract:
    """The contract (of `design`, when one is given), or GateError with the spec's own message."""
    try:
        return load(path, design=design)
    except SpecError as exc:
        raise GateError(f"{'--design' if design else 'unreadable spec'}: {exc}") from None


def select(contract: Contract, include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """operationIds selected by operationId or tag; GateError on a name the spec does not know."""
    known = set(contract.operations) | {tag for op in contract.operations.values() for tag in op.tags}
    for name in (*include, *exclude):
        if name not in known:
            raise GateError(f"--include/--exclude: {name!r} is neither an operationId nor a tag of the spec")
    chosen = [op.operation_id for op in contract.iter_operations(include, exclude)]
    if not chosen:
        raise GateError("--include/--exclude selected no operation")
    return chosen


def run_gate(settings: GateSettings, progress: Progress) -> GateRun:
    """Run every part of the gate against the target and classify what it found."""
    started = time.monotonic()
    contract = load_contract(settings.spec, settings.design)
    operations = select(contract, settings.include, settings.exclude)
    results = Results()
    progress.follow(results)
    with _target(settings, contract) as target:
        auth = Authenticator(contract, target.credentials)
        warnings = preflight(contract, target, operations, results, settings.request_timeout)
        # A seed is always chosen here, so every report can say how to repeat the run.
        seed = settings.seed if settings.seed is not None else random.randrange(2**31)
        timing = Timing(time_scale=target.time_scale, tolerance=settings.heartbeat_tolerance)
        stream_timeout = timing.read_timeout(contract.stream, settings.request_timeout)
        provisioner = Provisioner(
            contract,
            auth,
            target.url,
            results,
            existing=settings.existing,
            timeout=settings.request_timeout,
            billed=target.embedded,
        )
        ownership = Ownership(contract, provisioner, target.credentials.other(), results, progress)
        bound = provisioning.bindings(contract)
        wanted = provisioning.needed(bound, operations)
        known = divergences.load(settings.known_divergences, contract, check_names(contract), provisioning.PLACEHOLDERS)
        results.use(divergences.matcher(known))
        probing = not target.embedded
        kinds = {name.removesuffix(provisioning.SPARE) for name in wanted if not name.endswith(provisioning.SPARE)}
        kinds = {"job" if name == provisioning.OWNER_DICTIONARY else name for name in kinds}
        if probing:
            kinds |= _probe_kinds(known, operations)
        spares = {name.removesuffix(provisioning.SPARE) for name in wanted if name.endswith(provisioning.SPARE)}
        progress.start("provisioning", total=None)
        resources = provisioner.provision(kinds, spares)
        progress.finish("provisioning")
        warnings.extend(_provisioning_notes(resources))
        options = _runner_options(settings, target, seed, stream_timeout, resources, bound, wanted)
        runner = Runner(contract, auth, options)
        runner.run(operations, results, progress)
        warnings.extend(runner.warnings)
        Lifecycles(contract, provisioner, results).run(operations)
        ownership.run(operations)
        warnings.extend(ownership.warnings)
        if contract.stream.operation.operation_id in operations:
            stream = _stream_options(settings, target, timing, stream_timeout)
            LiveCheck(contract, auth, target.url, stream, results, progress).run()
        if probing:
            if _probe_uses_other(known, operations):
                ownership.provide_other()
            probes = Prober(contract, auth, target.url, resources, results, timeout=settings.request_timeout).run(
                known, operations
            )
        else:
            probes = not_probed(known, EMBEDDED_PROBES)
        successes = _record_successes(contract, operations, results, resources)
    rows = divergences.classify(results, strict=settings.strict)
    duration = time.monotonic() - started
    return GateRun(
        rows,
        results.requests,
        duration,
        target.description,
        operations,
        warnings,
        seed,
        probes=probes,
        declared=sorted(results.declared.values(), key=lambda d: (d.operation, d.status)),
        successes=successes,
        strict=settings.strict,
    )


def check_names(contract: Contract) -> list[str]:
    """Every check a run can report, by name: what known divergences may excuse."""
    registered = names(Kind.STREAM, Kind.LIVE, Kind.PRE_STREAM, Kind.LIFECYCLE, Kind.OWNERSHIP)
    return [*Runner.check_names(contract), REQUEST_ERROR_CHECK, *registered]


def _probe_uses_other(known: tuple[divergences.Divergence, ...], operations: list[str]) -> bool:
    chosen = set(operations)
    return any(
        name.startswith(provisioning.OTHER + ".")
        for entry in known
        if entry.probe and entry.operation in chosen
        for name in entry.probe.placeholders()
    )


def _probe_kinds(known: tuple[divergences.Divergence, ...], operations: list[str]) -> set[str]:
    chosen = set(operations)
    names = {
        name.split(".")[0]
        for entry in known
        if entry.probe and entry.operation in chosen
        for name in entry.probe.placeholders()
    }
    return names & set(provisioning.BY_NAME)


def _provisioning_notes(resources: Resources) -> list[str]:
    return [f"not provisioned: {kind}: {why}" for kind, why in sorted(resources.missing.items())]


def _record_successes(
    contract: Contract, operations: list[str], results: Results, resources: Resources
) -> dict[str, int]:
    """Per operation, the success answers the checks judged; none is a skip with the reason, never a pass."""
    found = {}
    for operation_id in operations:
        operation = contract.operation(operation_id)
        count = results.successes(operation_id, partial(_is_success, operation))
        found[operation_id] = count
        if count:
            results.passed(operation_id, SUCCESS_CHECK, count)
        else:
            results.skipped(operation_id, SUCCESS_CHECK, _no_success(operation, results, resources))
    return found


def _is_success(operation: Operation, status: int) -> bool:
    return 200 <= status < 300 or status == operation.success_status


def _no_success(operation: Operation, results: Results, resources: Resources) -> str:
    seen = results.statuses.get(operation.operation_id, Counter())
    shown = ", ".join(f"{status or 'no answer'} x{count}" for status, count in seen.most_common(4)) or "no answers"
    reason = f"no success answer was reached ({shown})"
    missing = [f"{kind}: {why}" for kind, why in resources.missing.items()]
    return reason + (f"; not provisioned: {missing[0]}" if missing else "")


def _runner_options(
    settings: GateSettings,
    target: Target,
    seed: int,
    stream_timeout: float,
    resources: Resources,
    bound: dict[str, dict[str, str]],
    wanted: set[str],
) -> RunnerOptions:
    return RunnerOptions(
        base_url=target.url,
        max_examples=settings.max_examples,
        seed=seed,
        stateful=settings.stateful,
        request_timeout=settings.request_timeout,
        stream_timeout=stream_timeout,
        dictionaries=provisioning.dictionaries(resources, wanted),
        bindings=bound,
        allow_declared=settings.declared_server_errors == "allow",
    )


def _stream_options(settings: GateSettings, target: Target, timing: Timing, read_timeout: float) -> StreamOptions:
    return StreamOptions(
        timing=timing,
        max_events=settings.stream_events,
        seconds=settings.stream_seconds,
        delivery_bound=settings.delivery_bound,
        live=settings.live,
        stream_job=target.stream_job,
        request_timeout=settings.request_timeout,
        read_timeout=read_timeout,
    )


@contextmanager
def _target(settings: GateSettings, contract: Contract) -> Iterator[Target]:
    scale = settings.effective_time_scale
    given = Credentials(
        settings.api_key,
        settings.bearer,
        settings.job_token,
        settings.other_api_key,
        other_bearer=settings.other_bearer,
    )
    if not settings.embedded:
        url = str(settings.base_url).rstrip("/")
        described = f"{url} (design {contract.design})" if contract.design else url
        yield Target(url, given, scale, described, settings.stream_job)
        return
    with embedded.start(spec=contract.source, time_scale=scale, design=settings.design) as mock:
        demo = mock.credentials
        credentials = Credentials(
            api_key=given.api_key or demo.api_key,
            bearer=given.bearer or demo.bearer,
            job_token=given.job_token or demo.job_token,
            other_api_key=given.other_api_key or demo.other_api_key,
            job_tokens=demo.job_tokens,
            other_bearer=given.other_bearer or demo.other_bearer,
        )
        # The live check creates its own job; the demo job is the fallback when that fails.
        stream_job = settings.stream_job or next(iter(demo.job_tokens), None)
        design = f", design {contract.design}" if contract.design else ""
        description = f"embedded ftl-mock at {mock.url} (time scale {scale:g}{design})"
        yield Target(mock.url, credentials, scale, description, stream_job, embedded=True)


# --- preflight -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    operation: Operation
    status: int
    content_type: str

    def fits(self) -> bool:
        """True when the operation declares this status with this media type (or no body)."""
        declared = self.operation.responses.get(str(self.status))
        if declared is None:
            return False
        media = self.content_type.split(";")[0].strip().lower()
        return not declared.content or media in declared.content

    def __str__(self) -> str:
        shown = self.content_type.split(";")[0].strip() or "no Content-Type"
        return f"{self.operation.method} {self.operation.path} answered {self.status} {shown}"


def preflight(
    contract: Contract, target: Target, operations: list[str], results: Results, timeout: float = PREFLIGHT_TIMEOUT_S
) -> list[str]:
    """Check the target answers, is this API, and accepts some credential; GateError if not, warnings otherwise."""
    try:
        results.count_requests()
        _get(target.url + "/", {}, timeout)
    except httpx.HTTPError as exc:
        raise GateError(unreachable(target.url, exc, timeout)) from None
    needs_auth = any(contract.operations[op].requires_auth for op in operations)
    kinds = target.credentials.kinds()
    if needs_auth and not kinds:
        raise GateError("no credentials: pass --api-key, --bearer or --job-token (or FTL_GATE_API_KEY, ...)")
    answers: dict[str, _Answer] = {}
    for kind in ("none", *kinds):
        answer = _probe(contract, target, kind, results, timeout)
        if answer is not None:
            answers[kind] = answer
    if answers and not any(answer.fits() for answer in answers.values()):
        shown = "; ".join(dict.fromkeys(str(answer) for answer in answers.values()))
        raise GateError(f"{target.url} is not the FineTune Lab training API: {shown}, which the contract never answers")
    rejected = [
        f"{kind.replace('_', ' ')} (HTTP {answer.status} from {answer.operation.operation_id})"
        for kind, answer in answers.items()
        if kind != "none" and answer.status in AUTH_REJECTIONS
    ]
    accepted = [kind for kind, answer in answers.items() if kind != "none" and answer.status not in AUTH_REJECTIONS]
    if rejected and not accepted:
        raise GateError(f"the target rejects every credential: {', '.join(rejected)}")
    return [f"credential rejected: {item}" for item in rejected]


def _probe(contract: Contract, target: Target, kind: str, results: Results, timeout: float) -> _Answer | None:
    """Send one credential alone (or none) to a GET without parameters it can satisfy."""
    auth = Authenticator(
        contract, Credentials() if kind == "none" else Credentials(**{kind: getattr(target.credentials, kind)})
    )
    for operation in contract.operations.values():
        if operation.method != "GET" or any(p.required for p in operation.parameters) or not operation.requires_auth:
            continue
        headers = {} if kind == "none" else auth.headers_for(operation)
        if headers is None:
            continue
        try:
            results.count_requests()
            status, content_type = _get(target.url + operation.path, headers, timeout)
        except httpx.HTTPError as exc:
            raise GateError(unreachable(target.url, exc, timeout)) from None
        return _Answer(operation, status, content_type)
    return None


def _get(url: str, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """The status and Content-Type of a GET, without reading a body that might never end."""
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        return response.status_code, response.headers.get("content-type", "")
