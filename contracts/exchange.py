"""One request the gate sent and the answer it got, as plain data every part of the gate can judge.

Known divergences match violations by what was sent (path, query, headers, body) and what came back
(status, body text); Schemathesis interactions and httpx exchanges both become an `Exchange`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Characters of a response body kept for matching and reports.
BODY_KEPT = 4096


@dataclass(frozen=True)
class Exchange:
    """A request as it went on the wire and the response (status 0 when none came)."""

    method: str
    path: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    status: int = 0
    content_type: str = ""
    text: str = ""

    def request_document(self) -> dict[str, Any]:
        """The request as the JSON document divergence conditions are written against."""
        return {
            "path": dict(self.path_params),
            "query": dict(self.query),
            "headers": dict(self.headers),
            "body": self.body,
        }

    @property
    def media_type(self) -> str:
        """The response's media type without parameters, lower case."""
        return self.content_type.split(";")[0].strip().lower()

    def json(self) -> Any:
        """The response body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def query_of(url: str) -> dict[str, Any]:
    """The query of a URL as sent: one string per name, or a list of strings when repeated."""
    found: dict[str, Any] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if name in found:
            previous = found[name]
            found[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            found[name] = value
    return found


def body_of(raw: bytes | str | None, content_type: str) -> Any:
    """A request body as the server would read it: parsed JSON when it is JSON, else its text."""
    if raw is None or raw == b"" or raw == "":
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if "json" in content_type.lower() or not content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def build(
    *,
    method: str,
    url: str,
    path_params: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    body: bytes | str | None,
    status: int,
    response_headers: Mapping[str, str],
    content: bytes | None,
) -> Exchange:
    """An Exchange from the raw parts of a request and its response."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    answer_type = next((str(v) for k, v in response_headers.items() if str(k).lower() == "content-type"), "")
    return Exchange(
        method=method.upper(),
        path=urlsplit(url).path,
        path_params={str(k): str(v) for k, v in (path_params or {}).items()},
        query=query_of(url),
        headers=lowered,
        body=body_of(body, lowered.get("content-type", "")),
        status=status,
        content_type=answer_type,
        text=(content or b"")[:BODY_KEPT].decode("utf-8", errors="replace"),
    )
