"""The per-API-key rate limit of the platform: fixed windows of N requests per key.

Shared by authentication (which counts) and the admin API (which resets and reports it).
"""

from __future__ import annotations

import time

from mockserver.settings import RateLimit

RATE_LIMIT_PREFIX = 20  # the platform counts per key on its first 20 characters


class RateLimiter:
    """Fixed windows of `requests` per `window_s` per API key; unlimited when `limit` is None."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        self.limit = limit
        self._windows: dict[str, tuple[float, int]] = {}

    def allow(self, key: str) -> bool:
        """Count one request of `key`; False once its window is used up."""
        if self.limit is None:
            return True
        now = time.monotonic()
        bucket = key[:RATE_LIMIT_PREFIX]
        started, count = self._windows.get(bucket, (now, 0))
        if now - started >= self.limit.window_s:
            started, count = now, 0
        self._windows[bucket] = (started, count + 1)
        return count < self.limit.requests

    def reset(self) -> None:
        """Forget every window."""
        self._windows.clear()

    def describe(self) -> str | None:
        """The limit as the flag takes it (`100/60s`), or None when there is none."""
        limit = self.limit
        return f"{limit.requests}/{limit.window_s:g}s" if limit else None
