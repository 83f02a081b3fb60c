"""`ftl-load`: polling versus SSE (`compare`) and SSE capacity (`capacity`) against ftl-mock or a target.

Every flag can also be set by an `FTL_LOAD_<FLAG>` environment variable. Exit codes: 0 done, 2 usage or
setup error (one line on stderr), 1 when the run completed but requests failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from cmdline import (
    PROGRESS_INTERVAL_S,
    Flag,
    Parser,
    UsageError,
    WatchedProgress,
    add_arguments,
    console,
    guarded,
    resolve,
    values,
)
from load.capacity import CapacityOptions, run_capacity, step_name
from load.capacity import markdown as capacity_markdown
from load.compare import markdown, run_compare, sweep_step
from load.errors import LoadError
from load.pipeline import RunOptions, TargetOptions
from load.progress import PlannedRun, RunWatch
from load.scenarios import ALL, COMPARED, SCENARIOS
from load.workload import Workload

PROG = "ftl-load"
ENV_PREFIX = "FTL_LOAD_"
_flag = partial(Flag, prefix=ENV_PREFIX)


def designs_list(text: str) -> tuple[str, ...]:
    """Scenario names, comma-separated, each once (`all`: every one); ValueError naming the unknown ones."""
    names = values.names(text)
    if names == ("all",):
        return ALL
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        values.refuse(f"scenario names from {', '.join(SCENARIOS)} (or all)", text)
    if len(set(names)) != len(names):
        values.refuse("each scenario once", text)
    return names


COMMON = [
    _flag("target", values.http_url, "base URL of the server under load", "start an ftl-mock on a free port"),
    _flag("target-pid", values.positive_int, "pid of a local --target, to report its CPU time", "none"),
    _flag("api-key", str, "API key that creates the jobs", "the started mock's demo key"),
    _flag("session", str, "dashboard session token", "the started mock's demo session"),
    _flag("jobs", values.positive_int, "training jobs"),
    _flag(
        "upload-rate", values.positive_float, "predictions each job's worker uploads per simulated minute", default="1"
    ),
    _flag("batch", values.positive_int, "predictions per upload request", default="1"),
    _flag(
        "time-scale",
        values.time_scale,
        "multiplies every interval, users' and the mock's heartbeat (1/60: an hour in a minute)",
    ),
    _flag(
        "workers", values.count, "Locust workers on loopback under one master (0: a single local runner)", default="0"
    ),
    _flag(
        "out",
        values.output_dir,
        "report folder, relative to the current folder",
        "reports/load-<timestamp> or reports/capacity-<timestamp>",
    ),
    _flag(
        "request-timeout",
        values.positive_float,
        "seconds to wait for the target's answer while setting up (a target that never answers fails after this)",
        default="30",
    ),
]
COMPARE = [
    _flag("tabs", values.positive_int, "dashboard tabs open per job", default="2"),
    _flag(
        "poll-interval", values.duration, "the polling chart's refetch interval (reference §13: 30 s)", default="30s"
    ),
    _flag("duration", values.duration, "simulated length of the workload", default="1h"),
    _flag(
        "mode",
        values.choice("both", *SCENARIOS),
        f"run one scenario ({', '.join(SCENARIOS)}), or both ({' and '.join(COMPARED)}) and compare them",
        default="both",
    ),
    _flag(
        "designs",
        designs_list,
        "compare these scenarios, each against a mock serving its contract design (comma-separated, the first is "
        f"the baseline; all: {','.join(ALL)}); replaces --mode",
        "--mode's",
    ),
    _flag(
        "rates",
        values.positive_numbers,
        "run the workload at each of these prediction rates (per job per minute, e.g. 0.25,1,2,4) instead of "
        "--upload-rate, to show where each design breaks even",
        "--upload-rate",
    ),
    _flag(
        "web",
        values.boolean,
        "run one --mode with Locust's web UI on --web-port instead of headless, to watch it live",
        "off",
        kind="switch",
    ),
    _flag("web-port", values.port, "port of Locust's web UI on 127.0.0.1", default="8089"),
    _flag("web-hold", values.duration, "how long the web UI stays up after the run, for a last look", default="60s"),
]
CAPACITY = [
    _flag("steps", values.whole_numbers, "SSE dashboard tabs (streams) at each step", default="50,100,200,400,800"),
    _flag("hold", values.duration, "wall time each step holds its streams while predictions flow", default="20s"),
    _flag(
        "refetch",
        values.boolean,
        "tabs refetch /trends on every prediction event, as the dashboard does",
        default="true",
    ),
]
DEFAULTS = {
    "compare": {"jobs": "50", "time-scale": "1/60"},
    "capacity": {"jobs": "10", "time-scale": "1", "upload-rate": "12"},
}
EPILOG = (
    f"Progress goes to stderr: a bar on a terminal, a line every {PROGRESS_INTERVAL_S:g} s in a log. "
    "Exit codes: 0 done, 1 the run completed but requests failed, 2 usage or setup error."
)


def build_parser() -> Parser:
    """The parser of `ftl-load` and its two commands; `--help` names each flag's default and variable."""
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", metavar="{compare,capacity}", parser_class=Parser)
    for name, flags, text in (
        ("compare", COMMON + COMPARE, "polling versus SSE for the same workload, side by side"),
        ("capacity", COMMON + CAPACITY, "ramp SSE dashboard tabs and report streams held, fan-out delay, errors"),
    ):
        sub = commands.add_parser(name, help=text, description=text, epilog=EPILOG)
        add_arguments(sub, flags, DEFAULTS[name])
    return parser


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The command and each flag's value: the command line, else the environment, else the default."""
    args: argparse.Namespace = build_parser().parse_args(list(argv))
    if args.command is None:
        raise UsageError("choose a command: compare or capacity (see --help)")
    flags = COMMON + (COMPARE if args.command == "compare" else CAPACITY)
    given = {flag.dest: None for flag in flags} | resolve(flags, args, environ, defaults=DEFAULTS[args.command])
    if given["target"] is None and given["target_pid"] is not None:
        raise UsageError("--target-pid needs --target")
    if given.get("designs") and given.get("mode") not in (None, "both"):
        raise UsageError("--designs replaces --mode: give one of them")
    if given.get("web") and given["mode"] == "both" and len(given.get("designs") or ()) != 1:
        raise UsageError("--web watches one mode at a time: add --mode sse or --mode polling")
    if given.get("web") and len(given.get("rates") or ()) > 1:
        raise UsageError("--web watches one run: give one rate, not --rates")
    if given["out"] is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        given["out"] = values.output_dir(f"reports/{'load' if args.command == 'compare' else 'capacity'}-{stamp}")
    return args.command, given


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; the return value is the exit code."""
    env = os.environ if environ is None else environ

    def body() -> int:
        command, given = parse(sys.argv[1:] if argv is None else argv, env)
        try:
            return run(command, given)
        except BrokenPipeError:
            # Whoever read our output (`| head`) left; the reports are written, say nothing more.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    return guarded(PROG, body, (LoadError,))


def run(command: str, given: dict[str, Any]) -> int:
    """Run `compare` or `capacity` with parsed values, showing progress on stderr; the exit code."""
    out: Path = given["out"]
    target = TargetOptions(
        given["target"], given["target_pid"], given["api_key"], given["session"], given["request_timeout"]
    )
    web = bool(given.get("web"))
    run_options = RunOptions(
        out=out,
        workers=given["workers"],
        web_port=given["web_port"] if web else None,
        web_hold_s=given["web_hold"] if web else 0.0,
    )
    progress_out = console(stderr=True)
    if command == "compare":
        try:
            workload = Workload(
                jobs=given["jobs"],
                tabs=given["tabs"],
                poll_interval_s=given["poll_interval"],
                upload_rate=given["upload_rate"],
                duration_s=given["duration"],
                time_scale=given["time_scale"],
                batch=given["batch"],
            )
        except LoadError as exc:
            raise UsageError(str(exc)) from None
        modes = given.get("designs") or (COMPARED if given["mode"] == "both" else (given["mode"],))
        rates = tuple(given.get("rates") or ())
        if web:
            print(
                f"{PROG}: Locust's web UI at http://127.0.0.1:{given['web_port']}/ while {modes[0]} runs "
                f"(it stays up {given['web_hold']:g} s after the run)",
                file=sys.stderr,
                flush=True,
            )
        planned = [
            PlannedRun(sweep_step(mode, replace(workload, upload_rate=rate), rates), workload.wall_s)
            for mode in modes
            for rate in rates or (workload.upload_rate,)
        ]
        with WatchedProgress(PROG, RunWatch(out, planned), progress_out):
            result = run_compare(workload, target, run_options, modes, rates)
        print(markdown(result))
        chart = ", compare.png" if len(modes) > 1 or len(rates) > 1 else ""
        print(f"reports: {out}/ (compare.json, compare.md{chart}, Locust CSV and HTML per mode)")
        every = [summary for step in (result.get("by_rate") or {"": result}).values() for summary in step.values()]
        failed = sum(summary["failures"] for summary in every if isinstance(summary, dict) and "failures" in summary)
    else:
        options = CapacityOptions(
            steps=given["steps"],
            jobs=given["jobs"],
            hold_s=given["hold"],
            upload_rate=given["upload_rate"],
            batch=given["batch"],
            time_scale=given["time_scale"],
            refetch=given["refetch"],
        )
        watch = RunWatch(out, [PlannedRun(step_name(n), options.hold_s) for n in options.steps])
        with WatchedProgress(PROG, watch, progress_out):
            result = run_capacity(options, target, run_options)
        print(capacity_markdown(result))
        print(f"reports: {out}/ (capacity.json, capacity.md, capacity.png, Locust reports per step)")
        failed = sum(step["errors"] for step in result["steps"])
    return 1 if failed else 0
