"""The reference httpx-sse client with one planted defect, named on the command line, for `ftl-gate client`.

`python tests/defective_stream_client.py tight-loop` reconnects without waiting, and so on: each defect breaks
one rule of the client checks, so a test can see that check catch it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import httpx
from httpx_sse import EventSource

from contracts.client.adapters import httpx_sse_client as adapter
from contracts.client.adapters.httpx_sse_client import Client, DataMessages, _Filtered


class Defective(Client):
    """The reference client, wrong in one way."""

    def __init__(self, defect: str) -> None:
        super().__init__(plain=False)
        self.defect = defect
        self.shared = DataMessages()
        if defect == "no-key":
            self.key = "wak_" + "0" * 32

    def delay(self) -> float:
        if self.defect == "tight-loop":
            return 0.0
        if self.defect == "constant-retry" and self.failures:
            return self.floor_s
        return super().delay()

    def connect(self, http: httpx.Client) -> str | None:
        if self.defect == "no-last-event-id":
            self.last_id = ""
        why = super().connect(http)
        if self.defect == "no-reconnect" and why is not None:
            return None
        return why

    def refused(self, status: int, response: httpx.Response) -> str | None:
        if self.defect == "gives-up-on-503" and status in self.retry_statuses:
            response.read()
            adapter.emit("error", message=f"HTTP {status}")
            return None
        if self.defect == "retries-401" and status in self.give_up:
            response.read()
            self.failures += 1
            return f"HTTP {status}"
        return super().refused(status, response)

    def read(self, source: EventSource) -> None:
        # The reference client's read, with a parser that may outlive the connection and events that may repeat.
        messages = self.shared if self.defect == "keeps-parser-state" else DataMessages(self.last_id, self.retry_ms)
        try:
            for sse in EventSource(_Filtered(source.response, messages)).iter_sse():  # type: ignore[arg-type]
                adapter.emit("event", event=sse.event, data=sse.data)
                if self.defect == "duplicates":
                    adapter.emit("event", event=sse.event, data=sse.data)
                if self.defect == "closes-early" or (self.defect == "closes-on-error-event" and sse.event == "error"):
                    return
        finally:
            self.last_id, self.retry_ms = messages.last_id, messages.retry_ms


@contextlib.contextmanager
def _any_media(http: httpx.Client, method: str, url: str, **kwargs: Any) -> Iterator[EventSource]:
    with http.stream(method, url, headers={**kwargs.pop("headers", {}), "Accept": "*/*"}, **kwargs) as response:
        yield EventSource(response)


def main() -> None:
    defect = sys.argv[1]
    if defect == "no-accept":
        adapter.connect_sse = _any_media  # type: ignore[assignment]
    if defect == "silent-give-up":
        speak = adapter.emit
        adapter.emit = lambda kind, **fields: None if kind in ("error", "closed") else speak(kind, **fields)  # type: ignore[assignment]
    Defective(defect).run()


if __name__ == "__main__":
    main()
