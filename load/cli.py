"""`ftl-load`: polling versus SSE (`compare`) and SSE capacity (`capacity`) against ftl-mock or a target.

Every flag can also be set by an `FTL_LOAD_<FLAG>` environment variable. Exit codes: 0 done, 2 usage or
setup error (one line on stderr), 1 when the run completed but requests failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from load.errors import LoadError
from load.plan import Workload, parse_duration, parse_scale
from spec.flags import Flag, FlagError, add_arguments
from spec.flags import resolve as resolve_flags

ENV_PREFIX = "FTL_LOAD_"


class UsageError(Exception):
    """A flag or environment value ftl-load cannot use."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number (got {text!r})") from None
    if value < 1:
        raise ValueError(f"must be at least 1 (got {value})")
    return value


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number (got {text!r})") from None
    if value < 0:
        raise ValueError(f"must not be negative (got {value})")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number (got {text!r})") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"must be positive (got {text!r})")
    return value


def url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL (got {text!r})")
    return text.rstrip("/")


def steps(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"must be comma-separated whole numbers like 50,100,200 (got {text!r})") from None
    if not values or min(values) < 1:
        raise ValueError(f"must list at least one positive stream count (got {text!r})")
    return values


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false (got {text!r})")


_flag = partial(Flag, prefix=ENV_PREFIX)

COMMON = [
    _flag("target", url, "base URL of the server under load (default: start an ftl-mock on a free port)", default=None),
    _flag("target-pid", positive_int, "pid of a local --target, to report its CPU time", default=None),
    _flag("api-key", str, "API key that creates the jobs (default: the started mock's demo key)", default=None),
    _flag("session", str, "dashboard session token (default: the started mock's demo session)", default=None),
    _flag("jobs", positive_int, "training jobs", default=None),
    _flag("upload-rate", positive_float, "predictions each job's worker uploads per simulated minute", default="1"),
    _flag("batch", positive_int, "predictions per upload request", default="1"),
    _flag(
        "time-scale",
        parse_scale,
        "multiplies every interval, users' and the mock's heartbeat (1/60: an hour in a minute)",
        default=None,
    ),
    _flag("workers", count, "Locust workers on loopback under one master (0: a single local runner)", default="0"),
    _flag(
        "out",
        Path,
        "report directory (default: reports/load-<timestamp> or reports/capacity-<timestamp>)",
        default=None,
    ),
]
COMPARE = [
    _flag("tabs", positive_int, "dashboard tabs open per job", default="2"),
    _flag("poll-interval", parse_duration, "the polling chart's refetch interval (reference §13: 30 s)", default="30s"),
    _flag("duration", parse_duration, "simulated length of the workload", default="1h"),
]
CAPACITY = [
    _flag("steps", steps, "SSE dashboard tabs (streams) at each step", default="50,100,200,400,800"),
    _flag("hold", parse_duration, "wall time each step holds its streams while predictions flow", default="20s"),
    _flag("refetch", boolean, "tabs refetch /trends on every prediction event, as the dashboard does", default="true"),
]
DEFAULTS = {
    "compare": {"jobs": "50", "time-scale": "1/60"},
    "capacity": {"jobs": "10", "time-scale": "1", "upload-rate": "12"},
}


def build_parser() -> Parser:
    parser = Parser(
        prog="ftl-load",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Exit codes: 0 done, 1 the run completed but requests failed, 2 usage or setup error.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{compare,capacity}", parser_class=Parser)
    for name, flags, text in (
        ("compare", COMMON + COMPARE, "polling versus SSE for the same workload, side by side"),
        ("capacity", COMMON + CAPACITY, "ramp SSE dashboard tabs and report streams held, fan-out delay, errors"),
    ):
        sub = commands.add_parser(name, help=text, description=text, epilog=parser.epilog)
        add_arguments(sub, flags, _defaults(name, flags))
    return parser


def _defaults(command: str, flags: list[Flag]) -> dict[str, str | None]:
    """Each flag's default as text, like the environment gives it; some differ per command."""
    return {flag.name: DEFAULTS[command].get(flag.name, flag.default) for flag in flags}


def resolve(command: str, args: argparse.Namespace) -> dict[str, Any]:
    """Each flag's value: the command line, else the environment, else the default; parsed and checked."""
    flags = COMMON + (COMPARE if command == "compare" else CAPACITY)
    try:
        return resolve_flags(flags, args, os.environ, defaults=_defaults(command, flags), opaque=(), empty_env=True)
    except FlagError as exc:
        raise UsageError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("choose a command: compare or capacity (see --help)")
        values = resolve(args.command, args)
        if values["target"] is None and values["target_pid"] is not None:
            raise UsageError("--target-pid needs --target")
        return run(args.command, values)
    except UsageError as exc:
        print(f"ftl-load: error: {exc}", file=sys.stderr)
        return 2
    except LoadError as exc:
        print(f"ftl-load: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ftl-load: interrupted", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Whoever read our output (`| head`) left; the reports are written, say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run(command: str, values: dict[str, Any]) -> int:
    from load.compare import RunOptions, TargetOptions

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = values["out"] or Path("reports") / f"{'load' if command == 'compare' else 'capacity'}-{stamp}"
    target = TargetOptions(values["target"], values["target_pid"], values["api_key"], values["session"])
    run_options = RunOptions(out=Path(out), workers=values["workers"])
    if command == "compare":
        try:
            workload = Workload(
                jobs=values["jobs"],
                tabs=values["tabs"],
                poll_interval_s=values["poll_interval"],
                upload_rate=values["upload_rate"],
                duration_s=values["duration"],
                time_scale=values["time_scale"],
                batch=values["batch"],
            )
        except LoadError as exc:
            raise UsageError(str(exc)) from None
        from load.compare import markdown, run_compare

        result = run_compare(workload, target, run_options)
        print(markdown(result))
        print(f"reports: {run_options.out}/ (compare.json, compare.md, compare.png, Locust CSV and HTML per mode)")
        failed = result["polling"]["failures"] + result["sse"]["failures"]
    else:
        from load.capacity import CapacityOptions, run_capacity
        from load.capacity import markdown as capacity_markdown

        options = CapacityOptions(
            steps=values["steps"],
            jobs=values["jobs"],
            hold_s=values["hold"],
            upload_rate=values["upload_rate"],
            batch=values["batch"],
            time_scale=values["time_scale"],
            refetch=values["refetch"],
        )
        result = run_capacity(options, target, run_options)
        print(capacity_markdown(result))
        print(f"reports: {run_options.out}/ (capacity.json, capacity.md, capacity.png, Locust reports per step)")
        failed = sum(step["errors"] for step in result["steps"])
    return 1 if failed else 0
