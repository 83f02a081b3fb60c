"""`ftl-gate` (also `python -m contracts`): check a backend, or the embedded mock, against the contract.

Every flag has an `FTL_GATE_<FLAG>` environment variable. Exit codes: 0 no violations, 1 violations
found, 2 usage or setup error; each ends the run with one line saying why.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields
from functools import partial

from rich.console import Console

from cmdline import (
    PROGRESS_INTERVAL_S,
    Flag,
    Parser,
    append_step_summary,
    console,
    guarded,
    parser_for,
    resolve,
    values,
)
from contracts.client.cli import main as client_main
from contracts.errors import GateError
from contracts.gate import GateRun, run_gate
from contracts.progress import BarProgress, LineProgress, NullProgress
from contracts.provisioning import EXISTING_KINDS
from contracts.reports import markdown, print_summary, write_junit, write_markdown
from contracts.sdk.cli import main as sdk_main
from contracts.settings import DEFAULT_MAX_EXAMPLES, EMBEDDED_TIME_SCALE, GateSettings

PROG = "ftl-gate"
ENV_PREFIX = "FTL_GATE_"


def _existing(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in values.names(text):
        kind, sep, value = item.partition("=")
        if not sep or not value.strip() or kind.strip() not in EXISTING_KINDS:
            values.refuse(f"KIND=ID with KIND one of {', '.join(EXISTING_KINDS)}", item)
        pairs.append((kind.strip(), value.strip()))
    return tuple(pairs)


DECLARED_CHOICES = ("allow", "fail")


DEFAULTS = GateSettings()
_flag = partial(Flag, prefix=ENV_PREFIX)
DEMO = "with the embedded mock, its demo"
FLAGS: tuple[Flag, ...] = (
    _flag(
        "base-url",
        values.http_url,
        "backend to check; without it the gate starts ftl-mock on a free port",
        "embedded mock",
    ),
    _flag("spec", values.input_file, "OpenAPI document of the contract", "the bundled spec/openapi.yaml"),
    _flag(
        "design",
        values.file_or_name,
        "check this design variant of the contract (a name from spec/designs/ or an overlay file); "
        "the embedded mock serves it too",
        "none",
    ),
    _flag("api-key", str, "API key (wak_...) for operations that accept one", f"none; {DEMO} key"),
    _flag("bearer", str, "session JWT for operations that need one", f"none; {DEMO} session"),
    _flag("job-token", str, "job token for operations on a job the gate did not create", f"none; {DEMO} token"),
    _flag("other-api-key", str, "another user's API key, for the ownership checks", f"none; {DEMO} 2nd user's"),
    _flag(
        "other-bearer",
        str,
        "another user's session JWT, for the ownership checks on session-only operations",
        f"none; {DEMO} 2nd user's",
    ),
    _flag("include", values.names, "only these operationIds or tags (repeat or comma-separate)", "all", kind="list"),
    _flag("exclude", values.names, "skip these operationIds or tags (repeat or comma-separate)", "none", kind="list"),
    _flag("max-examples", values.positive_int, "examples per operation and phase", str(DEFAULT_MAX_EXAMPLES)),
    _flag("seed", values.whole_number, "random seed, to reproduce a run", "random"),
    _flag("stateful", values.boolean, "stateful sequences along the spec's links", "on", kind="switch"),
    _flag("junit-xml", values.output_file, "write a JUnit XML report here", "none"),
    _flag("report", values.output_file, "write a Markdown report here", "none"),
    _flag(
        "known-divergences",
        values.input_file,
        "known divergences (reported as known, not failed)",
        "spec/divergences.yaml",
    ),
    _flag("strict", values.boolean, "count known divergences as failures too", "off", kind="switch"),
    _flag(
        "stream-events",
        values.positive_int,
        "stop reading the stream after this many messages",
        str(DEFAULTS.stream_events),
    ),
    _flag(
        "stream-seconds", values.positive_float, "read the stream this long", "two heartbeat intervals plus tolerance"
    ),
    _flag(
        "time-scale",
        values.time_scale,
        "the target's time scale (expected heartbeat = spec interval x scale; 0.05 or 1/20)",
        f"1; {EMBEDDED_TIME_SCALE:g} for the embedded mock, which is started with it",
    ),
    _flag(
        "heartbeat-tolerance",
        values.number_between(0, 10),
        "heartbeat lateness allowed: fraction of the interval, plus 0.25 s",
        "0.5",
    ),
    _flag("delivery-bound", values.positive_float, "seconds an upload's events may take to arrive", "5"),
    _flag("live", values.boolean, "create a job and upload predictions while its stream is open", "on", kind="switch"),
    _flag("stream-job", str, "job whose stream is read when the gate cannot create one", "none; the demo job"),
    _flag(
        "request-timeout",
        values.positive_float,
        "seconds to wait for each answer (a target that never answers fails after this long)",
        f"{DEFAULTS.request_timeout:g}",
    ),
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
        values.choice(*DECLARED_CHOICES),
        "a 5xx the contract declares for a documented condition (503 without a training server): "
        "allow reports and counts it, fail makes it a not_a_server_error failure",
        DEFAULTS.declared_server_errors,
    ),
    _flag("quiet", values.boolean, "no progress and no summary table, only the last line", "off", kind="switch"),
)
EPILOG = (
    "Progress goes to stderr: a bar on a terminal, a line every "
    f"{PROGRESS_INTERVAL_S:g} s in a log. With GITHUB_STEP_SUMMARY set, the Markdown summary is appended to it. "
    "Exit codes: 0 no violations, 1 violations found, 2 usage or setup error. SDK conformance: `ftl-gate sdk --help`; "
    "stream client conformance: `ftl-gate client --help`."
)


def build_parser() -> Parser:
    """The argument parser; `--help` names each flag's default and environment variable."""
    return parser_for(
        PROG, "Check a FineTune Lab backend (or the embedded ftl-mock) against the contract.", EPILOG, FLAGS
    )


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> GateSettings:
    """Settings from flags, then `FTL_GATE_*` variables, then defaults; UsageError naming the culprit."""
    args = build_parser().parse_args(list(argv))
    given = resolve(FLAGS, args, environ)
    if "spec" in given:
        given["spec"] = str(given["spec"])
    assert set(given) <= {field.name for field in fields(GateSettings)}
    if "existing" in given:
        given["existing"] = dict(given["existing"])
    return GateSettings(**given)


