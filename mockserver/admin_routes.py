"""The admin API's surface: its prefix, its token header and the one table of its routes (no handlers).

The server (`admin.py`) serves `ROUTES`, the client (`client.py`) calls them, `GET /__mock/` and the README's
table list them; a path below `/__mock` is built from its route, never written by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

PREFIX = "/__mock"
TOKEN_HEADER = "X-Mock-Admin-Token"  # noqa: S105 (a header name)
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class AdminRoute:
    """One admin endpoint: its method, its path below `PREFIX`, its name (the handler's and the client's), what it does.

    `guarded` routes need the admin token when one is set; a signed download carries its own credential.
    `page` names the handler that answers a browser (`Accept: text/html`) instead, without the token:
    a page that holds no data and reads everything through the guarded routes.
    """

    method: str
    path: str
    name: str
    summary: str
    guarded: bool = True
    page: str | None = None

    @property
    def full_path(self) -> str:
        """The path as a client writes it (`/__mock/streams/{jobId}`)."""
        return PREFIX + self.path

    @property
    def parameters(self) -> tuple[str, ...]:
        """The path parameters, in order (`jobId`)."""
        return tuple(_PARAMETER.findall(self.path))

    def path_for(self, **params: str) -> str:
        """The full path with each parameter filled in, URL-quoted: `path_for(jobId="job 1")`."""
        if set(params) != set(self.parameters) or not all(params.values()):
            takes = ", ".join(self.parameters) or "none"
            raise ValueError(f"{self.method} {self.full_path} takes the path parameters {takes}, got {sorted(params)}")
        return PREFIX + _PARAMETER.sub(lambda found: quote(params[found.group(1)], safe=""), self.path)


ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute(
        "GET",
        "/",
        "index",
        "this list of admin endpoints; a browser (Accept: text/html) gets the inspector page",
        page="inspector_page",
    ),
    AdminRoute(
        "GET", "/health", "health", "status, uptime, operations, open streams, journal size, faults, rate limit"
    ),
    AdminRoute(
        "POST", "/reset", "reset", "back to the seed data; clears faults, rate-limit windows and stream bindings"
    ),
    AdminRoute("GET", "/data", "get_data", "the whole store, every table (secrets shortened unless ?secrets=1)"),
    AdminRoute("PUT", "/data", "put_data", "replace the tables named in the body, keep the others"),
    AdminRoute(
        "GET",
        "/identities",
        "identities",
        "the users with their API keys, session tokens and job tokens (secrets shortened unless ?secrets=1)",
    ),
    AdminRoute("GET", "/journal", "get_journal", "recorded requests, oldest first (?operation_id=, ?status=, ?limit=)"),
    AdminRoute("DELETE", "/journal", "clear_journal", "forget every recorded request"),
    AdminRoute("GET", "/faults", "get_faults", "the injected faults per operationId or '*'"),
    AdminRoute("PUT", "/faults", "put_faults", "replace the fault table"),
    AdminRoute("DELETE", "/faults", "clear_faults", "remove every fault"),
    AdminRoute("GET", "/streams", "list_streams", "open prediction streams, scenario bindings, shipped scenarios"),
    AdminRoute("PUT", "/streams/{jobId}", "bind_stream", "bind a scenario to a job's streams"),
    AdminRoute("DELETE", "/streams/{jobId}", "unbind_stream", "unbind a job's scenario; its streams go live again"),
    AdminRoute("POST", "/jobs/{jobId}/predictions", "insert_predictions", "store generated predictions of a job"),
    AdminRoute(
        "GET", "/metrics", "metrics", "Prometheus metrics: requests, latency, streams, events sent, errors, journal"
    ),
    AdminRoute(
        "GET", "/events", "events", "live updates for the inspector page (text/event-stream): journal, streams, …"
    ),
    AdminRoute(
        "GET", "/inspector/{asset}", "inspector_asset", "the inspector page's script and style sheet", guarded=False
    ),
    AdminRoute(
        "GET",
        "/storage/{datasetId}",
        "download",
        "a dataset file behind a signed download URL (?expires=&token=)",
        guarded=False,
    ),
)

BY_NAME: Mapping[str, AdminRoute] = {route.name: route for route in ROUTES}
if len(BY_NAME) != len(ROUTES):
    raise ValueError("two admin routes share a name; each name is one handler and one client method")


def route(name: str) -> AdminRoute:
    """The admin route called `name`; KeyError naming the known ones when there is none."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no admin route {name!r}; the routes are {', '.join(BY_NAME)}") from None
