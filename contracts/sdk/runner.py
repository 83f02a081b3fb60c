"""The Python manifest runner: calls each method of an importable SDK against the mock and checks both sides.

Each call's requests come from the mock's journal and are checked against the spec; its return value
(or exception) is compared with the response the recording proxy saw and the manifest's expectations.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.metadata
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import GateError
from contracts.sdk.findings import Finding, failure, warning
from contracts.sdk.journal_check import CheckedRequest, JournalChecker, JournalEntry, MockAdmin
from contracts.sdk.manifest import Call, Manifest, Method, Raises
from contracts.sdk.mapping import compare, show
from contracts.sdk.recorder import NOT_JSON, Exchange, RecordingProxy
from contracts.sdk.refs import RefError, RunState
from contracts.sdk.target import Demo
from spec import Contract

MESSAGE_SHOWN = 160


@dataclass
class CallOutcome:
    """One call: the requests it sent (checked), the responses it got and what the runner found."""

    method: Method
    call: Call
    requests: list[CheckedRequest] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    outcome: str = ""

    @property
    def all_findings(self) -> list[Finding]:
        """The call's own findings and those on its requests."""
        return self.findings + [f for request in self.requests for f in request.findings]

    @property
    def failed(self) -> bool:
        """True when any finding fails the run."""
        return any(f.is_failure for f in self.all_findings)

    @property
    def request_text(self) -> str:
        """Every request of the call, one block each, for reports."""
        return "\n".join(r.entry.describe() for r in self.requests) or "(no request sent)"


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


@dataclass
class ManifestRun:
    """The outcome of running a manifest."""

    manifest: Manifest
    methods: list[MethodOutcome]
    installed: str | None
    location: str | None

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


def import_path(path: str) -> Any:
    """The object `module:attr.attr` names; GateError when it cannot be imported."""
    module_name, _, attribute = path.partition(":")
    try:
        node: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise GateError(f"cannot import {module_name!r} ({exc}); is the SDK installed in this environment?") from None
    for part in attribute.split("."):
        try:
            node = getattr(node, part)
        except AttributeError:
            raise GateError(f"{path}: {module_name} has no attribute {attribute!r}") from None
    return node


