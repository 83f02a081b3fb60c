"""Signed download URLs: an HMAC over a stored file's path and the URL's expiry, with a secret per process.

The platform hands out Supabase signed URLs valid for a while; the mock's equivalents cannot be forged,
edited to live longer, or reused after they expire, and die with the process that signed them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


class UrlSigner:
    """Signs `(resource, expires)` pairs and checks signatures; the secret never leaves the object."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._key = secret if secret is not None else secrets.token_bytes(32)

    def sign(self, resource: str, expires: int) -> str:
        """The token for `resource` until the epoch second `expires` (URL-safe base64, no padding)."""
        digest = hmac.new(self._key, f"{resource}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def problem(self, resource: str, token: str, expires: str, now: float) -> str | None:
        """Why `token` does not open `resource` with this `expires` at time `now`, or None when it does."""
        if not expires.isdigit():
            return "expires: must be the epoch second the URL was signed to expire at"
        expected = self.sign(resource, int(expires)).encode("ascii")
        if not hmac.compare_digest(expected, token.encode("utf-8", "surrogateescape")):
            return "token: does not sign this file and expiry"
        if now >= int(expires):
            return f"token: expired {int(now - int(expires))} s ago (at epoch second {expires})"
        return None
