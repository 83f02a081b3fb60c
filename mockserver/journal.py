"""The request journal: the last N requests the mock served, for `GET /__mock/journal`.

Recording keeps references to the raw request parts; decoding and redaction happen only when read.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from mockserver.wire import iso
from spec import Violation

SECRET_HEADERS = frozenset({b"authorization", b"x-api-key", b"x-workspace-api-key", b"cookie", b"x-service-role-key"})
KEEP = 8
BODY_LIMIT = 8 * 1024


def redact(value: str) -> str:
    """The first 8 characters of a secret (after any `Bearer ` scheme) followed by `…`."""
    scheme, sep, token = value.partition(" ")
    if sep and scheme.lower() == "bearer":
        return f"{scheme} {token[:KEEP]}…"
    return f"{value[:KEEP]}…"


class Entry:
    """One request as received, its matched operation, validation, credential and response status."""

    __slots__ = (
        "body",
        "headers",
        "method",
        "operation_id",
        "path",
        "query",
        "scheme",
        "seq",
        "status",
        "time",
        "violations",
    )

    def __init__(self, seq: int, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self.seq = seq
        self.time = time.time()
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body: bytes | None = None
        self.operation_id: str | None = None
        self.violations: Sequence[Violation] | None = None
        self.scheme: str | None = None
        self.status: int | None = None

    def set_body(self, body: bytes) -> None:
        """Remember the raw body (decoded and truncated only when read)."""
        self.body = body

    def as_json(self) -> dict[str, Any]:
        """The entry as the admin API shows it, secrets redacted."""
        return {
            "seq": self.seq,
            "time": iso(self.time),
            "method": self.method,
            "path": self.path,
            "query": self.query.decode("latin-1"),
            "headers": {
                name.decode("latin-1"): redact(value.decode("latin-1"))
                if name in SECRET_HEADERS
                else value.decode("latin-1")
                for name, value in self.headers
            },
            "body": _body_text(self.body),
            "body_bytes": len(self.body) if self.body is not None else 0,
            "operation_id": self.operation_id,
            "validation": None
            if self.violations is None
            else {"ok": not self.violations, "violations": [str(v) for v in self.violations]},
            "credential": self.scheme,
            "status": self.status,
        }


def _body_text(body: bytes | None) -> str | None:
    if not body:
        return None
    text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
    return text if len(body) <= BODY_LIMIT else f"{text}… ({len(body) - BODY_LIMIT} more bytes)"


class Journal:
    """A bounded, in-order log of requests; the oldest entries fall off past `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=max(size, 0))
        self._seq = 0

    def record(self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Entry:
        """Start an entry for a request; the pipeline fills in the rest as it goes."""
        self._seq += 1
        entry = Entry(self._seq, method, path, query, headers)
        self._entries.append(entry)
        return entry

    @property
    def total(self) -> int:
        """Requests recorded since start or the last clear (including those that fell off)."""
        return self._seq

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def clear(self) -> int:
        """Drop every entry; how many there were."""
        count = len(self._entries)
        self._entries.clear()
        self._seq = 0
        return count
