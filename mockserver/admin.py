"""The admin API under `/__mock/` (not part of the contract): the handlers of its route table, and its router.

`admin_routes.ROUTES` is the only list of admin endpoints: this router, `GET /__mock/`, the client and the
README's table follow it.
Every body is JSON and every failure is `{"error": "<what to change>"}` (400, 401, 403, 404, 405 with
`Allow`, 408, 413, 415, 500). With `--admin-token` every route but the signed downloads needs the token.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from mockserver.access import ADMIN_TOKEN_HEADER, AdminGuard
from mockserver.admin_routes import PREFIX, ROUTES, AdminRoute
from mockserver.errors import MockError, plain_error
from mockserver.faults import FaultError
from mockserver.inspector import Feed, Page, wants_html
from mockserver.inspector.feed import FeedBusy
from mockserver.inspector.page import SECURITY_HEADERS
from mockserver.metrics import MockMetrics
from mockserver.scenarios import ScenarioError
from mockserver.state import MockState
from mockserver.store import StoreError
from mockserver.store.datasets import download_path, gzipped
from mockserver.validation import ClientGone, Rejection, read_body
from mockserver.wire import JSON, MAX_DEPTH, dumps, too_deep
from spec import Redaction

# The secret columns of `GET /__mock/data`, by table: shown as their first characters unless `?secrets=1`.
SECRETS: Mapping[str, tuple[str, ...]] = {"users": ("sessions",), "api_keys": ("key",), "jobs": ("job_token",)}
# The credentials of an entry of `GET /__mock/identities`, shown as their first characters unless `?secrets=1`.
IDENTITY_SECRETS = frozenset({"api_key", "session_token", "job_token"})
# Tables -> rows -> a row's values: the levels a data document adds above the values a request may send.
DATA_LEVELS = 3

logger = logging.getLogger("mockserver")


class AdminError(MockError):
    """An admin request that cannot be served: the status and what to change."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON)


_NO_DEFAULT: Any = object()


def redacted(dump: Mapping[str, Any], redaction: Redaction) -> dict[str, Any]:
    """A data dump with every secret (session tokens, API keys, job tokens) cut to its first characters."""
    shown = dict(dump)
    for table, columns in SECRETS.items():
        rows = []
        for row in shown.get(table) or []:
            row = dict(row)
            for column in columns:
                value = row.get(column)
                if isinstance(value, str):
                    row[column] = redaction.apply(value)
                elif isinstance(value, list):
                    row[column] = [redaction.apply(str(item)) for item in value]
            rows.append(row)
        shown[table] = rows
    return shown


def redacted_values(data: Mapping[str, Any], redaction: Redaction) -> list[str]:
    """Where a data document still holds a redacted secret (`wak_j6S4…`), as `table[row].column` pointers."""
    found = []
    for table, columns in SECRETS.items():
        rows = data.get(table)
        for index, row in enumerate(rows if isinstance(rows, list) else []):
            for column in columns if isinstance(row, dict) else ():
                value = row.get(column)
                values = value if isinstance(value, list) else [value]
                if any(isinstance(item, str) and redaction.applied(item) for item in values):
                    found.append(f"{table}[{index}].{column}")
    return found


