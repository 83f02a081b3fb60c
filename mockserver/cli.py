"""`ftl-mock` (also `python -m mockserver`): serve the contract under uvicorn.

Every flag has an `FTL_MOCK_<FLAG>` environment variable; a bad value is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import uvicorn

from mockserver.access import ADMIN_TOKEN_HEADER, host_name, is_loopback
from mockserver.app import MockApp, create_app
from mockserver.errors import MockError
from mockserver.protocol import protocol_class
from mockserver.scenarios import Library, ScenarioError
from mockserver.settings import DEMO_DATA, RateLimit, Settings
from mockserver.store import StoreError
from spec import SpecError
from spec.flags import Flag, FlagError, add_arguments, positive_float, positive_int, resolve

PROG = "ftl-mock"
ENV_PREFIX = "FTL_MOCK_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
GRACEFUL_SHUTDOWN_S = 5
MIN_TOKEN_LENGTH = 16
TOKEN_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe())'"  # noqa: S105 (a command)


class UsageError(MockError):
    """A flag, environment variable or file the mock cannot start with."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _size(text: str) -> int:
    found = SIZE.fullmatch(text)
    if not found:
        raise ValueError(f"must be a size in bytes such as 10485760, 512KiB or 10MiB, got {text!r}")
    number, unit = found.groups()
    value = int(float(number) * UNITS[(unit or "").lower()[:1]])
    if value < 1:
        raise ValueError(f"must be at least 1 byte, got {text!r}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"must be 0 (any free port) to 65535, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def _admin_token(text: str) -> str:
    if len(text) < MIN_TOKEN_LENGTH or not text.isascii() or not text.isprintable() or " " in text:
        raise ValueError(
            f"must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without spaces (make one: {TOKEN_HINT})"
        )
    return text


def _hosts(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise ValueError(f"must be a comma-separated list of host names (or *), got {text!r}")
    return names


def _log_level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return text.lower()


DEFAULTS = Settings()
_flag = partial(Flag, prefix=ENV_PREFIX)
SHOWN_DEFAULTS = {
    "spec": "the bundled spec/openapi.yaml",
    "data": "the bundled demo data",
    "rate-limit": "off",
    "admin-token": "none (loopback only)",
    "allowed-hosts": "loopback and --host",
}
FLAGS: tuple[Flag, ...] = (
    _flag("host", str, "interface to listen on", default=DEFAULTS.host),
    _flag("port", _port, "port to listen on; 0 picks a free port (printed on start)", default=DEFAULTS.port),
    _flag("spec", Path, "OpenAPI document to serve"),
    _flag("data", Path, "YAML or JSON seed data", default=DEMO_DATA),
    _flag(
        "time-scale",
        positive_float,
        "multiplies every server-side interval (0.01 = 100x faster)",
        default=DEFAULTS.time_scale,
    ),
    _flag("log-level", _log_level, f"one of {', '.join(LOG_LEVELS)}", default=DEFAULTS.log_level),
    _flag("rate-limit", RateLimit.parse, "per-API-key rate limit such as 100/60s"),
    _flag("body-limit", _size, "largest request body, e.g. 10MiB; larger bodies get 413", default=DEFAULTS.body_limit),
    _flag("journal-size", _count, "requests kept in the journal (0 keeps none)", default=DEFAULTS.journal_size),
    _flag("scenario", str, "stream scenario every prediction stream plays (name or file)", default=DEFAULTS.scenario),
    _flag(
        "stream-queue", positive_int, "messages a slow stream consumer may fall behind", default=DEFAULTS.stream_queue
    ),
    _flag(
        "journal-bytes",
        _size,
        "bytes the journal may keep in all (each entry keeps at most 8 KiB of body and of headers)",
        default=DEFAULTS.journal_bytes,
    ),
    _flag("admin-body-limit", _size, "largest admin API request body, e.g. 32MiB", default=DEFAULTS.admin_body_limit),
    _flag(
        "header-limit",
        _size,
        "largest request head (request line and headers); larger gets 431",
        default=DEFAULTS.header_limit,
    ),
    _flag(
        "read-timeout",
        positive_float,
        "seconds a client has to send a request's headers, and again its body (else 408 and closed)",
        default=DEFAULTS.read_timeout,
    ),
    _flag(
        "admin-token",
        _admin_token,
        f"token every /__mock request must carry in {ADMIN_TOKEN_HEADER}; required to listen beyond loopback",
    ),
    _flag("allowed-hosts", _hosts, "more Host names the mock answers to (comma-separated; * for any)"),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; `--help` names each flag's default and environment variable."""
    parser = _Parser(
        prog=PROG,
        description="Serve the FineTune Lab training API contract as a stateful mock.",
        epilog="Exit codes: 0 stopped cleanly, 2 usage or setup error.",
    )
    add_arguments(parser, FLAGS, {flag.name: SHOWN_DEFAULTS.get(flag.name, f"{flag.default}") for flag in FLAGS})
    return parser


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Settings from flags, then `FTL_MOCK_*` variables, then defaults; UsageError naming the culprit."""
    args = build_parser().parse_args(list(argv))
    try:
        values = {flag.dest: flag.default for flag in FLAGS} | resolve(FLAGS, args, environ)
    except FlagError as exc:
        raise UsageError(str(exc)) from None
    for name in ("spec", "data"):
        path = values[name]
        if path is not None and not Path(path).is_file():
            raise UsageError(f"--{name}: no such file {path}")
    values["allowed_hosts"] = values["allowed_hosts"] or ()
    return Settings(**values)


def loopback_only(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address (nothing off this machine can connect)."""
    name = host_name(host)
    if is_loopback(name):
        return True
    try:
        infos = socket.getaddrinfo(name or None, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(is_loopback(host_name(str(info[4][0]))) for info in infos)


def check_exposure(settings: Settings) -> None:
    """UsageError when the mock would listen beyond loopback with an open admin API."""
    if settings.admin_token is None and not loopback_only(settings.host):
        raise UsageError(
            f"--host {settings.host}: other machines could use the admin API (it reads and replaces every "
            "credential); set --admin-token (or FTL_MOCK_ADMIN_TOKEN) to require a token, or listen on 127.0.0.1"
        )


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def banner(app: MockApp, url: str) -> list[str]:
    """The start-up lines: what is served where, and the demo credentials it accepts.

    Beyond loopback the credentials are not printed: terminal output travels (logs, screen shares, CI).
    """
    state = app.state
    head = [
        f"{PROG} serving {state.contract.source} ({len(state.contract.operations)} operations)",
        f"  url:       {url}",
        f"  admin:     {url}/__mock/" + (f" ({ADMIN_TOKEN_HEADER} required)" if state.settings.admin_token else ""),
    ]
    if not loopback_only(state.settings.host):
        hidden = f"(not shown beyond loopback: GET /__mock/data?secrets=1 with {ADMIN_TOKEN_HEADER})"
        return [*head, f"  api key:   {hidden}", f"  jwt:       {hidden}", f"  job token: {hidden}"]
    key, jwt, job = demo_credentials(state.store)
    return [
        *head,
        f"  api key:   {key or '(none in the seed data)'}",
        f"  jwt:       {jwt or '(none in the seed data)'}",
        f"  job token: {job[1]} (job {job[0]})" if job else "  job token: (no job in the seed data)",
    ]


def demo_credentials(store: Any) -> tuple[str | None, str | None, tuple[str, str] | None]:
    """An all-scope API key, a session token and a job with its token, from the seed data."""
    keys = [k for k in store.accounts.keys.values() if k.active]
    key = next((k.key for k in keys if "all" in k.scopes), keys[0].key if keys else None)
    jwt = next(iter(store.accounts.sessions), None)
    jobs = getattr(store, "jobs", None)
    rows = list(jobs.rows.values()) if jobs is not None else []
    rows.sort(key=lambda r: r.get("status") != "running")
    job = next(((str(r["id"]), str(r["job_token"])) for r in rows if r.get("job_token")), None)
    return key, jwt, job


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.DEBUG if level == "trace" else getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(settings: Settings) -> None:
    """Create the app, bind, print the banner and serve until Ctrl-C or SIGTERM."""
    _configure_logging(settings.log_level)
    check_exposure(settings)
    try:
        app = create_app(settings)
        if settings.scenario:
            try:
                Library(app.state.contract.stream).get(settings.scenario)
            except ScenarioError as exc:
                raise UsageError(f"--scenario: {exc}") from None
    except SpecError as exc:
        raise UsageError(f"--spec: {exc}") from None
    except StoreError as exc:
        raise UsageError(f"--data: {exc}") from None
    sock = bind(settings.host, settings.port)
    url = _url(settings.host, sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        http=protocol_class(settings.header_limit, settings.read_timeout),
        log_level=settings.log_level,
        access_log=settings.log_level in ("info", "debug", "trace"),
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        # The mock reads no X-Forwarded-* headers: no proxy middleware in front of its one ASGI callable.
        proxy_headers=False,
    )
    server = _Server(config, app)
    print("\n".join(banner(app, url)), flush=True)
    server.run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn's server, closing open streams first on shutdown so their connections can finish."""

    def __init__(self, config: uvicorn.Config, app: MockApp) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.app.state.streams.stop()
        await super().shutdown(sockets)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `ftl-mock`; 0 after a clean stop, 2 on a usage or setup error."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv, os.environ)
        serve(settings)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except (SystemExit, KeyboardInterrupt) as exc:
        code = exc.code if isinstance(exc, SystemExit) else 0
        return code if isinstance(code, int) else 0
    return 0
