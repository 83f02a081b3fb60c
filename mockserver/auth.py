"""Authentication per operation, following the platform's patterns (reference §1.3-1.5).

Which credentials an operation takes comes from its `security` in the spec, where each is read and the form
an API key must have from the contract's security schemes; how failures look (401 only, 403 on scope, 429 on
rate limit) from its `x-auth-pattern` and the statuses it declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers

from mockserver.ratelimit import RateLimiter
from mockserver.store import Store
from spec import Operation, SecurityScheme, SecuritySchemes

BEARER = "Bearer "  # the HTTP authentication scheme word of every bearer scheme, with its space

# The messages of the platform's validators and handlers, by failure (reference §1.3-1.4, §2-§10).
MESSAGES: Mapping[str, Mapping[str, str]] = {
    "A": {"missing": "Unauthorized", "invalid": "Unauthorized"},
    "B": {"missing": "Missing authorization header", "invalid": "Authentication failed"},
    "C": {"missing": "Unauthorized", "invalid": "Unauthorized"},
    "D": {"missing": "Unauthorized: Bearer token required", "invalid": "Unauthorized: Invalid token"},
    "E": {"missing": "Missing authorization header", "invalid": "Authentication failed"},
    "key": {
        "missing": "Missing API key. Provide in X-API-Key header or Authorization: Bearer header.",
        "format": "Invalid API key format",
        "unknown": "Invalid API key",
        "rate": "Rate limit exceeded. Try again later.",
        "job": "Job not found",
    },
}
# Routes whose handlers word the same failures differently (by operationId).
ROUTE_MESSAGES: Mapping[str, Mapping[str, str]] = {
    "list_jobs": {"missing": "Missing authorization"},
    "get_metrics": {"missing": "Unauthorized: Missing authentication", "invalid": "Unauthorized: Invalid token"},
    "get_logs": {"missing": "Unauthorized: Missing authentication", "invalid": "Unauthorized: Invalid token"},
    "get_errors": {"missing": "Unauthorized: Missing authentication", "invalid": "Unauthorized: Invalid token"},
    "create_job_metric": {"missing": "Missing or invalid authorization header", "invalid": "Invalid job token"},
    "resume_job": {"missing": "Unauthorized - no auth header"},
    "update_job_params": {"missing": "Unauthorized - no auth header"},
    "list_available_datasets": {
        "missing": "Unauthorized - missing auth header",
        "invalid": "Unauthorized - invalid token",
    },
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller.

    `scheme` is the spec's security scheme that admitted the request (`apiKey`, `workspaceApiKey`,
    `bearerApiKey`, `sessionJwt`, `jobToken`) and `credential` what it carries (`api_key`, `session_token`,
    `job_token`); both None for public operations.
    """

    user_id: str | None
    scheme: str | None
    credential: str | None = None
    scopes: frozenset[str] = frozenset()
    key_id: str | None = None
    job_id: str | None = None


ANONYMOUS = Principal(user_id=None, scheme=None)


