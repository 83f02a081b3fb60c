"""`ftl-mock` (also `python -m mockserver`): serve the contract under uvicorn.

Every flag has an `FTL_MOCK_<FLAG>` environment variable; a bad value is one line on stderr and exit 2.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from types import FrameType

import uvicorn

from cmdline import Flag, Parser, UsageError, guarded, parser_for, resolve, values
from mockserver.access import ADMIN_TOKEN_HEADER, host_name, is_loopback
from mockserver.admin_routes import PREFIX, route
from mockserver.app import MockApp, create_app
from mockserver.protocol import protocol_class
from mockserver.scenarios import Library, ScenarioError
from mockserver.settings import DEMO_DATA, RateLimit, Settings
from mockserver.store import StoreError
from spec import OverlayError, SpecError, designs

PROG = "ftl-mock"
ENV_PREFIX = "FTL_MOCK_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
GRACEFUL_SHUTDOWN_S = 5
LISTEN_BACKLOG = 2048  # uvicorn's default backlog
MIN_TOKEN_LENGTH = 16
TOKEN_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe())'"  # noqa: S105 (a command)


def _admin_token(text: str) -> str:
    if len(text) < MIN_TOKEN_LENGTH or not text.isascii() or not text.isprintable() or " " in text:
        values.refuse(
            f"at least {MIN_TOKEN_LENGTH} printable ASCII characters without spaces (make one: {TOKEN_HINT})", text
        )
    return text


DEFAULTS = Settings()
_flag = partial(Flag, prefix=ENV_PREFIX)
FLAGS: tuple[Flag, ...] = (
    _flag("host", str, "interface to listen on", default=DEFAULTS.host),
    _flag("port", values.port, "port to listen on; 0 picks a free port (printed on start)", default=str(DEFAULTS.port)),
    _flag("spec", values.input_file, "OpenAPI document to serve", "the bundled spec/openapi.yaml"),
    _flag("data", values.input_file, "YAML or JSON seed data", "the bundled demo data"),
    _flag(
        "time-scale",
        values.time_scale,
        "multiplies every server-side interval (0.01 or 1/100 = 100x faster)",
        default=f"{DEFAULTS.time_scale:g}",
    ),
    _flag("log-level", values.choice(*LOG_LEVELS), f"one of {', '.join(LOG_LEVELS)}", default=DEFAULTS.log_level),
    _flag("rate-limit", RateLimit.parse, "per-API-key rate limit such as 100/60s", "off"),
    _flag("body-limit", values.size, "largest request body, e.g. 10MiB; larger bodies get 413", default="10MiB"),
    _flag(
        "journal-size", values.count, "requests kept in the journal (0 keeps none)", default=str(DEFAULTS.journal_size)
    ),
    _flag("scenario", values.file_or_name, "stream scenario every prediction stream plays (name or file)", "none"),
    _flag(
        "stream-queue",
        values.positive_int,
        "messages a slow stream consumer may fall behind",
        default=str(DEFAULTS.stream_queue),
    ),
    _flag(
        "cors",
        values.boolean,
        "answer CORS preflights and allow every origin, so a browser page from anywhere can call the mock",
        "on",
        kind="switch",
    ),
    _flag(
        "journal-bytes",
        values.size,
        "bytes the journal may keep in all (each entry keeps at most 8 KiB of body and of headers)",
        default="32MiB",
    ),
    _flag("admin-body-limit", values.size, "largest admin API request body, e.g. 32MiB", default="32MiB"),
    _flag(
        "header-limit", values.size, "largest request head (request line and headers); larger gets 431", default="64KiB"
    ),
    _flag(
        "read-timeout",
        values.positive_float,
        "seconds a client has to send a request's headers, and again its body (else 408 and closed)",
        default=f"{DEFAULTS.read_timeout:g}",
    ),
    _flag(
        "admin-token",
        _admin_token,
        f"token every /__mock request must carry in {ADMIN_TOKEN_HEADER}; required to listen beyond loopback",
        "none (loopback only)",
    ),
    _flag(
        "allowed-hosts",
        values.names,
        "more Host names the mock answers to (comma-separated; * for any)",
        "loopback and --host",
    ),
    _flag(
        "design",
        values.file_or_name,
        f"serve a design variant of the contract: a name from spec/designs/ ({', '.join(designs())}) or a file",
        "none (the contract as it is)",
    ),
)


def build_parser() -> Parser:
    """The argument parser; `--help` names each flag's default and environment variable."""
    return parser_for(
        PROG,
        "Serve the FineTune Lab training API contract as a stateful mock.",
        "Exit codes: 0 stopped cleanly, 2 usage or setup error.",
        FLAGS,
    )


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Settings from flags, then `FTL_MOCK_*` variables, then defaults; UsageError naming the culprit."""
    args = build_parser().parse_args(list(argv))
    return Settings(**{"data": DEMO_DATA, **resolve(FLAGS, args, environ)})


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
        # Listening before the banner is printed: a client that reads the banner and connects at once is
        # queued until uvicorn accepts, instead of refused.
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def banner(app: MockApp, url: str) -> list[str]:
    """The start-up lines: what is served where, and the demo credentials it accepts.

    Beyond loopback the credentials are not printed: terminal output travels (logs, screen shares, CI).
    """
    state = app.state
    design = f" with design {state.contract.design}" if state.contract.design else ""
    head = [
        f"{PROG} serving {state.contract.source}{design} ({len(state.contract.operations)} operations)",
        f"  url:       {url}",
        f"  admin:     {url}{PREFIX}/" + (f" ({ADMIN_TOKEN_HEADER} required)" if state.settings.admin_token else ""),
    ]
    if not loopback_only(state.settings.host):
        hidden = f"(not shown beyond loopback: GET {route('identities').full_path}?secrets=1 with {ADMIN_TOKEN_HEADER})"
        return [*head, f"  api key:   {hidden}", f"  jwt:       {hidden}", f"  job token: {hidden}"]
    demo = state.store.identities()["demo"]
    job = f"{demo['job_token']} (job {demo['job_id']})" if demo["job_token"] else "(no job in the seed data)"
    return [
        *head,
        f"  api key:   {demo['api_key'] or '(none in the seed data)'}",
        f"  jwt:       {demo['session_token'] or '(none in the seed data)'}",
        f"  job token: {job}",
    ]


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
    except OverlayError as exc:
        raise UsageError(f"--design: {exc}") from None
    except SpecError as exc:
        raise UsageError(f"--{'design' if settings.design else 'spec'}: {exc}") from None
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

    def body() -> int:
        serve(parse_settings(sys.argv[1:] if argv is None else argv, os.environ))
        return 0

    return guarded(PROG, body)
