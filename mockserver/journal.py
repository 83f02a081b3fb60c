"""The request journal: the last N requests the mock served, for `GET /__mock/journal`.

Bounded in bytes as well as in entries: each entry keeps at most `KEEP` bytes of its body and of its
headers (the rest is counted, not kept), and the oldest entries go once the total passes the budget.
Recording keeps references to the raw request parts; decoding and redaction happen only when read.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mockserver.wire import iso
from spec import Redaction, SecuritySchemes, Violation

# Secret headers no security scheme of the contract names: a browser's cookies, the platform's service key.
OTHER_SECRET_HEADERS = frozenset({b"cookie", b"x-service-role-key"})
BODY_LIMIT = 8 * 1024  # bytes of a body an entry keeps (and of all its headers together)
VALUE_LIMIT = 1024  # bytes of one header value kept when an entry's headers pass BODY_LIMIT
ENTRY_OVERHEAD = 1024  # what an entry costs beyond the bytes it keeps (objects, list slots), for the budget


@dataclass(frozen=True, slots=True)
class Secrets:
    """The headers whose values an entry shows shortened (every scheme's header and a few more), and how."""

    headers: frozenset[bytes]
    redaction: Redaction

    @classmethod
    def of(cls, schemes: SecuritySchemes) -> Secrets:
        """The contract's credential headers and redaction rule (`x-redaction`)."""
        return cls(
            frozenset(name.encode("latin-1") for name in schemes.headers) | OTHER_SECRET_HEADERS, schemes.redaction
        )

    def shown(self, name: bytes, value: bytes) -> str:
        """A header's value as an entry shows it."""
        text = value.decode("latin-1")
        return self.redaction.apply(text) if name in self.headers else text


class Entry:
    """One request as received, its matched operation, validation, credential and response status."""

    __slots__ = (
        "_journal",
        "body",
        "body_bytes",
        "cost",
        "headers",
        "headers_bytes",
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

    def __init__(
        self,
        seq: int,
        method: str,
        path: str,
        query: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        journal: Journal | None = None,
    ) -> None:
        self.seq = seq
        self.time = time.time()
        self.method = method
        self.path = path
        self.query = query[:BODY_LIMIT]
        size = sum(len(name) + len(value) for name, value in headers)
        self.headers = headers if size <= BODY_LIMIT else _cut(headers)
        self.headers_bytes = size
        self.body: bytes | None = None
        self.body_bytes = 0
        self.operation_id: str | None = None
        self.violations: Sequence[Violation] | None = None
        self.scheme: str | None = None
        self.status: int | None = None
        self.cost = ENTRY_OVERHEAD + len(path) + len(self.query) + min(size, BODY_LIMIT)
        self._journal = journal

    def set_body(self, body: bytes) -> None:
        """Remember the first `BODY_LIMIT` bytes of the raw body and its full size (decoded only when read)."""
        self.body = body[:BODY_LIMIT]
        self.body_bytes = len(body)
        if self._journal is not None:
            self._journal.grew(self, len(self.body))

    def as_json(self, secrets: Secrets) -> dict[str, Any]:
        """The entry as the admin API shows it, secrets redacted."""
        return {
            "seq": self.seq,
            "time": iso(self.time),
            "method": self.method,
            "path": self.path,
            "query": self.query.decode("latin-1"),
            "headers": {name.decode("latin-1"): secrets.shown(name, value) for name, value in self.headers},
            "headers_bytes": self.headers_bytes,
            "body": _body_text(self.body, self.body_bytes),
            "body_bytes": self.body_bytes,
            "operation_id": self.operation_id,
            "validation": None
            if self.violations is None
            else {"ok": not self.violations, "violations": [str(v) for v in self.violations]},
            "credential": self.scheme,
            "status": self.status,
        }


def _cut(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers kept within `BODY_LIMIT` bytes: long values shortened, the headers past the limit dropped."""
    kept: list[tuple[bytes, bytes]] = []
    room = BODY_LIMIT
    for name, value in headers:
        if len(value) > VALUE_LIMIT:
            value = value[:VALUE_LIMIT] + f"… ({len(value) - VALUE_LIMIT} more bytes)".encode()
        room -= len(name) + len(value)
        if room < 0:
            break
        kept.append((name, value))
    return kept


def _body_text(body: bytes | None, size: int) -> str | None:
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    return text if size <= len(body) else f"{text}… ({size - len(body)} more bytes)"


class Journal:
    """A bounded, in-order log of requests: the oldest entries fall off past `size` entries or `budget` bytes."""

    def __init__(self, size: int, budget: int, secrets: Secrets) -> None:
        self.size = size
        self.budget = budget
        self.secrets = secrets
        self._entries: deque[Entry] = deque()
        self._seq = 0
        self._bytes = 0

    def record(self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Entry:
        """Start an entry for a request; the pipeline fills in the rest as it goes."""
        self._seq += 1
        if self.size <= 0:
            return Entry(self._seq, method, path, query, headers)
        entry = Entry(self._seq, method, path, query, headers, self)
        self._entries.append(entry)
        self._bytes += entry.cost
        if len(self._entries) > self.size or self._bytes > self.budget:
            self._trim()
        return entry

    def grew(self, entry: Entry, size: int) -> None:
        """An entry kept `size` more bytes (its body); the oldest entries go if the budget is passed."""
        entry.cost += size
        self._bytes += size
        if self._bytes > self.budget:
            self._trim()

    def _trim(self) -> None:
        entries = self._entries
        while entries and (len(entries) > self.size or self._bytes > self.budget):
            gone = entries.popleft()
            gone._journal = None
            self._bytes -= gone.cost

    @property
    def bytes(self) -> int:
        """What the kept entries cost, in bytes (kept request parts plus a fixed overhead per entry)."""
        return self._bytes

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
        for entry in self._entries:
            entry._journal = None
        self._entries.clear()
        self._seq = 0
        self._bytes = 0
        return count
