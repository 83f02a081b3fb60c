"""Checks on one SDK method call: what it reached, what it returned or raised, and what the runner answered.

One plain function per rule (as `journal_check` has for requests), registered once (`contracts.checks`) with the
condition under which it applies; the server's error message is read per the error shape the spec declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from contracts.checks import Kind, check, of_kind
from contracts.sdk.findings import Finding, failure
from contracts.sdk.journal_check import CheckedRequest
from contracts.sdk.manifest import Call, ErrorSpec, Method, Raises
from contracts.sdk.mapping import compare, show
from contracts.sdk.protocol import NO_SUCH_METHOD, Reply
from contracts.sdk.recorder import NOT_JSON, Exchange
from spec import Contract

SHOWN = 120


@dataclass(frozen=True)
class CallContext:
    """One call as the checks see it: the manifest's expectation, the requests sent and the runner's reply."""

    method: Method
    call: Call
    contract: Contract
    requests: tuple[CheckedRequest, ...]
    exchanges: tuple[Exchange, ...]
    reply: Reply
    response: Any
    error_spec: ErrorSpec | None = None

    @property
    def expected(self) -> Raises | None:
        """The error the call must raise, if any."""
        return self.call.raises

    @property
    def answered(self) -> bool:
        """True when the runner carried the call out (whatever the SDK did)."""
        error = self.reply.error
        return self.reply.broken is None and not (error is not None and error.from_runner)


CallCheck = Callable[[CallContext], Iterable[Finding]]


def always(ctx: CallContext) -> bool:
    """Every call."""
    return True


def carried_out(ctx: CallContext) -> bool:
    """Calls the runner carried out."""
    return ctx.answered


def expects_success(ctx: CallContext) -> bool:
    """Carried-out calls that must return a value."""
    return ctx.answered and ctx.expected is None


def expects_result(ctx: CallContext) -> bool:
    """Carried-out calls with a result mapping."""
    return expects_success(ctx) and bool(ctx.call.result)


def expects_error(ctx: CallContext) -> bool:
    """Carried-out calls that must raise."""
    return ctx.answered and ctx.expected is not None


@check(Kind.SDK_CALL, applies=always)
def runner_answers(ctx: CallContext) -> Iterable[Finding]:
    """The runner answers the call with a result or the SDK's error (it does not exit, hang or print garbage)."""
    if ctx.reply.broken is not None:
        yield failure("runner_answers", f"no answer to {ctx.method.name}: {ctx.reply.broken}", "runner")
    elif ctx.reply.error is not None and ctx.reply.error.from_runner and ctx.reply.error.type != NO_SUCH_METHOD:
        yield failure("runner_answers", f"the runner could not make the call: {ctx.reply.error.describe()}", "runner")


@check(Kind.SDK_CALL, applies=always)
def method_exists(ctx: CallContext) -> Iterable[Finding]:
    """The SDK has the method the manifest names."""
    if ctx.reply.error is not None and ctx.reply.error.type == NO_SUCH_METHOD:
        yield failure("method_exists", f"the SDK has no method {ctx.method.name}", ctx.method.name)


@check(Kind.SDK_CALL, applies=carried_out)
def reaches_operation(ctx: CallContext) -> Iterable[Finding]:
    """Every request the call sends reaches one of the operations the manifest names for the method."""
    for request in ctx.requests:
        if request.operation_id is not None and request.operation_id not in ctx.method.operations:
            yield failure(
                "reaches_operation",
                f"calls {request.operation_id} ({request.entry.method} {request.entry.path}); "
                f"the manifest says {', '.join(ctx.method.operations)}",
            )


@check(Kind.SDK_CALL, applies=carried_out)
def request_count(ctx: CallContext) -> Iterable[Finding]:
    """The call sends as many requests as the manifest says (and at least one when it must succeed)."""
    sends = ctx.call.sends
    if sends is not None and len(ctx.requests) != sends:
        yield failure("request_count", f"sent {len(ctx.requests)} requests; expected {sends}")
    elif sends is None and ctx.expected is None and not ctx.requests:
        yield failure("request_count", f"sent no request; expected {', '.join(ctx.method.operations)}")


