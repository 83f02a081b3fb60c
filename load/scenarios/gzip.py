"""The chart of design sse-gzip: today's tab (a refetch on every event) over a gzip-coded stream."""

from __future__ import annotations

from load.scenarios.sse import RefetchOnEvent


class GzipRefetch(RefetchOnEvent):
    """As the SSE tab; the server codes the stream with gzip (the page accepts it, as every browser does)."""

    name = "sse-gzip"
    title = "SSE gzip"
    line = "SSE gzip: coded stream + refetch per event"
    color = "#8c564b"
    design = "sse-gzip"
