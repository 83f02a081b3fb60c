"""What a resource handler receives for one validated, authenticated request.

`Context` carries the matched operation, the typed inputs, the caller and the mock's state;
its helpers build responses in the shape the spec declares for the operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from mockserver.auth import Principal
from mockserver.errors import error_response, example_response
from mockserver.state import MockState
from mockserver.wire import JSON, dumps
from spec import Operation


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
    server: tuple[str, int] | None = None

    @property
    def origin(self) -> str:
        """The mock's own origin as this request reached it (the listening address, never the `Host` header)."""
        host, port = self.server or ("127.0.0.1", self.state.settings.port)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def json(self, body: Any, status: int | None = None, headers: Mapping[str, str] | None = None) -> Response:
        """A JSON response; the operation's success status unless `status` is given."""
        return Response(
            dumps(body),
            status_code=status or self.op.success_status,
            headers=dict(headers or {}),
            media_type=JSON,
        )

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """An error response in the shape the spec declares for this operation and status."""
        return error_response(self.op, status, message, **extra)

    def example(self, status: int | None = None) -> Response:
        """The spec's example for the success (or given) status, served as is."""
        return example_response(self.op, status)


Handler = Callable[[Context], Awaitable[Response] | Response]
