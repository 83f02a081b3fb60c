"""A client of one ftl-mock's admin API (`/__mock`), for our own tools and for users' tests.

One method per route of `admin_routes.ROUTES`, named as the route is; it sends the admin token when given one.
Imports only httpx and the route table, so a test or a Locust driver can use it without loading the mock:

    with MockAdmin("http://127.0.0.1:8765") as admin:
        admin.reset()
        admin.put_faults({"get_predictions": {"error_status": 503}})
        key = admin.identities(secrets=True).demo.api_key
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mockserver.admin_routes import PREFIX, TOKEN_HEADER, AdminRoute, route

__all__ = [
    "AdminClientError",
    "ApiKeyIdentity",
    "Credentials",
    "Identities",
    "Identity",
    "JobIdentity",
    "MockAdmin",
]

TIMEOUT_S = 10.0


class AdminClientError(Exception):
    """The admin API refused a request: the route, the status and the mock's `{"error": …}` message."""

    def __init__(self, route: AdminRoute, status: int, message: str) -> None:
        super().__init__(f"{route.method} {route.full_path}: HTTP {status}: {message}")
        self.route = route
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ApiKeyIdentity:
    """One API key of a user: the key, its name, its scopes as stored, and whether it is active."""

    key: str
    name: str
    scopes: tuple[str, ...]
    active: bool


@dataclass(frozen=True, slots=True)
class JobIdentity:
    """A job of a user with the token its worker uploads with."""

    job_id: str
    job_token: str
    status: str | None


