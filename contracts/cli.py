"""`ftl-gate` (also `python -m contracts`): check a backend, or the embedded mock, against the contract.

Every flag has an `FTL_GATE_<FLAG>` environment variable. Exit codes: 0 no violations, 1 violations
found, 2 usage or setup error; each ends the run with one line saying why.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from contracts.errors import GateError
from contracts.gate import GateRun, run_gate
from contracts.progress import NullProgress, Progress, RichProgress
from contracts.provisioning import EXISTING_KINDS
from contracts.reports import print_summary, write_junit, write_markdown
from contracts.settings import DEFAULT_MAX_EXAMPLES, EMBEDDED_TIME_SCALE, GateSettings
from spec.flags import Flag, FlagError, add_arguments, boolean, positive_float, positive_int, resolve

PROG = "ftl-gate"
ENV_PREFIX = "FTL_GATE_"
LOG_WIDTH = 120


class UsageError(GateError):
    """A flag or environment variable the gate cannot run with."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 10:
        raise ValueError(f"must be between 0 and 10, got {text!r}")
    return value


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {text!r}")
    return text.rstrip("/")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _existing(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _names(text):
        kind, sep, value = item.partition("=")
        if not sep or not value.strip() or kind.strip() not in EXISTING_KINDS:
            raise ValueError(f"expected KIND=ID with KIND one of {', '.join(EXISTING_KINDS)}, got {item!r}")
        pairs.append((kind.strip(), value.strip()))
    return tuple(pairs)


def _declared(text: str) -> str:
    if text not in DECLARED_CHOICES:
        raise ValueError(f"must be one of {', '.join(DECLARED_CHOICES)}, got {text!r}")
    return text


DECLARED_CHOICES = ("allow", "fail")


DEFAULTS = GateSettings()
_flag = partial(Flag, prefix=ENV_PREFIX)
DEMO = "with the embedded mock, its demo"
FLAGS: tuple[Flag, ...] = (
    _flag("base-url", _url, "backend to check; without it the gate starts ftl-mock on a free port", "embedded mock"),
    _flag("spec", str, "OpenAPI document of the contract", "the bundled spec/openapi.yaml"),
    _flag("api-key", str, "API key (wak_...) for operations that accept one", f"none; {DEMO} key"),
    _flag("bearer", str, "session JWT for operations that need one", f"none; {DEMO} session"),
    _flag("job-token", str, "job token for operations on a job the gate did not create", f"none; {DEMO} token"),
    _flag("other-api-key", str, "another user's API key (asking for our job must get 404)", f"none; {DEMO} 2nd user's"),
    _flag("include", _names, "only these operationIds or tags (repeat or comma-separate)", "all", kind="list"),
    _flag("exclude", _names, "skip these operationIds or tags (repeat or comma-separate)", "none", kind="list"),
    _flag("max-examples", positive_int, "examples per operation and phase", str(DEFAULT_MAX_EXAMPLES)),
    _flag("seed", int, "random seed, to reproduce a run", "random"),
    _flag("stateful", boolean, "stateful sequences along the spec's links", "on", kind="switch"),
    _flag("junit-xml", Path, "write a JUnit XML report here", "none"),
    _flag("report", Path, "write a Markdown report here", "none"),
    _flag("known-divergences", Path, "known divergences (reported as known, not failed)", "spec/divergences.yaml"),
    _flag("strict", boolean, "count known divergences as failures too", "off", kind="switch"),
    _flag(
        "stream-events", positive_int, "stop reading the stream after this many messages", str(DEFAULTS.stream_events)
    ),
    _flag("stream-seconds", positive_float, "read the stream this long", "two heartbeat intervals plus tolerance"),
    _flag(
        "time-scale",
        positive_float,
        "the target's time scale (expected heartbeat = spec interval x scale)",
        f"1; {EMBEDDED_TIME_SCALE:g} for the embedded mock, which is started with it",
    ),
    _flag("heartbeat-tolerance", _fraction, "heartbeat lateness allowed: fraction of the interval, plus 0.25 s", "0.5"),
    _flag("delivery-bound", positive_float, "seconds an upload's events may take to arrive", "5"),
    _flag("live", boolean, "create a job and upload predictions while its stream is open", "on", kind="switch"),
    _flag("stream-job", str, "job whose stream is read when the gate cannot create one", "none; the demo job"),
    _flag("request-timeout", positive_float, "seconds per request", str(DEFAULTS.request_timeout)),
    _flag(
        "existing",
        _existing,
        "ids of existing resources to use where the gate cannot create its own "
        f"(KIND=ID; KIND: {', '.join(EXISTING_KINDS)}; a job's token is --job-token)",
        "none; the gate creates them",
        kind="list",
    ),
    _flag(
        "declared-server-errors",
        _declared,
        "a 5xx the contract declares for a documented condition (503 without a training server): "
        "allow reports and counts it, fail makes it a not_a_server_error failure",
        DEFAULTS.declared_server_errors,
    ),
    _flag("quiet", boolean, "no live progress and no summary table, only the last line", "off", kind="switch"),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; `--help` names each flag's default and environment variable."""
    parser = _Parser(
        prog=PROG,
        description="Check a FineTune Lab backend (or the embedded ftl-mock) against the contract.",
        epilog="Exit codes: 0 no violations, 1 violations found, 2 usage or setup error. "
        "SDK conformance: `ftl-gate sdk --help`.",
    )
    add_arguments(parser, FLAGS)
    return parser


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> GateSettings:
    """Settings from flags, then `FTL_GATE_*` variables, then defaults; UsageError naming the culprit."""
    args = build_parser().parse_args(list(argv))
    try:
        values = resolve(FLAGS, args, environ)
    except FlagError as exc:
        raise UsageError(str(exc)) from None
    assert set(values) <= {field.name for field in fields(GateSettings)}
    if "existing" in values:
        values["existing"] = dict(values["existing"])
    return GateSettings(**values)


def _execute(settings: GateSettings, console: Console) -> GateRun:
    if settings.quiet or not console.is_terminal:
        progress: Progress = NullProgress()
        return run_gate(settings, progress)
    with RichProgress(console) as live:
        return run_gate(settings, live)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; the return value is the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["sdk"]:
        from contracts.sdk.cli import main as sdk_main

        return sdk_main(args[1:], environ)
    # Logs (CI) are wider than the 80 columns rich assumes without a terminal.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else LOG_WIDTH)
    try:
        settings = parse_settings(args, os.environ if environ is None else environ)
        run = _execute(settings, console)
        if not settings.quiet:
            print_summary(console, run)
        if settings.junit_xml:
            write_junit(settings.junit_xml, run)
        if settings.report:
            write_markdown(settings.report, run)
    except GateError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 2
    print(f"{PROG}: {run.reason}")
    return run.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