@check(Kind.SDK_CALL, applies=expects_success)
def call_succeeds(ctx: CallContext) -> Iterable[Finding]:
    """A call the manifest expects to succeed returns a value."""
    if ctx.reply.error is not None:
        yield failure("call_succeeds", f"raised {ctx.reply.error.describe()}")


@check(Kind.SDK_CALL, applies=expects_result)
def result_matches(ctx: CallContext) -> Iterable[Finding]:
    """The returned value maps to the response as the manifest's result mapping says."""
    if not ctx.reply.returned or not ctx.call.result:
        return
    if ctx.response is None:
        yield failure("result_matches", "no JSON response to compare the returned value with")
        return
    yield from compare(ctx.reply.result, ctx.response, ctx.call.result)


@check(Kind.SDK_CALL, applies=expects_error)
def raises_expected_error(ctx: CallContext) -> Iterable[Finding]:
    """A call that must fail raises the expected error type, with the expected status (and message text)."""
    expected = ctx.expected
    assert expected is not None
    error = ctx.reply.error
    if error is None:
        yield failure(
            "raises_expected_error",
            f"returned {show(ctx.reply.result)} instead of raising {expected.describe()}",
            expected.error,
        )
        return
    if not is_expected_type(ctx):
        yield failure(
            "raises_expected_error", f"raised {error.describe()} instead of {expected.describe()}", expected.error
        )
        return
    spec = ctx.error_spec
    if expected.status is not None and spec is not None and spec.status and error.status != expected.status:
        yield failure(
            "raises_expected_error",
            f"{expected.error}.{spec.status} is {error.status!r}; expected {expected.status}",
            spec.status,
        )
    if expected.message and expected.message not in error.message:
        yield failure(
            "raises_expected_error",
            f"message {_short(error.message)!r} does not contain {expected.message!r}",
            "message",
        )


@check(Kind.SDK_CALL, applies=expects_error)
def error_message_kept(ctx: CallContext) -> Iterable[Finding]:
    """The SDK's error carries the message the server's error body holds (in the shape the spec declares)."""
    error = ctx.reply.error
    if error is None or not is_expected_type(ctx):
        return
    found = server_message(ctx.contract, ctx.exchanges)
    if found is None:
        return
    message, shape, where = found
    if message and message not in error.message:
        yield failure(
            "error_message_kept",
            f"message {_short(error.message)!r} does not carry the server's message {_short(message)!r} "
            f"({shape} body {where})",
            "message",
        )


def is_expected_type(ctx: CallContext) -> bool:
    """True when the runner reports the error as (an instance of) the expected type."""
    error, expected = ctx.reply.error, ctx.expected
    if error is None or expected is None:
        return False
    return expected.error == error.type or expected.error in error.matches


def server_message(contract: Contract, exchanges: Iterable[Exchange]) -> tuple[str, str, str] | None:
    """(message, shape, where) of the last error response, read per the shape its operation declares."""
    last = next((e for e in reversed(list(exchanges)) if e.status >= 400), None)
    if last is None:
        return None
    matched = contract.match(last.method, last.path)
    shape = matched[0].error_shape(last.status) if matched else "E1"
    if shape == "E5":
        return last.body.decode("utf-8", errors="replace").strip(), shape, "(plain text)"
    body = last.json()
    if body is NOT_JSON or not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if shape == "E3" or isinstance(error, Mapping):
        message = error.get("message") if isinstance(error, Mapping) else None
        return (str(message), shape, "/error/message") if message else None
    return (str(error), shape, "/error") if isinstance(error, str) and error else None


def _short(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


CALL_CHECKS: tuple[tuple[CallCheck, Callable[[CallContext], bool]], ...] = tuple(
    (cast(CallCheck, c.function), c.applies or always) for c in of_kind(Kind.SDK_CALL)
)


def run_checks(ctx: CallContext) -> tuple[list[Finding], list[str]]:
    """The findings of every check that applies to the call, and the names of those checks."""
    findings: list[Finding] = []
    ran: list[str] = []
    for judge, applies in CALL_CHECKS:
        if applies(ctx):
            ran.append(judge.__name__)
            findings.extend(judge(ctx))
    return findings, ran