class AuthFailure(Exception):
    """A request the operation's security turns away: status, message and the scheme presented."""

    def __init__(self, status: int, message: str, scheme: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.scheme = scheme


@dataclass(frozen=True, slots=True)
class Presented:
    """The credentials a request carries, read once from its headers."""

    key: str | None
    key_scheme: str | None
    authorization: str | None

    @property
    def bearer(self) -> str | None:
        """The token after an exact `Bearer ` prefix."""
        auth = self.authorization
        return auth[len(BEARER) :].strip() if auth is not None and auth.startswith(BEARER) else None


class KeyReader:
    """Where a request's API key is, from the schemes carrying `api_key` in the contract's order.

    The key headers (`X-API-Key`, then `X-Workspace-API-Key`) first, else a bearer value that starts like a
    key (`x-key-prefix`: `Bearer wak_…`), which must then have the key's form (`x-key-pattern`).
    """

    def __init__(self, schemes: SecuritySchemes) -> None:
        keys = schemes.carrying("api_key")
        self.names = frozenset(scheme.name for scheme in keys)
        self.headers = tuple((s.header.lower(), s.name) for s in keys if s.is_header_key and s.header)
        bearer = next((s for s in keys if s.is_bearer and s.key_prefix), None)
        self.bearer_prefix = BEARER + bearer.key_prefix if bearer is not None and bearer.key_prefix else None
        self.bearer_scheme = bearer.name if bearer is not None else None
        self.schemes: Mapping[str, SecurityScheme] = {scheme.name: scheme for scheme in keys}

    def read(self, headers: Headers) -> Presented:
        """The credentials a request carries: its API key (and the scheme it came by) and its `Authorization`."""
        authorization = headers.get("authorization")
        for header, scheme in self.headers:
            value = headers.get(header)
            if value is not None and value.strip():
                return Presented(value.strip(), scheme, authorization)
        if (
            self.bearer_prefix is not None
            and authorization is not None
            and authorization.startswith(self.bearer_prefix)
        ):
            return Presented(authorization[len(BEARER) :].strip(), self.bearer_scheme, authorization)
        return Presented(None, None, authorization)

    def fits(self, scheme: str | None, key: str) -> bool:
        """True when `key` has the form the scheme it came by asks for (`x-key-pattern`)."""
        found = self.schemes.get(scheme or "")
        return found is not None and found.fits(key)


@dataclass(frozen=True, slots=True)
class AuthPlan:
    """How one operation authenticates, prepared once from the spec."""

    op: Operation
    pattern: str
    key_schemes: frozenset[str]
    scope: tuple[str, ...]
    session: bool
    job_token: bool
    messages: Mapping[str, str]

    @classmethod
    def of(cls, op: Operation, schemes: SecuritySchemes) -> AuthPlan:
        """The plan of `op` from its security requirements, the schemes they name and its auth pattern."""
        names = op.scheme_names
        carried = {name: schemes.credential_of(name) for name in names}
        key_schemes = frozenset(name for name, credential in carried.items() if credential == "api_key")
        scope: tuple[str, ...] = ()
        for req in op.security:
            for scheme, roles in req.schemes.items():
                if scheme in key_schemes and roles:
                    scope = tuple(roles)
        pattern = op.auth_pattern if op.requires_auth else "none"
        key_only = bool(key_schemes) and key_schemes == names
        base = MESSAGES["key"] if key_only else MESSAGES.get(pattern, MESSAGES["C"])
        messages = {**MESSAGES["key"], **base, **ROUTE_MESSAGES.get(op.operation_id, {})}
        session = "session_token" in carried.values()
        return cls(op, pattern, key_schemes, scope, session, "job_token" in carried.values(), messages)

    def status(self, wanted: int) -> int:
        """`wanted` when the operation declares it, else 401 (pattern A never answers 403 or 429)."""
        return wanted if str(wanted) in self.op.responses else 401


class Authenticator:
    """Turns a request's credentials into a Principal for one operation, or an AuthFailure."""

    def __init__(self, store: Store, limiter: RateLimiter, schemes: SecuritySchemes) -> None:
        self.store = store
        self.limiter = limiter
        self.keys = KeyReader(schemes)
        self.session_scheme = next((s.name for s in schemes.carrying("session_token")), None)
        self.job_scheme = next((s.name for s in schemes.carrying("job_token")), None)

    def authenticate(self, plan: AuthPlan, headers: Headers, path_params: Mapping[str, str], body: Any) -> Principal:
        """The caller admitted by `plan`; AuthFailure with the operation's status and message otherwise."""
        if plan.pattern == "none":
            return ANONYMOUS
        presented = self.keys.read(headers)
        if plan.job_token:
            return self._job_token(plan, presented, path_params, body)
        if plan.key_schemes and presented.key is not None:
            if plan.pattern == "A":
                try:
                    return self._api_key(plan, presented)
                except AuthFailure:
                    pass  # pattern A falls back to the session JWT on any key failure
            else:
                return self._api_key(plan, presented)
        if plan.session:
            return self._session(plan, presented)
        if presented.bearer:
            # A key-only operation reads any bearer value as an API key, which then fails the format check.
            raise AuthFailure(401, plan.messages["format"], self.keys.bearer_scheme)
        raise AuthFailure(401, plan.messages["missing"], None)

    def _api_key(self, plan: AuthPlan, presented: Presented) -> Principal:
        key, scheme = presented.key or "", presented.key_scheme
        if scheme not in plan.key_schemes:
            raise AuthFailure(401, plan.messages["unknown"], scheme)
        if not self.keys.fits(scheme, key):
            raise AuthFailure(401, plan.messages["format"], scheme)
        if not self.limiter.allow(key):
            raise AuthFailure(plan.status(429), plan.messages["rate"], scheme)
        stored = self.store.accounts.api_key(key)
        if stored is None:
            raise AuthFailure(401, plan.messages["unknown"], scheme)
        missing = [s for s in plan.scope if not stored.has_scope(s)]
        if missing:
            message = f"API key does not have '{missing[0]}' scope. Key scopes: {', '.join(sorted(stored.scopes))}"
            raise AuthFailure(plan.status(403), message, scheme)
        return Principal(stored.user_id, scheme, "api_key", stored.scopes, key_id=stored.name or key[:8])

    def _session(self, plan: AuthPlan, presented: Presented) -> Principal:
        token = presented.bearer
        if token is None:
            kind = "missing" if presented.authorization is None or plan.pattern == "A" else "invalid"
            raise AuthFailure(401, plan.messages[kind], None)
        user_id = self.store.accounts.session_user(token)
        if user_id is None:
            raise AuthFailure(401, plan.messages["invalid"], self.session_scheme)
        return Principal(user_id, self.session_scheme, "session_token")

    def _job_token(self, plan: AuthPlan, presented: Presented, path_params: Mapping[str, str], body: Any) -> Principal:
        token = presented.bearer
        if token is None:
            raise AuthFailure(401, plan.messages["missing"], None)
        job_id = path_params.get("jobId")
        if job_id is None and isinstance(body, Mapping):
            value = body.get("job_id")
            job_id = value if isinstance(value, str) else None
        job = self.job(job_id) if job_id else None
        if job is None:
            raise AuthFailure(404, plan.messages["job"], self.job_scheme)
        if job.get("job_token") != token:
            raise AuthFailure(401, plan.messages["invalid"], self.job_scheme)
        return Principal(job.get("user_id"), self.job_scheme, "job_token", job_id=job_id)

    def job(self, job_id: str) -> Mapping[str, Any] | None:
        """The stored job row (any owner), or None."""
        jobs = getattr(self.store, "jobs", None)
        return jobs.get(job_id) if jobs is not None else None
