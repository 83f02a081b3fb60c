"""Who may talk to the mock: the `Host` a request names, and the admin API's token, media type and origin.

A web page the developer visits must not reach the mock on their machine, neither through DNS rebinding
(a `Host` the mock does not answer to) nor with an admin write a browser sends without a CORS preflight.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Sequence

from mockserver.admin_routes import TOKEN_HEADER as ADMIN_TOKEN_HEADER

WILDCARDS = frozenset({"0.0.0.0", "::", ""})
JSON = "application/json"
_SEEN_LIMIT = 256  # allowed Host values remembered (ports vary; the cache must not grow without bound)


def host_name(value: str) -> str:
    """The host of a `Host` header or address, without port or brackets, lower case (`[::1]:80` is `::1`)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def is_loopback(name: str) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1)."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostCheck:
    """The `Host` values the mock answers to: loopback, its bound address, and the names `--allowed-hosts` adds.

    Bound to a wildcard address (`0.0.0.0`, `::`) it also answers to any IP literal: DNS rebinding needs a
    name, and a phone or container reaching the mock by address has no other.
    """

    def __init__(self, bound: str, allowed: Iterable[str] = ()) -> None:
        allowed = [host_name(name) for name in allowed]
        bound_name = host_name(bound)
        self.any = "*" in allowed
        self.wildcard = bound_name in WILDCARDS
        self.names = frozenset({"localhost", *([] if self.wildcard else [bound_name]), *allowed} - {"*"})
        self._seen: set[bytes] = set()

    def rejected(self, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
        """The request's `Host` when the mock does not answer to it, else None (a request without one passes)."""
        for name, value in headers:
            if name == b"host":
                if value in self._seen:
                    return None
                text = value.decode("latin-1")
                if not self.allows(text):
                    return text
                if len(self._seen) < _SEEN_LIMIT:
                    self._seen.add(value)
                return None
        return None

    def allows(self, host: str) -> bool:
        """True when a `Host` header value names this mock."""
        name = host_name(host)
        if self.any or name in self.names:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or self.wildcard

    def describe(self) -> str:
        """The accepted hosts, for an error message."""
        kinds = sorted(self.names) + ["loopback addresses"] + (["any IP address"] if self.wildcard else [])
        return ", ".join(kinds)


class AdminGuard:
    """The admin API's own rules: the token when one is set, JSON writes, and writes from the mock's origin only."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode("utf-8") if token else None

    @property
    def locked(self) -> bool:
        """True when every admin request needs the token."""
        return self._token is not None

    def unauthorized(self, sent: str | None) -> str | None:
        """Why the sent token (the header's value) does not open the admin API, or None when it does."""
        if self._token is None:
            return None
        if sent is None:
            return f"{ADMIN_TOKEN_HEADER}: required (this mock was started with --admin-token)"
        if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), self._token):
            return f"{ADMIN_TOKEN_HEADER}: does not match the mock's --admin-token"
        return None

    @staticmethod
    def unsupported_media(method: str, content_type: str | None) -> str | None:
        """Why a POST or PUT is refused for its media type (a browser sends a JSON write only after a preflight)."""
        if method not in ("POST", "PUT", "PATCH"):
            return None
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media == JSON:
            return None
        got = f"got {content_type!r}" if content_type else "none sent"
        return f"Content-Type: admin writes must be {JSON} ({got}), even with an empty body"

    @staticmethod
    def foreign_origin(origin: str | None, scheme: str, host: str | None) -> str | None:
        """Why a write's `Origin` is refused (another site's page), or None for the mock's own origin or none."""
        if origin is None:
            return None
        own = f"{scheme}://{host}" if host else None
        if own is not None and origin.lower() == own.lower():
            return None
        shown = own or "unknown without a Host header"
        return f"Origin: {origin!r} is not this mock's origin ({shown}); the admin API is same-origin only"
