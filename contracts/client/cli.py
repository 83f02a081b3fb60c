"""`ftl-gate client`: run any SSE client against every scripted stream and judge what it hands its user.

Every flag has an `FTL_GATE_CLIENT_<FLAG>` environment variable. Exit codes: 0 every case conforms (warnings
allowed), 1 a check failed, 2 usage or setup error (one line on stderr).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

from cmdline import Flag, Parser, UsageError, append_step_summary, console, guarded, parser_for, resolve, values
from contracts import embedded
from contracts.client.cases import DEFAULT_DIR, discover
from contracts.client.mock import CaseMock
from contracts.client.report import ClientRun, markdown, print_summary, write_json, write_junit, write_markdown
from contracts.client.rules import ClientRules
from contracts.client.runner import CaseResult, ClientRunner
from contracts.errors import GateError
from contracts.gate import load_contract

PROG = "ftl-gate client"
ENV_PREFIX = "FTL_GATE_CLIENT_"
DEFAULT_TIME_SCALE = 0.05


def _folder(text: str) -> Path:
    path = values.absolute(text)
    if not path.is_dir():
        values.refuse("a folder of scenario files", text, "a file" if path.exists() else "not found")
    return path


@dataclass(frozen=True)
class ClientSettings:
    """What `ftl-gate client` runs and where it reports."""

    run: str = ""
    scenarios: Path = DEFAULT_DIR
    case: tuple[str, ...] = ()
    spec: str | None = None
    time_scale: float = DEFAULT_TIME_SCALE
    parallel: int = 4
    connect_timeout: float = 10.0
    grace: float = 1.0
    junit_xml: Path | None = None
    report: Path | None = None
    json: Path | None = None
    quiet: bool = False


_flag = partial(Flag, prefix=ENV_PREFIX)
FLAGS: tuple[Flag, ...] = (
    _flag("run", str, "the client command (sh -c), started once per case with FTL_STREAM_URL etc. set", "none"),
    _flag("scenarios", _folder, "folder of scenario files: one case per *.yaml", "the bundled spec/scenarios"),
    _flag("case", values.names, "only these cases (scenario names; repeat or comma-separate)", "all", kind="list"),
    _flag("spec", values.input_file, "OpenAPI document of the contract", "the bundled spec/openapi.yaml"),
    _flag(
        "time-scale",
        values.time_scale,
        "time scale of the embedded ftl-mock and of every client bound (0.05 or 1/20)",
        f"{DEFAULT_TIME_SCALE:g}",
    ),
    _flag(
        "parallel",
        values.positive_int,
        "cases run at the same time, each with its own job and client process (1: the most precise timing)",
        f"{ClientSettings.parallel}",
    ),
    _flag(
        "connect-timeout",
        values.positive_float,
        "seconds a case waits for the client's first request",
        f"{ClientSettings.connect_timeout:g}",
    ),
    _flag(
        "grace",
        values.positive_float,
        "seconds between SIGTERM and SIGKILL at a case's end",
        f"{ClientSettings.grace:g}",
    ),
    _flag("junit-xml", values.output_file, "write a JUnit XML report here", "none"),
    _flag("report", values.output_file, "write a Markdown report here", "none"),
    _flag("json", values.output_file, "write every case, check and finding as JSON here", "none"),
    _flag("quiet", values.boolean, "no summary table, only the last line", "off", kind="switch"),
)


def build_parser() -> Parser:
    """The parser of `ftl-gate client`; `--help` names each flag's default and variable."""
    return parser_for(
        PROG,
        "Run an SSE client against every scripted stream of ftl-mock and check what it hands its user against "
        "the WHATWG rules and the contract's client rules.",
        "The client prints one JSON object per line: "
        '{"type": "event", "event": NAME, "data": TEXT} (or "json": VALUE), {"type": "error", "message": TEXT}, '
        '{"type": "closed"}. Exit codes: 0 conforms (warnings allowed), 1 a check failed, 2 usage or setup error. '
        "With GITHUB_STEP_SUMMARY set, the Markdown summary is appended to it.",
        FLAGS,
    )


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> ClientSettings:
    """Settings from flags, then `FTL_GATE_CLIENT_*` variables, then defaults; UsageError naming the culprit."""
    args = build_parser().parse_args(list(argv))
    given = resolve(FLAGS, args, environ)
    if "spec" in given:
        given["spec"] = str(given["spec"])
    assert set(given) <= {f.name for f in fields(ClientSettings)}
    settings = ClientSettings(**given)
    if not settings.run.strip():
        raise UsageError("give --run COMMAND (or FTL_GATE_CLIENT_RUN): the client to check")
    return settings


def check(settings: ClientSettings, environ: Mapping[str, str]) -> ClientRun:
    """Start the mock, run the command through every case, judge each."""
    started = time.monotonic()
    contract = load_contract(settings.spec)
    bounds = ClientRules.of(contract.stream).scaled(settings.time_scale)
    cases = discover(settings.scenarios, contract.stream, bounds)
    if settings.case:
        unknown = sorted(set(settings.case) - {case.name for case in cases})
        if unknown:
            known = ", ".join(case.name for case in cases)
            raise GateError(f"--case: no scenario {', '.join(unknown)} in {settings.scenarios} (it has {known})")
        cases = [case for case in cases if case.name in settings.case]
    runner = ClientRunner(
        settings.run,
        cases,
        bounds,
        environ,
        parallel=settings.parallel,
        connect_timeout=settings.connect_timeout,
        grace=settings.grace,
    )
    with embedded.start(spec=settings.spec, time_scale=settings.time_scale) as mock:
        api_key = mock.credentials.api_key
        if not api_key:
            raise GateError("the embedded mock announced no API key")
        target = f"embedded ftl-mock at {mock.url} (time scale {settings.time_scale:g})"
        results = asyncio.run(_run(runner, CaseMock(mock.url, api_key, contract.stream.operation)))
    return ClientRun(settings.run, target, results, time.monotonic() - started)


async def _run(runner: ClientRunner, mock: CaseMock) -> list[CaseResult]:
    try:
        return await runner.run(mock)
    finally:
        await mock.aclose()


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run `ftl-gate client`; the return value is the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    out = console()

    def body() -> int:
        settings = parse_settings(args, env)
        run = check(settings, env)
        if not settings.quiet:
            print_summary(out, run)
        if settings.junit_xml:
            write_junit(settings.junit_xml, run)
        if settings.report:
            write_markdown(settings.report, run)
        if settings.json:
            write_json(settings.json, run)
        warning = append_step_summary(markdown(run), env)
        if warning:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        print(f"{PROG}: {run.reason}")
        return run.exit_code

    return guarded(PROG, body, (GateError,))


if __name__ == "__main__":
    raise SystemExit(main())
