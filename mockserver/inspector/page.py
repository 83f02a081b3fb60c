"""The inspector's static files: one HTML page, its style sheet and its script, read once from the package.

No build step and nothing from a CDN: the page works offline. The HTML and the files carry no data (every
figure comes through the guarded admin API), so a browser may load them without the admin token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).with_name("static")
PAGE = "index.html"
# The page runs only its own script, talks only to its own origin and may not be framed by another site.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes and media type."""

    body: bytes
    media_type: str


def wants_html(accept: str | None) -> bool:
    """True when a request's `Accept` names HTML (a browser navigating), not for `*/*` (curl, httpx, SDKs)."""
    return accept is not None and "text/html" in accept.lower()


class Page:
    """The inspector's files by name, loaded once."""

    def __init__(self, folder: Path = STATIC) -> None:
        self.assets = {
            path.name: Asset(path.read_bytes(), MEDIA_TYPES[path.suffix])
            for path in sorted(folder.iterdir())
            if path.suffix in MEDIA_TYPES
        }
        if PAGE not in self.assets:
            raise FileNotFoundError(f"the inspector page {folder / PAGE} is missing from the package")

    @property
    def html(self) -> Asset:
        """The page itself."""
        return self.assets[PAGE]

    def asset(self, name: str) -> Asset | None:
        """A script or style sheet the page loads, or None for any other name."""
        return self.assets.get(name) if name != PAGE else None