@dataclass(frozen=True, slots=True)
class Credentials:
    """One caller's credentials as the mock chooses them: an all-scope key (else any active one), a session token,
    and the token of a running job (else of any job). Any of them may be None when the seed data has none."""

    user_id: str | None
    api_key: str | None
    session_token: str | None
    job_id: str | None
    job_token: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Credentials:
        """Read from the `demo` or a user's entry of `GET /__mock/identities`."""
        return cls(
            user_id=data.get("user_id"),
            api_key=data.get("api_key"),
            session_token=data.get("session_token"),
            job_id=data.get("job_id"),
            job_token=data.get("job_token"),
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """A user of the seed data with every credential they hold; `credentials` are the ones the mock picks."""

    user_id: str
    email: str | None
    name: str | None
    credentials: Credentials
    api_keys: tuple[ApiKeyIdentity, ...]
    session_tokens: tuple[str, ...]
    jobs: tuple[JobIdentity, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identity:
        """Read from one entry of `users` in `GET /__mock/identities`."""
        return cls(
            user_id=str(data["user_id"]),
            email=data.get("email"),
            name=data.get("name"),
            credentials=Credentials.from_json(data),
            api_keys=tuple(
                ApiKeyIdentity(str(k["key"]), str(k.get("name", "")), tuple(k.get("scopes") or ()), bool(k["active"]))
                for k in data.get("api_keys") or ()
            ),
            session_tokens=tuple(str(token) for token in data.get("session_tokens") or ()),
            jobs=tuple(
                JobIdentity(str(j["job_id"]), str(j["job_token"]), j.get("status")) for j in data.get("jobs") or ()
            ),
        )


@dataclass(frozen=True, slots=True)
class Identities:
    """Who the mock knows: the demo credentials (those the banner prints) and every user with theirs."""

    demo: Credentials
    users: tuple[Identity, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identities:
        """Read the body of `GET /__mock/identities`."""
        return cls(Credentials.from_json(data.get("demo") or {}), tuple(Identity.from_json(u) for u in data["users"]))

    def user(self, user_id: str) -> Identity:
        """The user with this id; KeyError when the mock has none."""
        found = next((u for u in self.users if u.user_id == user_id), None)
        if found is None:
            raise KeyError(f"the mock has no user {user_id!r}")
        return found

    def others(self, user_id: str | None = None) -> tuple[Identity, ...]:
        """Every user but `user_id` (by default the demo user), in seed order: the callers ownership checks need."""
        mine = user_id if user_id is not None else self.demo.user_id
        return tuple(u for u in self.users if u.user_id != mine)


class MockAdmin:
    """The admin API of one mock at `url` (the mock's base URL, without `/__mock`)."""

    def __init__(
        self, url: str, *, token: str | None = None, timeout: float = TIMEOUT_S, client: httpx.Client | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._owned = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    @property
    def headers(self) -> dict[str, str]:
        """The header every admin request carries when the mock was started with `--admin-token`."""
        return {TOKEN_HEADER: self.token} if self.token else {}

    @property
    def base(self) -> str:
        """The admin API's own URL (`http://127.0.0.1:8765/__mock`)."""
        return self.url + PREFIX

    def close(self) -> None:
        """Close the HTTP client (unless it was given)."""
        if self._owned:
            self._client.close()

    def __enter__(self) -> MockAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        **path: str,
    ) -> httpx.Response:
        """Send the request of the route called `name` (JSON body for writes); AdminClientError unless 2xx."""
        found = route(name)
        writes = found.method in ("POST", "PUT", "PATCH")
        response = self._client.request(
            found.method,
            self.url + found.path_for(**path),
            params=params,
            json=(body if body is not None else {}) if writes else None,
            headers=self.headers if found.guarded else None,
        )
        if not response.is_success:
            raise AdminClientError(found, response.status_code, _message(response))
        return response

    def _json(self, name: str, **kwargs: Any) -> Any:
        return self.call(name, **kwargs).json()

    # One method per admin route, named as the route is (tests/test_mock_client.py holds them in step).

    def index(self) -> dict[str, str]:
        """Every admin endpoint with what it does (`"GET /__mock/health": "…"`)."""
        return dict(self._json("index")["endpoints"])

    def health(self) -> dict[str, Any]:
        """Status, uptime, operations, open streams, journal counters, faults, rate limit, time scale."""
        return dict(self._json("health"))

    def reset(self) -> None:
        """Every table back to the seed data; faults, rate-limit windows and stream bindings cleared."""
        self.call("reset")

    def get_data(self, *, secrets: bool = False) -> dict[str, Any]:
        """The whole store by table; secrets in full only with `secrets=True`."""
        return dict(self._json("get_data", params={"secrets": 1} if secrets else None))

    def put_data(self, tables: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the tables named (rows as `get_data` returns them), keep the others; the row counts after."""
        return dict(self._json("put_data", body=dict(tables)))

    def identities(self, *, secrets: bool = False) -> Identities:
        """The demo credentials and every user with theirs; in full only with `secrets=True`."""
        return Identities.from_json(self._json("identities", params={"secrets": 1} if secrets else None))

    def get_journal(
        self, *, operation_id: str | None = None, status: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Recorded requests, oldest first, optionally of one operation or status, the last `limit` only."""
        query = {"operation_id": operation_id, "status": status, "limit": limit}
        return list(self._json("get_journal", params={k: v for k, v in query.items() if v is not None})["entries"])

    def clear_journal(self) -> int:
        """Forget every recorded request; how many there were."""
        return int(self._json("clear_journal")["cleared"])

    def get_faults(self) -> dict[str, Any]:
        """The injected faults by operationId (or `*`)."""
        return dict(self._json("get_faults"))

    def put_faults(self, faults: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the fault table: `{"get_predictions": {"error_status": 503, "error_probability": 0.2}}`."""
        return dict(self._json("put_faults", body=dict(faults)))

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.call("clear_faults")

    def list_streams(self) -> dict[str, Any]:
        """Open streams, slow consumers dropped, the default scenario, bindings and shipped scenario names."""
        return dict(self._json("list_streams"))

    def bind_stream(self, job_id: str, scenario: str | Mapping[str, Any]) -> dict[str, Any]:
        """Play a scenario (a shipped name or an inline `{"steps": […]}`) on the job's streams."""
        body = {"scenario": scenario if isinstance(scenario, str) else dict(scenario)}
        return dict(self._json("bind_stream", body=body, jobId=job_id))

    def unbind_stream(self, job_id: str) -> bool:
        """Make the job's streams live again; True when a scenario was bound."""
        return bool(self._json("unbind_stream", jobId=job_id)["removed"])

    def insert_predictions(
        self, job_id: str, count: int = 1, *, epoch: int | str = "current", rate: float | None = None
    ) -> dict[str, Any]:
        """Store `count` generated predictions of the job now, or `rate` per second in the background."""
        body: dict[str, Any] = {"count": count, "epoch": epoch, **({"rate": rate} if rate is not None else {})}
        return dict(self._json("insert_predictions", body=body, jobId=job_id))

    def metrics(self) -> str:
        """The Prometheus text exposition of the mock's metrics (parse it with `prometheus_client.parser`)."""
        return self.call("metrics").text

    def events(self) -> Iterator[str]:
        """The inspector's live feed, line by line (it never ends on its own: stop reading when done)."""
        found = route("events")
        with self._client.stream("GET", self.url + found.path_for(), headers=self.headers, timeout=None) as answer:
            if not answer.is_success:
                answer.read()
                raise AdminClientError(found, answer.status_code, _message(answer))
            yield from answer.iter_lines()

    def inspector_asset(self, asset: str) -> bytes:
        """A file of the inspector page (`inspector.js`, `inspector.css`)."""
        return self.call("inspector_asset", asset=asset).content

    def download(self, dataset_id: str, *, expires: str, token: str) -> bytes:
        """A dataset file (gzipped JSONL) behind a signed download URL's expiry and token."""
        return self.call("download", params={"expires": expires, "token": token}, datasetId=dataset_id).content


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    return str(error) if error is not None else response.text[:200]
