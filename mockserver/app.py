"""The ASGI application of one mock: admin API under `/__mock/`, the contract everywhere else.

`create_app(settings)` loads the contract and the seed data, builds the state and wires the pipeline.
"""

from __future__ import annotations

import logging
from time import perf_counter

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

import spec
from mockserver.access import AdminGuard, HostCheck
from mockserver.admin import PREFIX, Admin, AdminRouter
from mockserver.auth import Authenticator
from mockserver.dispatch import ENTRY, Dispatcher
from mockserver.faults import Faults
from mockserver.journal import Journal, Secrets
from mockserver.ratelimit import RateLimiter
from mockserver.resources import handlers, projections
from mockserver.scenarios import Scenarios
from mockserver.settings import Settings
from mockserver.sse import StreamHub
from mockserver.state import MockState
from mockserver.store import Store
from mockserver.wire import dumps

logger = logging.getLogger("mockserver")


class MockApp:
    """The ASGI entry point: lifespan, the `Host` check, admin routes and the contract dispatcher."""

    def __init__(self, state: MockState, dispatcher: Dispatcher, admin: AdminRouter) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.admin = admin
        self.hosts = HostCheck(state.settings.host, state.settings.allowed_hosts)
        self.cors = _cross_origin(self.dispatcher) if state.settings.cors else None
        self._stream_operation = state.contract.stream.operation.operation_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            host = self.hosts.rejected(scope["headers"])
            if host is not None:
                await self._misdirected(host, send)
            elif scope["path"].startswith(PREFIX):
                # The admin API is same-origin only: no CORS layer, and another site's Origin is refused there.
                await self.admin(scope, receive, send)
            # Only a browser's cross-origin request carries Origin; the others skip the CORS layer entirely.
            elif self.cors is not None and _has_origin(scope["headers"]):
                await self._counted(self.cors, scope, receive, send)
            else:
                await self._counted(self.dispatcher, scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _counted(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a contract request, then count it by its journal entry (a CORS preflight has none)."""
        started = perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            entry = scope.get(ENTRY)
            if entry is not None:
                status = entry.status
                # A stream's time is its connection's, timed by the stream hub.
                streamed = entry.operation_id == self._stream_operation and status is not None and status < 300
                elapsed = None if streamed else perf_counter() - started
                self.state.requests.record(entry.operation_id, status, entry.violations, elapsed)

    async def _misdirected(self, host: str, send: Send) -> None:
        """421 for a `Host` this mock does not answer to (a page on another site reaching it by DNS rebinding)."""
        message = (
            f"Host: {host!r} is not an address of this mock (it answers to {self.hosts.describe()}); "
            "use its own address, or name the host with --allowed-hosts"
        )
        body = dumps({"error": message})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 421, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.state.streams.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.state.streams.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _has_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    # A plain loop: on every request's path, where a generator in any() costs more.
    for name, _ in headers:  # noqa: SIM110
        if name == b"origin":
            return True
    return False


def _cross_origin(app: ASGIApp) -> ASGIApp:
    """Every origin, method and header allowed, preflights answered for every path (as Prism does by default).

    No credentials mode: the API authenticates with headers, which a preflight admits, never with cookies.
    """
    return CORSMiddleware(
        app,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["*"],
        allow_private_network=True,
    )


def create_state(settings: Settings) -> MockState:
    """The state of a mock: contract, seeded store, journal, faults, streams, scenarios and rate limiter."""
    contract = spec.load(settings.spec, design=settings.design)
    store = Store.from_file(settings.data, contract)
    streams = StreamHub(contract.stream, settings.time_scale, settings.stream_queue, projections(store))
    # Every stored prediction is fanned out to the job's open streams.
    store.predictions.listeners.append(streams.on_prediction)
    return MockState(
        settings=settings,
        contract=contract,
        store=store,
        journal=Journal(settings.journal_size, settings.journal_bytes, Secrets.of(contract.schemes)),
        faults=Faults(contract.operations),
        streams=streams,
        scenarios=Scenarios(contract, store, streams, settings.time_scale, settings.scenario),
        limiter=RateLimiter(settings.rate_limit),
    )


def create_app(settings: Settings) -> MockApp:
    """The ASGI app of a mock with these settings."""
    state = create_state(settings)
    dispatcher = Dispatcher(state, Authenticator(state.store, state.limiter, state.contract.schemes), handlers())
    admin = AdminRouter(Admin(state), guard=AdminGuard(settings.admin_token))
    return MockApp(state, dispatcher, admin)
