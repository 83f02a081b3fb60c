"""The state of one running mock: its settings, contract, store, journal, faults and streams.

Created once per app by `mockserver.app.create_app`; nothing here is module-level.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockserver.auth import RateLimiter
from mockserver.settings import Settings
from mockserver.store import Store
from spec import Contract

if TYPE_CHECKING:
    from mockserver.faults import Faults
    from mockserver.journal import Journal
    from mockserver.sse import StreamHub


@dataclass
class MockState:
    """Everything a request handler may read or change."""

    settings: Settings
    contract: Contract
    store: Store
    journal: Journal
    faults: Faults
    streams: StreamHub
    limiter: RateLimiter = field(default_factory=RateLimiter)
    started_at: float = field(default_factory=time.monotonic)
    extras: dict[str, Any] = field(default_factory=dict)

    def scaled(self, milliseconds: float) -> float:
        """A server-side interval in seconds after `--time-scale`."""
        return milliseconds * self.settings.time_scale / 1000.0
