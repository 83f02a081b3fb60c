"""What one case saw: the client's connection attempts (journal and relay), the events it was given, its output.

The expected events are the relayed bytes of each stream replayed through the gate's WHATWG reader: what a
correct client must hand to its user, in order, nothing lost, duplicated or invented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.client.cases import Case
from contracts.client.exchanges import OPEN, Exchange
from contracts.client.protocol import CLOSED, ERROR, EVENT, IGNORED, ClientLine
from contracts.client.rules import Bounds
from contracts.sse_reader import Frame, SSEReader


@dataclass(frozen=True)
class Expected:
    """One event a WHATWG client dispatches from the bytes it was given."""

    event: str
    data: str
    at: float
    attempt: int

    def shown(self) -> str:
        """`name data` for a report, long data cut."""
        data = self.data if len(self.data) <= 120 else self.data[:120] + "…"
        return f"{self.event} {json.dumps(data, ensure_ascii=False)} (connection {self.attempt + 1})"

    @property
    def value(self) -> Any:
        """The data parsed as JSON; ValueError when it is not JSON."""
        return json.loads(self.data)


@dataclass
class Attempt:
    """One request to the stream: when and with which headers the mock got it, and what it gave the client."""

    index: int
    at: float
    headers: dict[str, str]
    status: int | None
    exchange: Exchange | None
    frames: list[Frame] = field(default_factory=list)
    retry_ms: int | None = None
    last_event_id: str = ""

    @property
    def end(self) -> str:
        """How the response ended (exchanges.COMPLETE, DROPPED, CLIENT_CLOSED) or OPEN."""
        return self.exchange.end if self.exchange is not None else OPEN

    @property
    def ended_at(self) -> float | None:
        """When the response ended, if it did."""
        return self.exchange.ended_at if self.exchange is not None and self.end != OPEN else None

    @property
    def is_stream(self) -> bool:
        """True when the attempt opened an event stream."""
        return self.exchange is not None and self.exchange.is_stream

    def silence_at(self, moment: float) -> float:
        """Seconds without a byte on this stream just before `moment`."""
        exchange = self.exchange
        last = exchange.last_byte_at if exchange is not None else None
        return max(0.0, moment - (last if last is not None else self.at))


@dataclass
class Observation:
    """Everything one case recorded, for the checks."""

    case: Case
    bounds: Bounds
    attempts: list[Attempt]
    lines: list[ClientLine]
    started_at: float
    frozen_at: float
    exit_code: int | None = None
    stderr_tail: str = ""
    expected: list[Expected] = field(default_factory=list)
    unpaired: int = 0

    @property
    def events(self) -> list[ClientLine]:
        """The events the client handed to its user, in order."""
        return [line for line in self.lines if line.kind == EVENT]

    @property
    def errors(self) -> list[ClientLine]:
        """The errors the client reported to its user."""
        return [line for line in self.lines if line.kind == ERROR]

    @property
    def closed(self) -> ClientLine | None:
        """The line where the client said it gave up for good, if it did."""
        return next((line for line in self.lines if line.kind == CLOSED), None)

    @property
    def ignored(self) -> list[ClientLine]:
        """Output lines the protocol does not define."""
        return [line for line in self.lines if line.kind == IGNORED]

    @property
    def parsed_events(self) -> bool:
        """True when the client hands its user parsed JSON (`"json"`) rather than the data text."""
        events = self.events
        return bool(events) and all(line.parsed for line in events)


def journal_time(text: str) -> float:
    """Epoch seconds of a journal entry's `time` (`2026-11-25T02:58:23.706Z`)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def attempts(entries: list[dict[str, Any]], exchanges: list[Exchange]) -> tuple[list[Attempt], int]:
    """The journal's stream requests paired in order with the relayed ones; (attempts, how many stayed unpaired)."""
    ordered = sorted(exchanges, key=lambda e: e.requested_at)
    found = []
    last_id, retry = "", None
    for index, entry in enumerate(entries):
        exchange = ordered[index] if index < len(ordered) else None
        attempt = Attempt(
            index,
            journal_time(str(entry["time"])),
            {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()},
            entry.get("status"),
            exchange,
        )
        # What a WHATWG client knows before this attempt: the last event id and reconnection time so far.
        attempt.last_event_id, attempt.retry_ms = last_id, retry
        if exchange is not None and exchange.is_stream:
            reader = SSEReader()
            for at, chunk in exchange.body:
                attempt.frames += reader.feed(chunk, at)
            for frame in attempt.frames:
                if frame.id is not None:
                    last_id = frame.id
                if frame.retry is not None:
                    retry = frame.retry
        found.append(attempt)
    return found, abs(len(entries) - len(ordered))


def expected_events(attempts: list[Attempt]) -> list[Expected]:
    """Every event a WHATWG client dispatches from what it was given, in the order it was given."""
    events = [
        Expected(frame.event, frame.data, frame.received_at, attempt.index)
        for attempt in attempts
        for frame in attempt.frames
        if frame.dispatched
    ]
    return sorted(events, key=lambda e: e.at)


def known_before(attempts: list[Attempt], index: int) -> tuple[str, int | None]:
    """The last event id and the server's reconnection time a client knows when it makes attempt `index`."""
    if index < len(attempts):
        return attempts[index].last_event_id, attempts[index].retry_ms
    last_id, retry = "", None
    for attempt in attempts:
        for frame in attempt.frames:
            last_id = frame.id if frame.id is not None else last_id
            retry = frame.retry if frame.retry is not None else retry
    return last_id, retry
