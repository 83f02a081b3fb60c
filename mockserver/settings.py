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
        """Parse `N/60s` (or `N/60`); ValueError with a readable message otherwise."""
        try:
            count, _, window = text.partition("/")
            requests = int(count)
            seconds = float(window.rstrip("s") or 60)
        except ValueError:
            raise ValueError(f"rate limit must look like 100/60s, got {text!r}") from None
        if requests < 1 or seconds <= 0:
            raise ValueError(f"rate limit must be positive, got {text!r}")
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
    journal_bytes: int = 32 * 1024 * 1024
    admin_body_limit: int = 32 * 1024 * 1024
    header_limit: int = 64 * 1024
    read_timeout: float = 30.0
    admin_token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
