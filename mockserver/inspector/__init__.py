"""The inspector page at `/__mock/` (for a browser) and the live feed it reads (`GET /__mock/events`).

`page` holds the static files served from the package; `views` shapes journal entries and streams for the
page; `feed` turns the mock's state into server-sent events while a page watches, and costs nothing otherwise.
"""

from mockserver.inspector.feed import Feed
from mockserver.inspector.page import Asset, Page, wants_html

__all__ = ["Asset", "Feed", "Page", "wants_html"]