def redacted_identities(found: Mapping[str, Any], redaction: Redaction) -> dict[str, Any]:
    """`Store.identities()` with every API key, session token and job token cut to its first characters."""

    def shown(value: Any) -> Any:
        return redaction.apply(value) if isinstance(value, str) else value

    def credentials(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {k: shown(v) if k in IDENTITY_SECRETS else v for k, v in entry.items()}

    users = [
        {
            **credentials(user),
            "api_keys": [{**key, "key": shown(key["key"])} for key in user["api_keys"]],
            "session_tokens": [shown(token) for token in user["session_tokens"]],
            "jobs": [{**job, "job_token": shown(job["job_token"])} for job in user["jobs"]],
        }
        for user in found["users"]
    ]
    return {"demo": credentials(found["demo"]), "users": users}


def _secrets_asked(request: Request) -> bool:
    asked = request.query_params.get("secrets", "0")
    if asked not in ("0", "1"):
        raise AdminError(400, f"secrets: must be 0 or 1 (got {asked!r})")
    return asked == "1"


class Admin:
    """The handlers of the admin routes of one mock, one method per `AdminRoute.name`."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.prometheus = MockMetrics(state)
        self.feed = Feed(state, self.prometheus)
        self.page = Page()

    async def _json_body(self, request: Request, default: Any = _NO_DEFAULT) -> Any:
        """The request's JSON body (bounded in size, time and depth); `default` when it is empty and one is given."""
        settings = self.state.settings
        try:
            raw = await read_body(request.receive, request.headers, settings.admin_body_limit, settings.read_timeout)
        except Rejection as rejection:
            raise AdminError(rejection.status, rejection.message, close=rejection.close) from None
        if not raw.strip():
            if default is _NO_DEFAULT:
                raise AdminError(400, "body: a JSON document is required")
            return default
        if too_deep(raw, MAX_DEPTH + DATA_LEVELS):
            raise AdminError(
                400, f"body: must not nest arrays and objects more than {MAX_DEPTH + DATA_LEVELS} levels deep"
            )
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise AdminError(400, f"body: must be valid JSON ({exc})") from None

    async def index(self, request: Request) -> Response:
        """What the admin API offers (built from `ROUTES`)."""
        endpoints = {f"{route.method} {route.full_path}": route.summary for route in ROUTES}
        return _json({"service": "ftl-mock admin", "endpoints": endpoints})

    async def health(self, request: Request) -> Response:
        """Liveness and a few counters."""
        state = self.state
        return _json(
            {
                "status": "ok",
                "uptime_s": round(time.monotonic() - state.started_at, 3),
                "operations": len(state.contract.operations),
                "open_streams": state.streams.open_streams,
                "journal": {
                    "entries": len(state.journal),
                    "size": state.journal.size,
                    "total": state.journal.total,
                    "bytes": state.journal.bytes,
                    "budget": state.journal.budget,
                },
                "faults": len(state.faults.as_json()),
                "rate_limit": state.limiter.describe(),
                "time_scale": state.settings.time_scale,
            }
        )

    async def reset(self, request: Request) -> Response:
        """Back to the seed data, without faults, rate-limit history or scenario bindings (the journal is kept)."""
        self.state.reset()
        return _json({"status": "reset"})

    async def get_data(self, request: Request) -> Response:
        """The whole store as loadable data; secrets only in full when asked for with `?secrets=1`."""
        dump = self.state.store.dump()
        return _json(dump if _secrets_asked(request) else redacted(dump, self.state.contract.schemes.redaction))

    async def identities(self, request: Request) -> Response:
        """Every user with their API keys, session tokens and job tokens, and the demo credentials the banner prints;
        secrets only in full when asked for with `?secrets=1` (the same rule as `GET /__mock/data`)."""
        found = self.state.store.identities()
        if not _secrets_asked(request):
            found = redacted_identities(found, self.state.contract.schemes.redaction)
        return _json(found)

    async def put_data(self, request: Request) -> Response:
        """Replace the tables the body names (in the shape `GET /__mock/data` returns); keep the others."""
        data = await self._json_body(request)
        if not isinstance(data, dict):
            raise AdminError(400, "body: must be an object of table names to rows")
        shortened = redacted_values(data, self.state.contract.schemes.redaction)
        if shortened:
            where = ", ".join(shortened[:3]) + (" …" if len(shortened) > 3 else "")
            raise AdminError(400, f"{where}: holds a shortened secret; read the data with GET /__mock/data?secrets=1")
        try:
            self.state.store.replace(data)
        except (StoreError, ValueError, KeyError, TypeError) as exc:
            raise AdminError(400, f"data: {exc}") from None
        counts = {name: len(rows) for name, rows in self.state.store.dump().items()}
        return _json({"status": "loaded", "replaced": sorted(data), "tables": counts})

    async def get_journal(self, request: Request) -> Response:
        """Recorded requests, oldest first; filter with `operation_id`, `status`, keep the last `limit`."""
        params = request.query_params
        op_filter = params.get("operation_id")
        try:
            status = int(params["status"]) if params.get("status") else None
            limit = int(params["limit"]) if params.get("limit") else None
        except ValueError:
            raise AdminError(400, "status and limit: must be integers") from None
        if limit is not None and limit < 0:
            raise AdminError(400, "limit: must be >= 0")
        journal = self.state.journal
        entries = [
            e
            for e in journal
            if (op_filter is None or e.operation_id == op_filter) and (status is None or e.status == status)
        ]
        if limit is not None:
            entries = entries[-limit:] if limit else []
        return _json(
            {
                "entries": [e.as_json(journal.secrets) for e in entries],
                "count": len(entries),
                "size": journal.size,
                "total": journal.total,
            }
        )

    async def clear_journal(self, request: Request) -> Response:
        """Forget every recorded request."""
        return _json({"cleared": self.state.journal.clear()})

    async def get_faults(self, request: Request) -> Response:
        """The fault table."""
        return _json(self.state.faults.as_json())

    async def put_faults(self, request: Request) -> Response:
        """Replace the fault table."""
        try:
            self.state.faults.replace(await self._json_body(request))
        except FaultError as exc:
            raise AdminError(400, str(exc)) from None
        return _json(self.state.faults.as_json())

    async def clear_faults(self, request: Request) -> Response:
        """Remove every fault."""
        self.state.faults.clear()
        return _json({})

    async def list_streams(self, request: Request) -> Response:
        """Open streams, bindings, the default scenario and the shipped scenario names."""
        hub = self.state.streams
        scenarios = self.state.scenarios
        return _json(
            {
                "open_streams": hub.open_streams,
                "dropped_slow": hub.dropped_slow,
                "default_scenario": scenarios.default,
                "bindings": {job: s.summary() for job, s in scenarios.bindings.items()},
                "scenarios": scenarios.library.names(),
            }
        )

    async def bind_stream(self, request: Request) -> Response:
        """Bind a scenario (`{"scenario": name}` or `{"scenario": {...}}`) to a job's streams."""
        job_id = request.path_params["jobId"]
        body = await self._json_body(request)
        if not isinstance(body, dict) or "scenario" not in body:
            raise AdminError(400, 'body: must be {"scenario": <name or inline scenario>}')
        try:
            scenario = self.state.scenarios.bind(job_id, body["scenario"])
        except ScenarioError as exc:
            raise AdminError(400, str(exc)) from None
        return _json({"job_id": job_id, "scenario": scenario.summary()})

    async def unbind_stream(self, request: Request) -> Response:
        """Remove a job's binding; its streams go live again (or play the default scenario)."""
        job_id = request.path_params["jobId"]
        return _json({"job_id": job_id, "removed": self.state.scenarios.unbind(job_id)})

    async def insert_predictions(self, request: Request) -> Response:
        """Insert `count` generated predictions now, or `rate` per second in the background."""
        job_id = request.path_params["jobId"]
        scenarios = self.state.scenarios
        body = await self._json_body(request, default={})
        for violation in scenarios.library.parser.step_schema("insert").violations(body, "body"):
            raise AdminError(400, str(violation))
        if self.state.store.jobs.get(job_id) is None:
            raise AdminError(404, f"jobId: no job {job_id!r}")
        count = int(body.get("count", 1))
        epoch = body.get("epoch", "current")
        if "rate" in body:
            scenarios.trickle(job_id, count, epoch, float(body["rate"]))
            return _json({"job_id": job_id, "scheduled": count, "rate": body["rate"]}, 202)
        try:
            stored = scenarios.feed.insert(job_id, count, epoch)
        except ScenarioError as exc:
            raise AdminError(400, str(exc)) from None
        return _json({"job_id": job_id, "inserted": len(stored), "total_count": stored[-1][1]})

    async def metrics(self, request: Request) -> Response:
        """The metrics in the Prometheus text format (OpenMetrics when the scraper asks for it)."""
        body, content_type = self.prometheus.exposition(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    async def events(self, request: Request) -> Response:
        """The inspector's live feed: what changed in the mock, as server-sent events, until the client leaves."""
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        if request.method == "HEAD":
            return Response(b"", media_type="text/event-stream", headers=headers)
        try:
            events = self.feed.open()
        except FeedBusy as exc:
            raise AdminError(503, str(exc)) from None
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    async def inspector_page(self, request: Request) -> Response:
        """The inspector page (it holds no data: its script reads the guarded routes, with the token if one is set)."""
        page = self.page.html
        return Response(page.body, headers={"Content-Type": page.media_type, **SECURITY_HEADERS})

    async def inspector_asset(self, request: Request) -> Response:
        """The page's script or style sheet."""
        asset = self.page.asset(request.path_params["asset"])
        if asset is None:
            raise AdminError(404, f"asset: the inspector has no file {request.path_params['asset']!r}")
        return Response(asset.body, headers={"Content-Type": asset.media_type, **SECURITY_HEADERS})

    async def download(self, request: Request) -> Response:
        """A dataset file behind a signed download URL (`get_public_datasets`), gzipped JSONL.

        The signature is checked first: a URL that was never signed learns nothing, not even whether the file exists.
        """
        dataset_id = request.path_params["datasetId"]
        params = request.query_params
        problem = self.state.signer.problem(
            download_path(dataset_id), params.get("token", ""), params.get("expires", ""), time.time()
        )
        if problem is not None:
            raise AdminError(403, problem)
        datasets = self.state.store.datasets
        if datasets.get(dataset_id) is None:
            raise AdminError(404, f"datasetId: the signed file {dataset_id} was deleted")
        return Response(gzipped(datasets.lines(dataset_id)), media_type="application/gzip")


Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Path:
    """One admin path with the handler of each method it takes."""

    pattern: re.Pattern[str]
    template: str
    methods: Mapping[str, tuple[Endpoint, bool]]

    @property
    def allow(self) -> str:
        """The `Allow` header: the methods served, HEAD wherever GET is."""
        methods = set(self.methods) | ({"HEAD"} if "GET" in self.methods else set())
        return ", ".join(sorted(methods))


def _pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", path)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(regex + r"\Z")


class AdminRouter:
    """Serves `ROUTES` under `PREFIX`, all JSON: the token (when set) first, 403 for another site's `Origin`,
    then 404 for an unknown path, 405 with `Allow` for a wrong method and 415 for a write that is not JSON.
    """

    def __init__(self, admin: Admin, routes: tuple[AdminRoute, ...] = ROUTES, guard: AdminGuard | None = None) -> None:
        by_path: dict[str, dict[str, tuple[Endpoint, bool]]] = {}
        self.pages: dict[str, Endpoint] = {}
        for route in routes:
            methods = by_path.setdefault(route.path, {})
            if route.method in methods:
                raise ValueError(f"admin route {route.method} {route.full_path} is declared twice")
            methods[route.method] = (getattr(admin, route.name), route.guarded)
            if route.page is not None:
                self.pages[route.path] = getattr(admin, route.page)
        self.paths = tuple(_Path(_pattern(path), path, methods) for path, methods in by_path.items())
        self.guard = guard if guard is not None else AdminGuard(None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._respond(scope, receive)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Response:
        method: str = scope["method"]
        headers = Headers(scope=scope)
        # `/__mock` is the index; a trailing slash elsewhere is ignored.
        path = scope["path"][len(PREFIX) :].rstrip("/") or "/"
        candidate, matched = next(((c, m) for c in self.paths if (m := c.pattern.match(path))), (None, None))
        served = candidate.methods.get("GET" if method == "HEAD" else method) if candidate is not None else None
        page = self.pages.get(candidate.template) if candidate is not None and method in ("GET", "HEAD") else None
        if page is not None and matched is not None and wants_html(headers.get("accept")):
            return await page(Request({**scope, "path_params": matched.groupdict()}, receive))
        if served is None or served[1]:
            refused = self.guard.unauthorized(headers.get(ADMIN_TOKEN_HEADER))
            if refused is not None:
                return plain_error(401, refused)
            # Another site's page may neither read nor change the mock (its preflights are refused here too).
            foreign = self.guard.foreign_origin(headers.get("origin"), scope.get("scheme", "http"), headers.get("host"))
            if foreign is not None:
                return plain_error(403, foreign)
        if candidate is None or matched is None:
            return plain_error(404, f"Not found: the admin API has no {method} {scope['path']} (see GET {PREFIX}/)")
        if served is None:
            allow = candidate.allow
            message = f"Method {method} not allowed on {scope['path']}; allowed: {allow}"
            return plain_error(405, message, headers={"Allow": allow})
        refusal = self._write_refusal(method, headers)
        if refusal is not None:
            return refusal
        request = Request({**scope, "path_params": matched.groupdict()}, receive)
        try:
            return await served[0](request)
        except AdminError as exc:
            return plain_error(exc.status, exc.message, headers={"Connection": "close"} if exc.close else None)
        except ClientGone:
            return plain_error(400, "body: the client left before sending it")
        except Exception as exc:
            logger.exception("admin handler of %s %s failed", method, scope["path"])
            return plain_error(500, f"Internal mock error in the admin API: {type(exc).__name__}: {exc}")

    def _write_refusal(self, method: str, headers: Headers) -> Response | None:
        if method in ("GET", "HEAD", "OPTIONS"):
            return None
        media = self.guard.unsupported_media(method, headers.get("content-type"))
        return plain_error(415, media) if media is not None else None
