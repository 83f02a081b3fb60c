"""The gate sends, per operation, the credential the spec's security asks for, and each job's own token."""

from __future__ import annotations

import spec
from contracts.credentials import Authenticator, Credentials

CONTRACT = spec.load()
CREDS = Credentials(api_key="wak_key", bearer="jwt", job_token="default-token")


def headers(operation: str, creds: Credentials = CREDS, **kwargs: object) -> dict[str, str] | None:
    return Authenticator(CONTRACT, creds).headers_for(CONTRACT.operation(operation), **kwargs)  # type: ignore[arg-type]


def test_first_satisfiable_requirement_in_spec_order_is_used() -> None:
    assert headers("list_jobs") == {"X-API-Key": "wak_key"}
    assert headers("list_jobs", Credentials(bearer="jwt")) == {"Authorization": "Bearer jwt"}


def test_jwt_only_operation_gets_the_session() -> None:
    assert headers("get_config") == {"Authorization": "Bearer jwt"}
    assert headers("get_config", Credentials(api_key="wak_key")) is None


def test_public_operation_needs_nothing() -> None:
    assert headers("get_public_config") is None


def test_job_token_operations_use_the_token_issued_for_that_job() -> None:
    auth = Authenticator(CONTRACT, CREDS)
    auth.tokens.learn({"job_id": "job_new", "job_token": "issued"})
    operation = CONTRACT.operation("create_predictions")
    assert auth.headers_for(operation, job_values=["job_new"]) == {"Authorization": "Bearer issued"}
    assert auth.headers_for(operation, job_values=["job_unknown"]) == {"Authorization": "Bearer default-token"}


def test_learning_ignores_bodies_without_a_token() -> None:
    auth = Authenticator(CONTRACT, Credentials())
    auth.tokens.learn({"job_id": "job_new"})
    auth.tokens.learn(["not", "a", "dict"])
    assert auth.headers_for(CONTRACT.operation("create_predictions"), job_values=["job_new"]) is None


def test_secret_headers_cover_every_credential_header() -> None:
    assert Authenticator(CONTRACT, CREDS).secret_headers == {"authorization", "x-api-key", "x-workspace-api-key"}
