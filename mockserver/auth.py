"""Authentication per operation, following the platform's patterns (reference §1.3-1.5).

Which credentials an operation takes comes from its `security` in the spec; how failures look
(401 only, 403 on scope, 429 on rate limit) from its `x-auth-pattern` and the statuses it declares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers

from mockserver.ratelimit import RateLimiter
from mockserver.store import Store
from spec import Operation

API_KEY_FORMAT = re.compile(r"wak_[A-Za-z0-9]{32}")
KEY_HEADERS = (("x-api-key", "apiKey"), ("x-workspace-api-key", "workspaceApiKey"))
KEY_SCHEMES = frozenset({"apiKey", "workspaceApiKey", "bearerApiKey"})
BEARER = "Bearer "

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
    `bearerApiKey`, `sessionJwt`, `jobToken`) or None for public operations.
    """

    user_id: str | None
    scheme: str | None
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

    @classmethod
    def read(cls, headers: Headers) -> Presented:
        """API key from X-API-Key, else X-Workspace-API-Key, else `Bearer wak_…` (in that order)."""
        authorization = headers.get("authorization")
        for header, scheme in KEY_HEADERS:
            value = headers.get(header)
            if value is not None and value.strip():
                return cls(value.strip(), scheme, authorization)
        if authorization is not None and authorization.startswith(BEARER + "wak_"):
            return cls(authorization[len(BEARER) :].strip(), "bearerApiKey", authorization)
        return cls(None, None, authorization)


@dataclass(frozen=True, slots=True)
class AuthPlan:
    """How one operation authenticates, prepared once from the spec."""

    op: Operation
    pattern: str
    key_schemes: frozenset[str]
    scope: tuple[str, ...]
    jwt: bool
    job_token: bool
    messages: Mapping[str, str]

    @classmethod
    def of(cls, op: Operation) -> AuthPlan:
        """The plan of `op` from its security requirements and auth pattern."""
        names = op.scheme_names
        scope: tuple[str, ...] = ()
        for req in op.security:
            for scheme, roles in req.schemes.items():
                if scheme in KEY_SCHEMES and roles:
                    scope = tuple(roles)
        pattern = op.auth_pattern if op.requires_auth else "none"
        key_only = bool(names & KEY_SCHEMES) and not names - KEY_SCHEMES
        base = MESSAGES["key"] if key_only else MESSAGES.get(pattern, MESSAGES["C"])
        messages = {**MESSAGES["key"], **base, **ROUTE_MESSAGES.get(op.operation_id, {})}
        return cls(op, pattern, names & KEY_SCHEMES, scope, "sessionJwt" in names, "jobToken" in names, messages)

    def status(self, wanted: int) -> int:
        """`wanted` when the operation declares it, else 401 (pattern A never answers 403 or 429)."""
        return wanted if str(wanted) in self.op.responses else 401


class Authenticator:
    """Turns a request's credentials into a Principal for one operation, or an AuthFailure."""

    def __init__(self, store: Store, limiter: RateLimiter) -> None:
        self.store = store
        self.limiter = limiter

    def authenticate(self, plan: AuthPlan, headers: Headers, path_params: Mapping[str, str], body: Any) -> Principal:
        """The caller admitted by `plan`; AuthFailure with the operation's status and message otherwise."""
        if plan.pattern == "none":
            return ANONYMOUS
        presented = Presented.read(headers)
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
        if plan.jwt:
            return self._session(plan, presented)
        if presented.bearer:
            # A key-only operation reads any bearer value as an API key, which then fails the format check.
            raise AuthFailure(401, plan.messages["format"], "bearerApiKey")
        raise AuthFailure(401, plan.messages["missing"], None)

    def _api_key(self, plan: AuthPlan, presented: Presented) -> Principal:
        key, scheme = presented.key or "", presented.key_scheme
        if scheme not in plan.key_schemes:
            raise AuthFailure(401, plan.messages["unknown"], scheme)
        if not API_KEY_FORMAT.fullmatch(key):
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
        return Principal(stored.user_id, scheme, stored.scopes, key_id=stored.name or key[:8])

    def _session(self, plan: AuthPlan, presented: Presented) -> Principal:
        token = presented.bearer
        if token is None:
            kind = "missing" if presented.authorization is None or plan.pattern == "A" else "invalid"
            raise AuthFailure(401, plan.messages[kind], None)
        user_id = self.store.accounts.session_user(token)
        if user_id is None:
            raise AuthFailure(401, plan.messages["invalid"], "sessionJwt")
        return Principal(user_id, "sessionJwt")

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
            raise AuthFailure(404, plan.messages["job"], "jobToken")
        if job.get("job_token") != token:
            raise AuthFailure(401, plan.messages["invalid"], "jobToken")
        return Principal(job.get("user_id"), "jobToken", job_id=job_id)

    def job(self, job_id: str) -> Mapping[str, Any] | None:
        """The stored job row (any owner), or None."""
        jobs = getattr(self.store, "jobs", None)
        return jobs.get(job_id) if jobs is not None else None
