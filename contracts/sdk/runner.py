"""Runs a manifest: each method of the SDK is called through a runner in its own language, both sides are checked.

Each call's requests come from the mock's journal and are checked against the spec; what the runner reports
back (a JSON result or the SDK's error) is compared with the response the recording proxy saw. After its own
calls, every method is made to meet each error shape its operations declare (an injected mock fault).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import GateError
from contracts.sdk.call_checks import CallContext, run_checks
from contracts.sdk.findings import Finding, failure, warning
from contracts.sdk.journal_check import CheckedRequest, JournalChecker, JournalEntry, SdkAdmin
from contracts.sdk.manifest import Call, Manifest, Method, Raises
from contracts.sdk.mapping import show
from contracts.sdk.protocol import (
    ClientBuild,
    Hello,
    InProcessTransport,
    ProcessTransport,
    Reply,
    RunnerSession,
    Transport,
)
from contracts.sdk.recorder import NOT_JSON, Exchange, RecordingProxy
from contracts.sdk.refs import RefError, RunState
from contracts.sdk.runners import RUNNERS_DIR, RUNNERS_VARIABLE
from contracts.sdk.runners.python import PythonRunner
from contracts.sdk.target import Demo
from spec import Contract

DEFAULT_CALL_TIMEOUT = 60.0


@dataclass
class CallOutcome:
    """One call: the requests it sent (checked), the responses it got and what the checks found."""

    method: Method
    call: Call
    requests: list[CheckedRequest] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    outcome: str = ""
    checks: tuple[str, ...] = ()
    probe: str | None = None

    @property
    def all_findings(self) -> list[Finding]:
        """The call's own findings and those on its requests."""
        return self.findings + [f for request in self.requests for f in request.findings]

    @property
    def failed(self) -> bool:
        """True when any finding fails the run."""
        return any(f.is_failure for f in self.all_findings)


@dataclass
class MethodOutcome:
    """Every call of one method."""

    method: Method
    calls: list[CallOutcome] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when any call failed."""
        return any(call.failed for call in self.calls)

    @property
    def reached(self) -> set[str]:
        """operationIds the method's requests reached."""
        return {r.operation_id for call in self.calls for r in call.requests if r.operation_id}

    @property
    def failed_checks(self) -> list[str]:
        """The checks that failed on any call of the method, sorted."""
        return sorted({f.check for call in self.calls for f in call.all_findings if f.is_failure})


@dataclass
class ManifestRun:
    """The outcome of running a manifest."""

    manifest: Manifest
    methods: list[MethodOutcome]
    installed: str | None
    location: str | None
    runner: str | None = None

    @property
    def failed(self) -> bool:
        """True when any method failed."""
        return any(m.failed for m in self.methods)

    def header_findings(self) -> list[Finding]:
        """Run-wide warnings (an installed version other than the manifest's)."""
        if self.installed and self.installed != self.manifest.version:
            return [
                warning(
                    "sdk_version",
                    f"the manifest is for {self.manifest.title} but {self.installed} is installed",
                    "version",
                )
            ]
        return []


@dataclass(frozen=True)
class Probe:
    """An error response the mock is told to give one operation, to see what the SDK makes of it."""

    operation: str
    shape: str
    status: int


def probes(contract: Contract, method: Method) -> list[Probe]:
    """One probe per error shape each of the method's operations declares (at its lowest declared status)."""
    found = []
    for operation in method.operations:
        op = contract.operation(operation)
        shapes: dict[str, int] = {}
        for status in sorted(int(s) for s in op.responses if s.isdigit() and int(s) >= 400):
            shapes.setdefault(op.error_shape(status), status)
        found += [Probe(operation, shape, status) for shape, status in sorted(shapes.items())]
    return found


def python_in_process() -> Transport:
    """The Python runner in this process (what tests that patch the SDK use)."""
    return InProcessTransport(PythonRunner().handle)


