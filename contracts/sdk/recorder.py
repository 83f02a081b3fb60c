"""A recording HTTP proxy between an SDK and the mock: forwards each request as sent, keeps each response.

The mock's journal records requests but not the responses; the manifest runner compares an SDK
method's return value with the response it got, so it points the SDK at this proxy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from contracts.checks import excerpt

# Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business; they are not forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
NOT_JSON = object()


@dataclass(frozen=True)
class Exchange:
    """One request forwarded and the response it got."""

    method: str
    path: str
    query: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The response body as JSON, or `NOT_JSON`."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return NOT_JSON

    def excerpt(self) -> str:
        """`HTTP 400 (application/json)` and the start of the body."""
        return excerpt(self.status, self.headers.get("content-type"), self.body)


class RecordingProxy:
    """Serves on a free loopback port, forwards to `upstream` and records every exchange in order."""

    def __init__(self, upstream: str, timeout: float = 30.0) -> None:
        self.upstream = upstream.rstrip("/")
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._server = _QuietServer(("127.0.0.1", 0), _handler_class(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def exchanges(self, start: int = 0) -> list[Exchange]:
        """The exchanges recorded from index `start` on."""
        with self._lock:
            return self._exchanges[start:]

    def __len__(self) -> int:
        with self._lock:
            return len(self._exchanges)

    def forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Exchange:
        """Send one request upstream and record the exchange (a 502 exchange when upstream fails)."""
        path, _, query = target.partition("?")
        sent = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        try:
            response = self._client.request(method, self.upstream + target, headers=sent, content=body or None)
            exchange = Exchange(method, path, query, response.status_code, dict(response.headers), response.content)
        except httpx.HTTPError as exc:
            message = json.dumps({"error": f"recording proxy: upstream failed: {exc}"}).encode()
            exchange = Exchange(method, path, query, 502, {"content-type": "application/json"}, message)
        with self._lock:
            self._exchanges.append(exchange)
        return exchange


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients closing kept-alive connections are normal; nothing to print."""


def _handler_class(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            body = _read_body(self)
            exchange = proxy.forward(self.command, self.path, list(self.headers.items()), body)
            self.send_response(exchange.status)
            for name, value in exchange.headers.items():
                # httpx has already decoded the body and the length is the decoded one's.
                if name.lower() not in HOP_BY_HOP | {"content-length", "content-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(exchange.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(exchange.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _relay

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet; the report shows what matters."""

    return Handler


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("content-length") or 0)
    return handler.rfile.read(length) if length else b""
