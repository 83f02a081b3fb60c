"""An ASGI app served by uvicorn on a free loopback port, for tests that need a real server they build themselves.

`ThreadServer(app)` serves in a thread of the test process; `ProcessServer(factory)` builds the app in a
forked child process, so a server under load does not compete with the gate for the test process's GIL
(and its heartbeats keep their time). Both are context managers that wait until the server listens and
stop it at the end.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _uvicorn(app: Any) -> uvicorn.Server:
    # "error": generated requests that are not HTTP at all are the fuzzer's business, not a warning.
    return uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="on", timeout_graceful_shutdown=1))


class ThreadServer:
    """`app` under uvicorn in a daemon thread on 127.0.0.1 and a free port (`url`)."""

    def __init__(self, app: Any) -> None:
        self.sock = _listening_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = _uvicorn(app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=STOP_TIMEOUT_S)
        self.sock.close()


def _serve(factory: Callable[[], Any], sock: socket.socket) -> None:
    _uvicorn(factory()).run(sockets=[sock])


class ProcessServer:
    """The app `factory()` builds, under uvicorn in a forked child process on 127.0.0.1 and a free port (`url`)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.sock = _listening_socket()
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        context = multiprocessing.get_context("fork")
        self.process = context.Process(target=_serve, args=(factory, self.sock), daemon=True)

    def __enter__(self) -> ProcessServer:
        self.process.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection(self.sock.getsockname(), timeout=1) as probe:
                    probe.sendall(b"GET /__health HTTP/1.0\r\n\r\n")
                    if probe.recv(16):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline or not self.process.is_alive():
                self.__exit__()
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(timeout=STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=STOP_TIMEOUT_S)
        self.sock.close()
