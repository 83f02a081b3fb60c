"""The contract's request pipeline as one lean ASGI callable.

match (404 / 405 + Allow) -> journal -> faults -> validation -> auth -> the operation's handler
(or the spec's success example); every step's outcome is recorded in the journal entry.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.auth import Authenticator, AuthFailure, AuthPlan
from mockserver.context import Context, Handler
from mockserver.errors import declared_headers, error_response, example_response, plain_error
from mockserver.journal import Entry
from mockserver.state import MockState
from mockserver.validation import ClientGone, Rejection, RequestValidator
from spec import Operation

logger = logging.getLogger("mockserver")
ENTRY = "ftl.entry"  # the scope key of the request's journal entry, which the app counts once it is answered


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything about one operation that does not change between requests."""

    op: Operation
    validator: RequestValidator
    auth: AuthPlan
    handler: Handler | None
    headers: Mapping[int, list[tuple[str, str]]]


class Dispatcher:
    """Serves every operation of the contract."""

    def __init__(self, state: MockState, authenticator: Authenticator, handlers: Mapping[str, Handler]) -> None:
        self.state = state
        self.authenticator = authenticator
        self.router = state.contract.router
        settings = state.settings
        self.prepared = {
            op.operation_id: Prepared(
                op,
                RequestValidator(op, settings.body_limit, settings.read_timeout),
                AuthPlan.of(op, state.contract.schemes),
                handlers.get(op.operation_id),
                declared_headers(op),
            )
            for op in state.contract.operations.values()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        entry = self.state.journal.record(method, path, scope.get("query_string", b""), scope["headers"])
        scope[ENTRY] = entry
        match = self.router.match(method, path)
        op = match.operation
        if op is None:
            response = _unrouted(method, path, match.allowed)
            entry.status = response.status_code
            await response(scope, receive, send)
            return
        prepared = self.prepared[op.operation_id]
        entry.operation_id = op.operation_id
        response = await self._respond(prepared, match.params, scope, receive, send, entry)
        if response is not None:
            status = getattr(response, "status_code", 200)
            fixed = prepared.headers.get(status) if prepared.headers else None
            if fixed and isinstance(response, Response):
                for name, value in fixed:
                    if name not in response.headers:
                        response.headers[name] = value
            entry.status = status
            await response(scope, receive, send)

    async def _respond(
        self,
        prepared: Prepared,
        path_params: Mapping[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
        entry: Entry,
    ) -> ASGIApp | None:
        """The response to send, or None when the request got none (dropped, client gone)."""
        op = prepared.op
        faults = self.state.faults
        if faults:
            decision = faults.draw(op.operation_id)
            if decision.latency_s:
                await asyncio.sleep(decision.latency_s)
            if decision.drop:
                await _drop(send)
                return None
            if decision.error_status is not None:
                return error_response(op, decision.error_status, f"Injected fault: HTTP {decision.error_status}")
        headers = Headers(scope=scope)
        try:
            inputs = await prepared.validator.validate(scope, receive, path_params, headers, entry.set_body)
        except Rejection as rejection:
            entry.violations = rejection.violations
            closing = {"Connection": "close"} if rejection.close else None
            return error_response(op, rejection.status, rejection.message, closing)
        except ClientGone:
            return None
        entry.violations = ()
        try:
            principal = self.authenticator.authenticate(prepared.auth, headers, path_params, inputs.body)
        except AuthFailure as failure:
            entry.scheme = failure.scheme
            return error_response(op, failure.status, failure.message)
        entry.scheme = principal.scheme
        if prepared.handler is None:
            return example_response(op)
        ctx = Context(op, path_params, inputs.query, headers, inputs.body, principal, self.state, scope.get("server"))
        try:
            result = prepared.handler(ctx)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            # A 500 from the mock is a bug in the mock: log it loudly, answer in the operation's shape.
            logger.exception("handler of %s failed on %s %s", op.operation_id, scope["method"], scope["path"])
            return error_response(op, 500, f"Internal mock error in {op.operation_id}: {type(exc).__name__}: {exc}")
        return result


def _unrouted(method: str, path: str, allowed: tuple[str, ...]) -> Any:
    if allowed:
        return plain_error(
            405,
            f"Method {method} not allowed on {path}; allowed: {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    return plain_error(404, f"Not found: no operation of the contract serves {method} {path}")


async def _drop(send: Send) -> None:
    """Close the connection without an answer (an injected fault)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "close"):
        transport.close()
        # Let the server see the disconnect before the app returns, so it sends no 500 of its own.
        for _ in range(3):
            await asyncio.sleep(0)
        return
    # Not uvicorn's transport: start a response that never completes, which makes the server close.
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]})
