"""The HTTP exchanges inside a relayed connection: each request and what its response gave the client.

The relay records raw bytes; h11 reads them back as requests and responses (keep-alive, chunked bodies,
a body cut off by a dropped connection), each body chunk with the time it was passed on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import h11

from contracts.client.tap import Connection

COMPLETE, DROPPED, CLIENT_CLOSED, OPEN = "complete", "dropped", "closed by the client", "open"


@dataclass
class Exchange:
    """One request the client sent and the response it got, as far as the relay passed it on."""

    connection: int
    method: str
    target: str
    headers: dict[str, str]
    requested_at: float
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    responded_at: float | None = None
    body: list[tuple[float, bytes]] = field(default_factory=list)
    ended_at: float | None = None
    end: str = OPEN

    @property
    def path(self) -> str:
        """The request target without its query."""
        return self.target.split("?", 1)[0]

    @property
    def is_stream(self) -> bool:
        """True for a 200 answered with an event stream."""
        media = self.response_headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return self.status == 200 and media == "text/event-stream"

    @property
    def last_byte_at(self) -> float | None:
        """When the last body byte (or the head) was passed on."""
        return self.body[-1][0] if self.body else self.responded_at


def exchanges(connection: Connection) -> list[Exchange]:
    """Every request of the connection paired with its response, in order."""
    found = list(_requests(connection))
    _responses(connection, found)
    return found


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}


def _requests(connection: Connection) -> Iterator[Exchange]:
    parser = h11.Connection(h11.SERVER)
    for at, chunk in connection.sent:
        parser.receive_data(chunk)
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError:
                return
            if event is h11.NEED_DATA:
                break
            if isinstance(event, h11.Request):
                yield Exchange(
                    connection.index,
                    event.method.decode("latin-1"),
                    event.target.decode("latin-1"),
                    _headers(list(event.headers)),
                    at,
                )
            elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                # Answer our own parser so it reads the next request of a keep-alive connection.
                if not _next_cycle(parser):
                    return
            elif isinstance(event, h11.ConnectionClosed):
                return


def _next_cycle(parser: h11.Connection) -> bool:
    try:
        if parser.our_state is h11.SEND_RESPONSE:
            parser.send(h11.Response(status_code=204, headers=[]))
            parser.send(h11.EndOfMessage())
        parser.start_next_cycle()
    except h11.LocalProtocolError:
        return False
    return True


def _responses(connection: Connection, found: list[Exchange]) -> None:
    parser = h11.Connection(h11.CLIENT)
    pending = iter(found)
    current = _ask(parser, next(pending, None))
    chunks = iter(connection.received)
    at = connection.opened_at
    while current is not None:
        event = _next_event(parser)
        if event is h11.NEED_DATA:
            chunk = next(chunks, None)
            if chunk is None:
                _unfinished(connection, parser, current)
                return
            at = chunk[0]
            parser.receive_data(chunk[1])
            continue
        if isinstance(event, h11.Response):
            current.status = event.status_code
            current.response_headers = _headers(list(event.headers))
            current.responded_at = at
        elif isinstance(event, h11.Data):
            current.body.append((at, bytes(event.data)))
        elif isinstance(event, h11.EndOfMessage):
            current.end, current.ended_at = COMPLETE, at
            try:
                parser.start_next_cycle()
            except h11.LocalProtocolError:
                return
            current = _ask(parser, next(pending, None))
        elif event is None or isinstance(event, h11.ConnectionClosed):
            current.end, current.ended_at = DROPPED, connection.server_closed_at
            return


def _next_event(parser: h11.Connection) -> object:
    """The parser's next event; None when the bytes are not HTTP (or end in the middle of a message)."""
    try:
        return parser.next_event()
    except h11.RemoteProtocolError:
        return None


def _ask(parser: h11.Connection, exchange: Exchange | None) -> Exchange | None:
    """Tell our client-side parser which request the next response answers (its method decides its body)."""
    if exchange is not None:
        parser.send(h11.Request(method=exchange.method, target=exchange.target, headers=[("Host", "tap")]))
        parser.send(h11.EndOfMessage())
    return exchange


def _unfinished(connection: Connection, parser: h11.Connection, current: Exchange) -> None:
    """The relay stopped inside `current`: the client closed it, the server cut it, or it was still open."""
    client, server = connection.client_closed_at, connection.server_closed_at
    if client is not None and (server is None or client <= server):
        current.end, current.ended_at = CLIENT_CLOSED, client
        return
    if server is None:
        return
    # A body that runs until the connection closes (HTTP/1.0) ends cleanly there; a cut chunked body does not.
    parser.receive_data(b"")
    while True:
        event = _next_event(parser)
        if isinstance(event, h11.Data):
            current.body.append((server, bytes(event.data)))
            continue
        complete = isinstance(event, h11.EndOfMessage)
        current.end, current.ended_at = (COMPLETE if complete else DROPPED), server
        return