class ManifestRunner:
    """Runs a manifest against a mock through a recording proxy, calling the SDK through a runner.

    `command` is the runner to start (`sh -c`); None runs the Python runner in this process (Python manifests).
    """

    def __init__(
        self,
        contract: Contract,
        manifest: Manifest,
        demo: Demo,
        admin: SdkAdmin,
        command: str | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        what: str = "--runner",
    ) -> None:
        self.contract = contract
        self.manifest = manifest
        self.demo = demo
        self.admin = admin
        self.command = command
        self.call_timeout = call_timeout
        self.environ = dict(os.environ if environ is None else environ)
        self.what = what
        if command is None and manifest.language != "python":
            raise GateError(f"{manifest.title} is a {manifest.language} manifest: give --runner COMMAND")

    def run(self, progress: Callable[[str], None] = lambda _: None) -> ManifestRun:
        """Execute every call of every method, in manifest order, then each method's error probes."""
        with RecordingProxy(self.demo.url) as proxy, tempfile.TemporaryDirectory(prefix="ftl-sdk-") as tmp:
            state = self._state(proxy.url, tmp)
            session = RunnerSession(
                self._starter(proxy.url), self._hello(), self._clients(state), self.call_timeout, self.what
            )
            outcomes = []
            with session:
                for method in self.manifest.methods:
                    outcome = MethodOutcome(method)
                    for call in method.calls:
                        progress(call.id)
                        outcome.calls.append(self._run_call(session, method, call, state, proxy))
                    for probe, call in self._probe_calls(method):
                        progress(call.id)
                        outcome.calls.append(self._run_call(session, method, call, state, proxy, probe))
                    outcomes.append(outcome)
        info = session.info
        return ManifestRun(
            self.manifest,
            outcomes,
            info.sdk_version if info else None,
            info.location if info else None,
            info.runner if info else None,
        )

    def _state(self, target_url: str, tmp: str) -> RunState:
        data_cache: dict[str, Any] = {}

        def data() -> Any:
            if "data" not in data_cache:
                data_cache["data"] = self.admin.get_data(secrets=True)
            return data_cache["data"]

        state = RunState(
            demo={
                "url": self.demo.url,
                "api_key": self.demo.api_key,
                "jwt": self.demo.session_token,
                "job_token": self.demo.job_token,
                "job_id": self.demo.job_id,
            },
            target={"url": target_url, "admin": self.demo.admin},
            run_id=uuid.uuid4().hex[:10],
            tmp_dir=tmp,
            data=data,
            environ=self.environ,
        )
        data()  # the state references see: the mock as it was before any call
        return state

    def _starter(self, target_url: str) -> Callable[[], Transport]:
        if self.command is None:
            return python_in_process
        command = self.command
        env = {
            **self.environ,
            **self.demo.environment(),
            "FINETUNE_LAB_API_URL": target_url,
            RUNNERS_VARIABLE: str(RUNNERS_DIR),
        }
        return lambda: ProcessTransport(command, env)

    def _hello(self) -> Hello:
        errors: dict[str, dict[str, Any]] = {}
        for name in self.manifest.error_names():
            spec = self.manifest.errors.get(name)
            errors[name] = {"type": spec.type, "status": spec.status} if spec else {"type": name, "status": None}
        return Hello(self.manifest.sdk, self.manifest.version, self.manifest.package, errors)

    def _clients(self, state: RunState) -> list[ClientBuild]:
        builds = []
        for name, spec in self.manifest.clients.items():
            try:
                builds.append(
                    ClientBuild(name, spec.factory, state.resolve(list(spec.args)), state.resolve(dict(spec.kwargs)))
                )
            except RefError as exc:
                raise GateError(f"client {name!r}: {exc}") from None
        return builds

    def _run_call(
        self,
        session: RunnerSession,
        method: Method,
        call: Call,
        state: RunState,
        proxy: RecordingProxy,
        probe: Probe | None = None,
    ) -> CallOutcome:
        """One call; with a probe, the mock answers the probe's operation with its error meanwhile."""
        try:
            args = state.resolve(list(call.args))
            kwargs = state.resolve(dict(call.kwargs))
        except RefError as exc:
            return self._not_run(method, call, f"cannot build the arguments: {exc}")
        if probe is None:
            invoked = self._invoke(session, method, call, args, kwargs, proxy)
            if invoked.response is not None:
                state.responses[call.id] = invoked.response
            if invoked.reply.returned:
                state.results[call.id] = invoked.reply.result
            return invoked.checked(self.contract, self.manifest)
        self.admin.put_faults({probe.operation: {"error_status": probe.status}})
        try:
            invoked = self._invoke(session, method, call, args, kwargs, proxy, checked=False)
        finally:
            self.admin.clear_faults()
        outcome = invoked.checked(self.contract, self.manifest)
        outcome.probe = f"{probe.shape} {probe.status} from {probe.operation}"
        return outcome

    def _probe_calls(self, method: Method) -> Iterator[tuple[Probe, Call]]:
        base = next((c for c in method.calls if c.raises is None and c.sends != 0), None)
        error = self.manifest.client_error(base.client or method.client) if base else None
        if base is None or error is None:
            return
        spec = self.manifest.errors.get(error)
        for probe in probes(self.contract, method):
            status = probe.status if spec is not None and spec.status else None
            yield (
                probe,
                Call(
                    id=f"{base.id}:{probe.shape}-{probe.status}",
                    args=base.args,
                    kwargs=base.kwargs,
                    raises=Raises(error, status),
                    client=base.client,
                    note=f"{probe.operation} answers {probe.status} in shape {probe.shape}",
                ),
            )

    def _not_run(self, method: Method, call: Call, why: str) -> CallOutcome:
        return CallOutcome(method, call, findings=[failure("arguments_resolve", why)], outcome="not run")

    def _invoke(
        self,
        session: RunnerSession,
        method: Method,
        call: Call,
        args: list[Any],
        kwargs: dict[str, Any],
        proxy: RecordingProxy,
        checked: bool = True,
    ) -> Invoked:
        self.admin.clear_journal()
        start = len(proxy)
        reply = session.call(call.client or method.client, method.name, args, kwargs)
        exchanges = [e for e in proxy.exchanges(start) if not self.manifest.is_outside(e.path)]
        entries = self.admin.journal()
        requests = self._check_requests(entries, checked)
        return Invoked(method, call, reply, requests, exchanges, _last_response(exchanges))

    def _check_requests(self, entries: list[JournalEntry], checked: bool) -> list[CheckedRequest]:
        inside = [e for e in entries if not self.manifest.is_outside(e.path)]
        if not checked:
            return JournalChecker(self.contract, checks=()).check_all(inside)
        # Only an opaque bearer value needs the mock's tokens to tell a session from a job token.
        opaque = any(not e.headers.get("authorization", "Bearer wak_").startswith("Bearer wak_") for e in inside)
        known = self.admin.known_credentials() if opaque else None
        return JournalChecker(self.contract, known).check_all(inside)


