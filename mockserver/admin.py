"""The admin API under `/__mock/`: reset, state, journal, faults and health (not part of the contract).

Documented in the README; every body is JSON and every error is `{"error": "<what to change>"}`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.context import dumps
from mockserver.errors import plain_error
from mockserver.faults import FaultError
from mockserver.state import MockState
from mockserver.store import StoreError
from mockserver.store.datasets import download_token, gzipped

PREFIX = "/__mock"


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _BadRequest(f"body: must be valid JSON ({exc})") from None


class _BadRequest(Exception):
    pass


class Admin:
    """Handlers of the admin routes of one mock."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        """The admin routes, with the stream helpers' routes of `mockserver.sse`."""
        routes: list[BaseRoute] = [
            Route(f"{PREFIX}/", self.index, methods=["GET"]),
            Route(f"{PREFIX}/health", self.health, methods=["GET"]),
            Route(f"{PREFIX}/reset", self.reset, methods=["POST"]),
            Route(f"{PREFIX}/data", self.get_data, methods=["GET"]),
            Route(f"{PREFIX}/data", self.put_data, methods=["PUT"]),
            Route(f"{PREFIX}/journal", self.get_journal, methods=["GET"]),
            Route(f"{PREFIX}/journal", self.clear_journal, methods=["DELETE"]),
            Route(f"{PREFIX}/faults", self.get_faults, methods=["GET"]),
            Route(f"{PREFIX}/faults", self.put_faults, methods=["PUT"]),
            Route(f"{PREFIX}/faults", self.clear_faults, methods=["DELETE"]),
            Route(f"{PREFIX}/storage/{{dataset_id}}", self.download, methods=["GET"]),
        ]
        from mockserver import sse

        return routes + list(sse.admin_routes(self.state))

    async def index(self, request: Request) -> Response:
        """What the admin API offers."""
        return _json(
            {
                "service": "ftl-mock admin",
                "endpoints": {
                    "GET /__mock/health": "status, uptime, operations, open streams, journal size",
                    "POST /__mock/reset": "back to the seed data; clears faults and rate-limit windows",
                    "GET /__mock/data": "dump the store",
                    "PUT /__mock/data": "replace the store with a dump",
                    "GET /__mock/journal": "recorded requests (?operation_id=, ?status=, ?limit=)",
                    "DELETE /__mock/journal": "clear the journal",
                    "GET|PUT|DELETE /__mock/faults": "injected faults per operationId or '*'",
                    "GET /__mock/streams": "open prediction streams and scenario bindings",
                },
            }
        )

    async def health(self, request: Request) -> Response:
        """Liveness and a few counters."""
        state = self.state
        return _json(
            {
                "status": "ok",
                "uptime_s": round(time.monotonic() - state.started_at, 3),
                "operations": len(state.contract.operations),
                "open_streams": state.streams.open_streams,
                "journal": {"entries": len(state.journal), "size": state.journal.size, "total": state.journal.total},
                "faults": len(state.faults.as_json()),
                "rate_limit": _rate_limit(state),
                "time_scale": state.settings.time_scale,
            }
        )

    async def reset(self, request: Request) -> Response:
        """Back to the seed data, without faults, rate-limit history or scenario bindings (the journal is kept)."""
        from mockserver.scenarios import Scenarios

        self.state.store.reset()
        self.state.faults.clear()
        self.state.limiter.reset()
        Scenarios.of(self.state).reset()
        return _json({"status": "reset"})

    async def get_data(self, request: Request) -> Response:
        """The whole store as loadable data."""
        return _json(self.state.store.dump())

    async def put_data(self, request: Request) -> Response:
        """Replace the store's state with a dump (as `GET /__mock/data` returns it)."""
        try:
            data = await _body(request)
            if not isinstance(data, dict):
                raise _BadRequest("body: must be an object of table names to rows")
            self.state.store.load(data)
        except _BadRequest as exc:
            return plain_error(400, str(exc))
        except (StoreError, ValueError, KeyError, TypeError) as exc:
            return plain_error(400, f"data: {exc}")
        return _json({"status": "loaded", "tables": {k: len(v) for k, v in self.state.store.dump().items()}})

    async def get_journal(self, request: Request) -> Response:
        """Recorded requests, oldest first; filter with `operation_id`, `status`, keep the last `limit`."""
        params = request.query_params
        op_filter = params.get("operation_id")
        status_text = params.get("status")
        limit_text = params.get("limit")
        try:
            status = int(status_text) if status_text else None
            limit = int(limit_text) if limit_text else None
        except ValueError:
            return plain_error(400, "status and limit: must be integers")
        if limit is not None and limit < 0:
            return plain_error(400, "limit: must be >= 0")
        entries = [
            e
            for e in self.state.journal
            if (op_filter is None or e.operation_id == op_filter) and (status is None or e.status == status)
        ]
        if limit is not None:
            entries = entries[-limit:] if limit else []
        journal = self.state.journal
        return _json(
            {
                "entries": [e.as_json() for e in entries],
                "count": len(entries),
                "size": journal.size,
                "total": journal.total,
            }
        )

    async def clear_journal(self, request: Request) -> Response:
        """Forget every recorded request."""
        return _json({"cleared": self.state.journal.clear()})

    async def download(self, request: Request) -> Response:
        """A dataset file behind a signed download URL (`get_public_datasets`), gzipped JSONL."""
        return _download(self.state, request.path_params["dataset_id"], request.query_params.get("token", ""))

    async def get_faults(self, request: Request) -> Response:
        """The fault table."""
        return _json(self.state.faults.as_json())

    async def put_faults(self, request: Request) -> Response:
        """Replace the fault table."""
        try:
            self.state.faults.replace(await _body(request))
        except (_BadRequest, FaultError) as exc:
            return plain_error(400, str(exc))
        return _json(self.state.faults.as_json())

    async def clear_faults(self, request: Request) -> Response:
        """Remove every fault."""
        self.state.faults.clear()
        return _json({})


def _download(state: MockState, dataset_id: str, token: str) -> Response:
    datasets = state.store.datasets
    row = datasets.get(dataset_id)
    if row is None:
        return _json({"error": f"dataset_id: no stored file {dataset_id}"}, 404)
    if token != download_token(row["storage_path"]):
        return _json({"error": "token: does not sign this file"}, 403)
    return Response(gzipped(datasets.lines(dataset_id)), media_type="application/gzip")


def _rate_limit(state: MockState) -> str | None:
    limit = state.settings.rate_limit
    return f"{limit.requests}/{limit.window_s:g}s" if limit else None
