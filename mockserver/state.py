"""The state of one running mock: its settings, contract, store, journal, faults, streams and scenarios.

Created once per app by `mockserver.app.create_state`; nothing here is module-level.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mockserver.counters import RequestCounters
from mockserver.faults import Faults
from mockserver.journal import Journal
from mockserver.ratelimit import RateLimiter
from mockserver.scenarios import Scenarios
from mockserver.settings import Settings
from mockserver.signing import UrlSigner
from mockserver.sse import StreamHub
from mockserver.store import Store
from spec import Contract


@dataclass
class MockState:
    """Everything a request handler may read or change."""

    settings: Settings
    contract: Contract
    store: Store
    journal: Journal
    faults: Faults
    streams: StreamHub
    scenarios: Scenarios
    limiter: RateLimiter = field(default_factory=RateLimiter)
    signer: UrlSigner = field(default_factory=UrlSigner)
    started_at: float = field(default_factory=time.monotonic)
    requests: RequestCounters = field(default_factory=RequestCounters)

    def scaled(self, milliseconds: float) -> float:
        """A server-side interval in seconds after `--time-scale`."""
        return milliseconds * self.settings.time_scale / 1000.0

    def reset(self) -> None:
        """Back to the seed data, without faults, rate-limit history or scenario bindings (the journal is kept)."""
        self.store.reset()
        self.faults.clear()
        self.limiter.reset()
        self.scenarios.reset()
