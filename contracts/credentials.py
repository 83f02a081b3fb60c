"""The credentials the gate sends, and which one each operation gets according to its security in the spec.

Flags fill `Credentials`; `headers_for` walks the operation's security requirements in spec order and
returns the wire headers of the first one the gate can satisfy. Job tokens are per job: tokens issued
during the run are learned from responses so later requests for that job carry the right one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import GateError
from spec import Contract, Operation

# Which credential satisfies which security scheme of the spec: the binding between the gate's flags
# and the scheme names, checked against the spec when the gate starts.
SCHEME_CREDENTIAL: Mapping[str, str] = {
    "apiKey": "api_key",
    "workspaceApiKey": "api_key",
    "bearerApiKey": "api_key",
    "sessionJwt": "bearer",
    "jobToken": "job_token",
}
# A response that issues a job token names the job and the token with these fields (`create_job`).
ISSUED_JOB_FIELD, ISSUED_TOKEN_FIELD = "job_id", "job_token"


@dataclass(frozen=True)
class Credentials:
    """What the gate authenticates with; any of them may be missing."""

    api_key: str | None = None
    bearer: str | None = None
    job_token: str | None = None
    other_api_key: str | None = None
    job_tokens: Mapping[str, str] = field(default_factory=dict)
    # A second user's session token: with `other_api_key`, what the ownership checks act with.
    other_bearer: str | None = None

    def kinds(self) -> list[str]:
        """The credential kinds that were given."""
        return [kind for kind in ("api_key", "bearer", "job_token") if getattr(self, kind)]

    def other(self) -> Credentials:
        """The second user's credentials, as that user's own."""
        return Credentials(api_key=self.other_api_key, bearer=self.other_bearer)


class TokenBook:
    """Job tokens by job id: the ones given up front and those issued during the run."""

    def __init__(self, tokens: Mapping[str, str] | None = None) -> None:
        self._tokens = dict(tokens or {})
        self._lock = threading.Lock()

    def learn(self, body: Any) -> None:
        """Remember the token a response body issues for a job, if it issues one."""
        if not isinstance(body, dict):
            return
        job, token = body.get(ISSUED_JOB_FIELD), body.get(ISSUED_TOKEN_FIELD)
        if isinstance(job, str) and isinstance(token, str) and token:
            with self._lock:
                self._tokens[job] = token

    def token_for(self, candidates: Iterable[Any]) -> str | None:
        """The token of the first candidate value that names a known job."""
        with self._lock:
            for value in candidates:
                if isinstance(value, str) and value in self._tokens:
                    return self._tokens[value]
        return None


class Authenticator:
    """Builds the auth headers of a request from the operation's security and the gate's credentials."""

    def __init__(self, contract: Contract, credentials: Credentials) -> None:
        missing = sorted(set(contract.security_schemes) - set(SCHEME_CREDENTIAL))
        if missing:
            raise GateError(f"the spec's security scheme {missing[0]!r} has no matching gate credential")
        self.schemes = contract.security_schemes
        self.credentials = credentials
        self.tokens = TokenBook(credentials.job_tokens)

    @property
    def secret_headers(self) -> frozenset[str]:
        """Names of the headers that carry credentials (to filter them out of reports)."""
        names = {"authorization"}
        for definition in self.schemes.values():
            if definition.get("type") == "apiKey" and definition.get("in") == "header":
                names.add(str(definition["name"]).lower())
        return frozenset(names)

    def headers_for(
        self, operation: Operation, *, job_values: Iterable[Any] = (), api_key: str | None = None
    ) -> dict[str, str] | None:
        """Headers satisfying the first requirement the gate can meet, or None when it can meet none."""
        values = list(job_values)
        for requirement in operation.security:
            headers: dict[str, str] = {}
            for scheme in requirement.schemes:
                secret = self._secret(scheme, values, api_key)
                if secret is None:
                    break
                headers.update(self._wire(scheme, secret))
            else:
                if headers:
                    return headers
        return None

    def _secret(self, scheme: str, job_values: list[Any], api_key: str | None) -> str | None:
        kind = SCHEME_CREDENTIAL[scheme]
        if kind == "api_key":
            return api_key or self.credentials.api_key
        if kind == "job_token":
            return self.tokens.token_for(job_values) or self.credentials.job_token
        return self.credentials.bearer

    def _wire(self, scheme: str, secret: str) -> dict[str, str]:
        definition = self.schemes[scheme]
        if definition.get("type") == "apiKey" and definition.get("in") == "header":
            return {str(definition["name"]): secret}
        if definition.get("type") == "http" and str(definition.get("scheme", "")).lower() == "bearer":
            return {"Authorization": f"Bearer {secret}"}
        raise GateError(f"security scheme {scheme!r} is neither a header API key nor HTTP bearer")
