"""The inspector's live feed (`GET /__mock/events`): server-sent events of what changed in the mock.

Each watching page has its own loop that compares the mock's state with what it last sent, every `tick_s`:
new journal entries (newest first), open streams with their tails, faults, scenario bindings, jobs and the
metrics panel. Nothing on the request path knows about it, so a mock nobody watches pays nothing for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Iterator
from typing import Any

from mockserver.inspector.views import entry_view, stream_view
from mockserver.journal import Entry
from mockserver.metrics import MockMetrics
from mockserver.state import MockState
from mockserver.wire import dumps

TICK_S = 0.5
KEEPALIVE_S = 15.0
MAX_WATCHERS = 32  # pages watching at once; each costs a loop every tick
FIRST_ENTRIES = 200  # journal entries a page gets when it connects
PER_TICK = 200  # new entries sent per tick at most (the rest are counted as skipped)
PENDING_S = 5.0  # how long an entry without a status yet (in flight) is held back before it is sent anyway
MAX_PENDING = 500
MAX_STREAMS = 100  # newest open streams shown
MAX_JOBS = 200  # newest jobs offered to the page's insert form


class FeedBusy(Exception):
    """Too many pages watch this mock already."""


def frame(name: str, data: bytes) -> bytes:
    """One server-sent event with JSON data (compact JSON has no line breaks)."""
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


class View:
    """What one page has been sent: the newest journal entry, entries held back, the last value of each panel."""

    def __init__(self, state: MockState, metrics: MockMetrics) -> None:
        self.state = state
        self.metrics = metrics
        self.cursor = 0
        self.pending: dict[int, Entry] = {}
        self.last: dict[str, bytes] = {}

    def hello(self) -> dict[str, Any]:
        """What the page needs once: the operations (for its filter), the journal's size, the time scale."""
        state = self.state
        return {
            "operations": sorted(state.contract.operations),
            "journal_size": state.journal.size,
            "time_scale": state.settings.time_scale,
            "locked": state.settings.admin_token is not None,
        }

    def changes(self, first: bool = False) -> Iterator[tuple[str, bytes]]:
        """The events to send now: new journal entries, then each panel whose value changed."""
        journal = self.state.journal
        if journal.total < self.cursor:
            self.cursor = 0
            self.pending.clear()
            yield "journal-cleared", b"{}"
        entries, skipped = self._entries(FIRST_ENTRIES if first else PER_TICK)
        if entries or skipped:
            yield "journal", dumps({"entries": entries, "skipped": skipped})
        for name, value in self._panels():
            encoded = dumps(value)
            if self.last.get(name) != encoded:
                self.last[name] = encoded
                yield name, encoded

    def _entries(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        fresh: list[Entry] = []
        for entry in reversed(list(self.state.journal)):
            if entry.seq <= self.cursor:
                break
            fresh.append(entry)
        if fresh:
            self.cursor = fresh[0].seq
        skipped = max(0, len(fresh) - limit)
        now = time.time()
        waiting = sorted([*fresh[:limit], *self.pending.values()], key=lambda e: e.seq, reverse=True)
        self.pending = {}
        ready = []
        for entry in waiting:
            # An entry still in flight has no status yet; it is sent once it has one (or has waited long enough).
            if entry.status is None and now - entry.time < PENDING_S and len(self.pending) < MAX_PENDING:
                self.pending[entry.seq] = entry
            else:
                ready.append(entry_view(entry, self.state.journal.secrets))
        return ready, skipped

    def _panels(self) -> Iterator[tuple[str, Any]]:
        state = self.state
        hub = state.streams
        scenarios = state.scenarios
        yield "streams", {"open": hub.open_streams, "shown": [stream_view(s) for s in hub.streams()[-MAX_STREAMS:]]}
        yield "faults", state.faults.as_json()
        yield (
            "bindings",
            {
                "default": scenarios.default,
                "bindings": {job: s.summary() for job, s in scenarios.bindings.items()},
                "scenarios": scenarios.library.names(),
            },
        )
        yield "jobs", list(state.store.jobs.rows)[-MAX_JOBS:]
        yield "metrics", self.metrics.summary()


class Feed:
    """The live updates of one mock's inspector, one loop per watching page, ending when the mock stops."""

    def __init__(self, state: MockState, metrics: MockMetrics, tick_s: float = TICK_S) -> None:
        self.state = state
        self.metrics = metrics
        self.tick_s = tick_s
        self.watchers = 0

    def open(self) -> AsyncGenerator[bytes, None]:
        """A new page's stream of events; FeedBusy when `MAX_WATCHERS` pages watch already."""
        if self.watchers >= MAX_WATCHERS:
            raise FeedBusy(f"{MAX_WATCHERS} pages watch this mock already; close one")
        return self._events(View(self.state, self.metrics))

    async def _events(self, view: View) -> AsyncGenerator[bytes, None]:
        self.watchers += 1
        try:
            yield frame("hello", dumps(view.hello()))
            for name, data in view.changes(first=True):
                yield frame(name, data)
            quiet = 0.0
            while not self.state.streams.stopping:
                await asyncio.sleep(self.tick_s)
                sent = False
                for name, data in view.changes():
                    sent = True
                    yield frame(name, data)
                quiet = 0.0 if sent else quiet + self.tick_s
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield b": keep-alive\n\n"
        finally:
            self.watchers -= 1
