"""Settings of one mock server instance.

Every field has a default, a CLI flag and an `FTL_MOCK_*` environment variable of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_DATA = Path(__file__).with_name("data") / "demo.yaml"


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` per `window_s` seconds per API key."""

    requests: int
    window_s: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse `N/60s` (or `N/60`); ValueError worded like every flag value's otherwise."""
        count, _, window = text.strip().partition("/")
        try:
            requests = int(count)
            seconds = float(window.rstrip("s") or 60)
        except ValueError:
            requests, seconds = 0, 0.0
        if requests < 1 or not 0 < seconds < float("inf"):
            raise ValueError(f"must be a rate such as 100/60s (requests/seconds, both > 0), got {text!r}")
        return cls(requests, seconds)


@dataclass(frozen=True)
class Settings:
    """Configuration of a mock server; the defaults serve the bundled spec and demo data."""

    host: str = "127.0.0.1"
    port: int = 8765
    spec: Path | None = None
    data: Path = DEMO_DATA
    time_scale: float = 1.0
    log_level: str = "warning"
    rate_limit: RateLimit | None = None
    body_limit: int = 10 * 1024 * 1024
    journal_size: int = 10_000
    scenario: str | None = None
    stream_queue: int = 1_000
    cors: bool = True
    journal_bytes: int = 32 * 1024 * 1024
    admin_body_limit: int = 32 * 1024 * 1024
    header_limit: int = 64 * 1024
    read_timeout: float = 30.0
    admin_token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    # A design from spec/designs/ (or an overlay file) served instead of the base contract.
    design: str | None = None