class ManifestRunner:
    """Runs a manifest against a mock through a recording proxy."""

    def __init__(self, contract: Contract, manifest: Manifest, demo: Demo, admin: MockAdmin) -> None:
        self.contract = contract
        self.manifest = manifest
        self.demo = demo
        self.admin = admin
        self._error_types: dict[str, type[BaseException]] = {}

    def run(self, progress: Callable[[str], None] = lambda _: None) -> ManifestRun:
        """Execute every call of every method, in manifest order."""
        installed, location = self._installed()
        with RecordingProxy(self.demo.url) as proxy, tempfile.TemporaryDirectory(prefix="ftl-sdk-") as tmp:
            data_cache: dict[str, Any] = {}

            def data() -> Any:
                if "data" not in data_cache:
                    data_cache["data"] = self.admin.data()
                return data_cache["data"]

            state = RunState(
                demo={
                    "url": self.demo.url,
                    "api_key": self.demo.api_key,
                    "jwt": self.demo.jwt,
                    "job_token": self.demo.job_token,
                    "job_id": self.demo.job_id,
                },
                target={"url": proxy.url, "admin": f"{self.demo.url}/__mock"},
                run_id=uuid.uuid4().hex[:10],
                tmp_dir=tmp,
                data=data,
            )
            data()  # the state references see: the mock as it was before any call
            clients = self._clients(state)
            outcomes = []
            for method in self.manifest.methods:
                outcome = MethodOutcome(method)
                for call in method.calls:
                    progress(call.id)
                    client = clients[call.client or method.client]
                    outcome.calls.append(self._run_call(method, call, client, state, proxy))
                outcomes.append(outcome)
        return ManifestRun(self.manifest, outcomes, installed, location)

    def _installed(self) -> tuple[str | None, str | None]:
        try:
            version = importlib.metadata.version(self.manifest.sdk)
        except importlib.metadata.PackageNotFoundError:
            version = None
        location = None
        if self.manifest.package:
            try:
                location = getattr(importlib.import_module(self.manifest.package), "__file__", None)
            except ImportError as exc:
                raise GateError(f"cannot import {self.manifest.package!r} ({exc}); is the SDK installed?") from None
        return version, location

    def _clients(self, state: RunState) -> dict[str, Any]:
        clients = {}
        for name, spec in self.manifest.clients.items():
            factory = import_path(spec.factory)
            try:
                clients[name] = factory(*state.resolve(list(spec.args)), **state.resolve(dict(spec.kwargs)))
            except RefError as exc:
                raise GateError(f"client {name!r}: {exc}") from None
            except Exception as exc:
                raise GateError(f"client {name!r}: {spec.factory} raised {type(exc).__name__}: {exc}") from None
        return clients

    def _run_call(self, method: Method, call: Call, client: Any, state: RunState, proxy: RecordingProxy) -> CallOutcome:
        outcome = CallOutcome(method, call)
        try:
            args = state.resolve(list(call.args))
            kwargs = state.resolve(dict(call.kwargs))
        except RefError as exc:
            outcome.findings.append(failure("arguments_resolve", f"cannot build the arguments: {exc}"))
            outcome.outcome = "not run"
            return outcome
        target = _attribute(client, method.name)
        if target is None:
            outcome.findings.append(failure("method_exists", f"the SDK has no method {method.name}", method.name))
            outcome.outcome = "not run"
            return outcome
        self.admin.clear_journal()
        start = len(proxy)
        result: Any = None
        raised: BaseException | None = None
        try:
            result = target(*args, **kwargs)
        except Exception as exc:
            raised = exc
        outcome.exchanges = proxy.exchanges(start)
        entries = self.admin.journal()
        outcome.requests = self._check_requests(entries)
        outcome.findings.extend(self._operation_findings(method, call, outcome.requests))
        response = _last_response(outcome.exchanges, self.manifest)
        if response is not None:
            state.responses[call.id] = response
        if raised is None:
            state.results[call.id] = result
            outcome.outcome = f"returned {show(result)}"
        else:
            outcome.outcome = f"raised {_describe_exception(raised)}"
        outcome.findings.extend(self._expectation_findings(call, result, raised, response))
        return outcome

    def _check_requests(self, entries: list[JournalEntry]) -> list[CheckedRequest]:
        inside = [e for e in entries if not self.manifest.is_outside(e.path)]
        # Only an opaque bearer value needs the mock's tokens to tell a session from a job token.
        opaque = any(not e.headers.get("authorization", "Bearer wak_").startswith("Bearer wak_") for e in inside)
        known = self.admin.known_credentials() if opaque else None
        return JournalChecker(self.contract, known).check_all(inside)

    def _operation_findings(self, method: Method, call: Call, requests: list[CheckedRequest]) -> list[Finding]:
        findings = []
        for request in requests:
            if request.operation_id is not None and request.operation_id not in method.operations:
                findings.append(
                    failure(
                        "reaches_operation",
                        f"calls {request.operation_id} ({request.entry.method} {request.entry.path}); "
                        f"the manifest says {', '.join(method.operations)}",
                    )
                )
        if call.sends is not None and len(requests) != call.sends:
            findings.append(failure("request_count", f"sent {len(requests)} requests; expected {call.sends}"))
        elif call.sends is None and call.raises is None and not requests:
            findings.append(failure("request_count", f"sent no request; expected {', '.join(method.operations)}"))
        return findings

    def _expectation_findings(
        self, call: Call, result: Any, raised: BaseException | None, response: Any
    ) -> list[Finding]:
        if call.raises is not None:
            return self._error_findings(call.raises, result, raised)
        if raised is not None:
            return [failure("call_succeeds", f"raised {_describe_exception(raised)}")]
        if call.result:
            if response is None:
                return [failure("result_matches", "no JSON response to compare the returned value with")]
            return compare(result, response, call.result)
        return []

    def _error_findings(self, expected: Raises, result: Any, raised: BaseException | None) -> list[Finding]:
        if raised is None:
            return [
                failure(
                    "raises_expected_error",
                    f"returned {show(result)} instead of raising {expected.describe()}",
                    expected.error,
                )
            ]
        error_type = self._error_type(expected.error)
        if not isinstance(raised, error_type):
            return [
                failure(
                    "raises_expected_error",
                    f"raised {_describe_exception(raised)} instead of {expected.describe()}",
                    expected.error,
                )
            ]
        findings = []
        spec = self.manifest.errors.get(expected.error)
        if expected.status is not None and spec is not None and spec.status:
            status = getattr(raised, spec.status, None)
            if status != expected.status:
                findings.append(
                    failure(
                        "raises_expected_error",
                        f"{expected.error}.{spec.status} is {status!r}; expected {expected.status}",
                        spec.status,
                    )
                )
        if expected.message and expected.message not in str(raised):
            findings.append(
                failure(
                    "raises_expected_error", f"message {str(raised)!r} does not contain {expected.message!r}", "message"
                )
            )
        return findings

    def _error_type(self, name: str) -> type[BaseException]:
        if name not in self._error_types:
            spec = self.manifest.errors.get(name)
            found = import_path(spec.type) if spec else import_path(name) if ":" in name else getattr(builtins, name)
            if not (isinstance(found, type) and issubclass(found, BaseException)):
                raise GateError(f"{name}: {found!r} is not an exception type")
            self._error_types[name] = found
        return self._error_types[name]


def _attribute(root: Any, path: str) -> Any:
    node = root
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node if callable(node) else None


def _last_response(exchanges: list[Exchange], manifest: Manifest) -> Any:
    for exchange in reversed(exchanges):
        if manifest.is_outside(exchange.path):
            continue
        body = exchange.json()
        return None if body is NOT_JSON else body
    return None


def _describe_exception(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MESSAGE_SHOWN else text[: MESSAGE_SHOWN - 1] + "…"