@dataclass
class Invoked:
    """A call made: the runner's reply, the requests journalled and the responses the proxy saw."""

    method: Method
    call: Call
    reply: Reply
    requests: list[CheckedRequest]
    exchanges: list[Exchange]
    response: Any

    def checked(self, contract: Contract, manifest: Manifest) -> CallOutcome:
        """The call with every call check applied."""
        expected = self.call.raises
        spec = manifest.errors.get(expected.error) if expected else None
        ctx = CallContext(
            self.method,
            self.call,
            contract,
            tuple(self.requests),
            tuple(self.exchanges),
            self.reply,
            self.response,
            spec,
        )
        findings, ran = run_checks(ctx)
        return CallOutcome(
            self.method,
            self.call,
            requests=self.requests,
            exchanges=self.exchanges,
            findings=findings,
            outcome=describe_reply(self.reply),
            checks=tuple(ran),
        )


def describe_reply(reply: Reply) -> str:
    """`returned {...}`, `raised FinetuneLabError: …` or `no answer: …`."""
    if reply.broken is not None:
        return f"no answer: {reply.broken}"
    if reply.error is not None:
        return f"raised {reply.error.describe()}"
    return f"returned {show(reply.result)}"


def _last_response(exchanges: list[Exchange]) -> Any:
    if not exchanges:
        return None
    body = exchanges[-1].json()
    return None if body is NOT_JSON else body
