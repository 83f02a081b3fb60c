"""What a resource handler receives for one validated, authenticated request.

`Context` carries the matched operation, the typed inputs, the caller and the mock's state;
its helpers build responses in the shape the spec declares for the operation.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from spec import Operation

if TYPE_CHECKING:
    from mockserver.state import MockState


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


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file part of a multipart body."""

    filename: str
    content_type: str
    data: bytes


def utc_now() -> str:
    """The current time as the platform writes it: ISO 8601, milliseconds, `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(body: Any) -> bytes:
    """Compact JSON as Next.js sends it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Context:
    """One request, after validation and authentication."""

    op: Operation
    path_params: Mapping[str, str]
    query: Mapping[str, Any]
    headers: Mapping[str, str]
    body: Any
    principal: Principal
    state: MockState
    extras: dict[str, Any] = field(default_factory=dict)

    def json(self, body: Any, status: int | None = None, headers: Mapping[str, str] | None = None) -> Response:
        """A JSON response; the operation's success status unless `status` is given."""
        return Response(
            dumps(body),
            status_code=status or self.op.success_status,
            headers=dict(headers or {}),
            media_type="application/json",
        )

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """An error response in the shape the spec declares for this operation and status."""
        from mockserver.errors import error_response

        return error_response(self.op, status, message, **extra)

    def example(self, status: int | None = None) -> Response:
        """The spec's example for the success (or given) status, served as is."""
        from mockserver.errors import example_response

        return example_response(self.op, status)


Handler = Callable[[Context], Awaitable[Response] | Response]