def execute(settings: GateSettings, interval_s: float = PROGRESS_INTERVAL_S) -> GateRun:
    """Run the gate with the progress display its reader needs (on stderr): a bar, lines, or nothing."""
    progress_out = console(stderr=True)
    if settings.quiet:
        return run_gate(settings, NullProgress())
    if progress_out.is_terminal:
        with BarProgress(progress_out) as bar:
            return run_gate(settings, bar)
    with LineProgress(PROG, progress_out, interval_s) as lines:
        return run_gate(settings, lines)


def report(settings: GateSettings, run: GateRun, out: Console, environ: Mapping[str, str]) -> None:
    """The summary on the console, the report files asked for, and the CI step summary when there is one."""
    if not settings.quiet:
        print_summary(out, run)
    if settings.junit_xml:
        write_junit(settings.junit_xml, run)
    if settings.report:
        write_markdown(settings.report, run)
    warning = append_step_summary(markdown(run), environ)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; the return value is the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    if args[:1] == ["sdk"]:
        return sdk_main(args[1:], env)
    if args[:1] == ["client"]:
        return client_main(args[1:], env)

    def body() -> int:
        settings = parse_settings(args, env)
        run = execute(settings)
        report(settings, run, console(), env)
        print(f"{PROG}: {run.reason}")
        return run.exit_code

    return guarded(PROG, body, (GateError,))


if __name__ == "__main__":
    raise SystemExit(main())
