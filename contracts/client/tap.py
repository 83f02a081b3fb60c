"""A recording relay between the client under test and the mock: every byte each way, with its time.

It changes nothing on the way (headers, chunking, a dropped connection is passed on as a drop), so the
bytes it records are exactly what the client was given. `freeze()` stops the relay at a case's end: what
was forwarded until then is what the client must have handed to its user.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

READ_SIZE = 65536


@dataclass
class Connection:
    """One TCP connection the client opened, as relayed: bytes each way with the (epoch) time of each read."""

    index: int
    opened_at: float
    sent: list[tuple[float, bytes]] = field(default_factory=list)
    received: list[tuple[float, bytes]] = field(default_factory=list)
    client_closed_at: float | None = None
    server_closed_at: float | None = None


class Tap:
    """A loopback relay to `upstream` (host, port) that records each connection; start with `await start()`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.connections: list[Connection] = []
        self.frozen_at: float | None = None
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on a free loopback port; the port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def freeze(self) -> float:
        """Stop relaying (connections stay open, new ones are held); the time it stopped."""
        if self.frozen_at is None:
            self.frozen_at = time.time()
        return self.frozen_at

    async def close(self) -> None:
        """Drop every connection and stop listening."""
        self.freeze()
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        if self._server is not None:
            with contextlib.suppress(OSError):
                await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.append(client_writer)
        if self.frozen_at is not None:
            return
        connection = Connection(len(self.connections), time.time())
        self.connections.append(connection)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.append(server_writer)
        up = asyncio.ensure_future(self._pump(client_reader, server_writer, connection, upstream=True))
        down = asyncio.ensure_future(self._pump(server_reader, client_writer, connection, upstream=False))
        for task in (up, down):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: Connection, *, upstream: bool
    ) -> None:
        record = connection.sent if upstream else connection.received
        reset = False
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionResetError, BrokenPipeError):
                data, reset = b"", True
            if self.frozen_at is not None:
                return
            now = time.time()
            if not data:
                break
            record.append((now, data))
            writer.write(data)
            try:
                await writer.drain()
            except (ConnectionResetError, BrokenPipeError):
                break
        if upstream:
            connection.client_closed_at = now
        else:
            connection.server_closed_at = now
        # Pass the end on as it came: a reset as a reset (the client sees a dropped connection), an EOF as a close.
        if reset:
            writer.transport.abort()
        else:
            with contextlib.suppress(OSError):
                writer.close()
