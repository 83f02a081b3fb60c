"""One gate run: load the contract, pick the target, check that it can be tested, run every part, classify.

`run_gate(settings, progress)` returns a `GateRun` whose `exit_code` is 0 or 1; setup problems raise
`GateError` (exit 2).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from cmdline import unreachable
from contracts import divergences, embedded
from contracts.credentials import Authenticator, Credentials
from contracts.errors import GateError
from contracts.live_check import ALL_CHECKS, LiveCheck, StreamOptions
from contracts.progress import Progress
from contracts.results import Results, Verdict
from contracts.runner import REQUEST_ERROR_CHECK, Runner, RunnerOptions
from contracts.settings import GateSettings
from contracts.stream_checks import Timing
from spec import Contract, SpecError, load

# Schemathesis reads one message per stream request; a missing first message must not hold it long.
STREAM_REQUEST_TIMEOUT_S = 5.0
AUTH_REJECTIONS = (401, 403)
PREFLIGHT_TIMEOUT_S = 10.0


@dataclass
class Target:
    """Where the gate sends requests and with which credentials."""

    url: str
    credentials: Credentials
    time_scale: float
    description: str
    stream_job: str | None = None


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

    def count(self, verdict: Verdict) -> int:
        """How many (operation, check) pairs got `verdict`."""
        return sum(1 for row in self.rows if row.verdict == verdict)

    @property
    def exit_code(self) -> int:
        """1 when any check failed, else 0."""
        return 1 if self.count(Verdict.FAILED) else 0

    @property
    def reason(self) -> str:
        """One line saying why the gate passed or failed."""
        failed = [row for row in self.rows if row.verdict == Verdict.FAILED]
        tail = f"{self.requests} requests in {self.duration:.1f} s"
        if failed:
            operations = len({row.tally.operation for row in failed})
            checks = ", ".join(sorted({row.tally.check for row in failed}))
            return f"failed: {len(failed)} check(s) broken on {operations} operation(s) ({checks}); {tail}"
        known = self.count(Verdict.KNOWN)
        extra = f", {known} known divergence(s)" if known else ""
        return f"passed: {self.count(Verdict.PASSED)} checks held{extra}; {tail}"


def load_contract(path: str | None) -> Contract:
    """The contract, or GateError with the spec's own message."""
    try:
        return load(path)
    except SpecError as exc:
        raise GateError(f"unreadable spec: {exc}") from None


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
    contract = load_contract(settings.spec)
    operations = select(contract, settings.include, settings.exclude)
    results = Results()
    progress.follow(results)
    with _target(settings, contract) as target:
        auth = Authenticator(contract, target.credentials)
        warnings = preflight(contract, target, operations, results, settings.request_timeout)
        # A seed is always chosen here, so every report can say how to repeat the run.
        seed = settings.seed if settings.seed is not None else random.randrange(2**31)
        runner = Runner(contract, auth, _runner_options(settings, target, seed))
        checks = [*runner.checks, REQUEST_ERROR_CHECK, *ALL_CHECKS]
        known = divergences.load(settings.known_divergences, contract.operations, checks)
        runner.run(operations, results, progress)
        warnings.extend(runner.warnings)
        if contract.stream.operation.operation_id in operations:
            LiveCheck(contract, auth, target.url, _stream_options(settings, target), results, progress).run()
    rows = divergences.classify(results, known, strict=settings.strict)
    duration = time.monotonic() - started
    return GateRun(rows, results.requests, duration, target.description, operations, warnings, seed)


def _runner_options(settings: GateSettings, target: Target, seed: int) -> RunnerOptions:
    return RunnerOptions(
        base_url=target.url,
        max_examples=settings.max_examples,
        seed=seed,
        stateful=settings.stateful,
        request_timeout=settings.request_timeout,
        stream_timeout=min(settings.request_timeout, STREAM_REQUEST_TIMEOUT_S),
    )


def _stream_options(settings: GateSettings, target: Target) -> StreamOptions:
    return StreamOptions(
        timing=Timing(time_scale=target.time_scale, tolerance=settings.heartbeat_tolerance),
        max_events=settings.stream_events,
        seconds=settings.stream_seconds,
        delivery_bound=settings.delivery_bound,
        live=settings.live,
        stream_job=target.stream_job,
        request_timeout=settings.request_timeout,
    )


@contextmanager
def _target(settings: GateSettings, contract: Contract) -> Iterator[Target]:
    scale = settings.effective_time_scale
    given = Credentials(settings.api_key, settings.bearer, settings.job_token, settings.other_api_key)
    if not settings.embedded:
        url = str(settings.base_url).rstrip("/")
        yield Target(url, given, scale, url, settings.stream_job)
        return
    with embedded.start(spec=contract.source, time_scale=scale) as mock:
        demo = mock.credentials
        credentials = Credentials(
            api_key=given.api_key or demo.api_key,
            bearer=given.bearer or demo.bearer,
            job_token=given.job_token or demo.job_token,
            other_api_key=given.other_api_key or demo.other_api_key,
            job_tokens=demo.job_tokens,
        )
        # The live check creates its own job; the demo job is the fallback when that fails.
        stream_job = settings.stream_job or next(iter(demo.job_tokens), None)
        description = f"embedded ftl-mock at {mock.url} (time scale {scale:g})"
        yield Target(mock.url, credentials, scale, description, stream_job)


def preflight(
    contract: Contract, target: Target, operations: list[str], results: Results, timeout: float = PREFLIGHT_TIMEOUT_S
) -> list[str]:
    """Check the target answers and some credential works; GateError if not, warnings otherwise."""
    try:
        results.count_requests()
        _status(target.url + "/", {}, timeout)
    except httpx.HTTPError as exc:
        raise GateError(unreachable(target.url, exc, timeout)) from None
    needs_auth = any(contract.operations[op].requires_auth for op in operations)
    kinds = target.credentials.kinds()
    if needs_auth and not kinds:
        raise GateError("no credentials: pass --api-key, --bearer or --job-token (or FTL_GATE_API_KEY, ...)")
    rejected: list[str] = []
    warnings: list[str] = []
    accepted = 0
    for kind in kinds:
        outcome = _probe(contract, target, kind, results, timeout)
        if outcome is None:
            continue
        operation, status = outcome
        if status in AUTH_REJECTIONS:
            rejected.append(f"{kind.replace('_', ' ')} (HTTP {status} from {operation})")
        else:
            accepted += 1
    if rejected and not accepted:
        raise GateError(f"the target rejects every credential: {', '.join(rejected)}")
    warnings.extend(f"credential rejected: {item}" for item in rejected)
    return warnings


def _probe(contract: Contract, target: Target, kind: str, results: Results, timeout: float) -> tuple[str, int] | None:
    """Send one credential alone to a GET without parameters it can satisfy; (operationId, status)."""
    alone = Credentials(**{kind: getattr(target.credentials, kind)})
    auth = Authenticator(contract, alone)
    for operation in contract.operations.values():
        if operation.method != "GET" or any(p.required for p in operation.parameters) or not operation.requires_auth:
            continue
        headers = auth.headers_for(operation)
        if headers is None:
            continue
        try:
            results.count_requests()
            status = _status(target.url + operation.path, headers, timeout)
        except httpx.HTTPError as exc:
            raise GateError(unreachable(target.url, exc, timeout)) from None
        return operation.operation_id, status
    return None


def _status(url: str, headers: dict[str, str], timeout: float) -> int:
    """The status of a GET, without reading a body that might never end."""
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        return response.status_code
