"""`ftl-gate sdk`: check an SDK's traffic (its own `--run` command, or a `--manifest`) against the contract.

`ftl-gate sdk coverage` prints the coverage matrix of a manifest without running anything. Every flag
has an `FTL_GATE_SDK_<FLAG>` environment variable. Exit codes: 0 conforms, 1 findings, 2 usage or setup error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from cmdline import Flag, Parser, UsageError, append_step_summary, console, guarded, parser_for, resolve, values
from contracts.errors import GateError
from contracts.gate import GateRun, load_contract
from contracts.reports import markdown, print_summary, write_junit, write_markdown
from contracts.sdk.claims import check_note
from contracts.sdk.coverage import Coverage, CoverageMatrix, client_of, pairs_from_manifest
from contracts.sdk.journal_check import JournalChecker, SdkAdmin
from contracts.sdk.manifest import Manifest
from contracts.sdk.manifest import load as load_manifest
from contracts.sdk.report import SdkReport, write_text
from contracts.sdk.runner import DEFAULT_CALL_TIMEOUT, ManifestRunner
from contracts.sdk.runners import RUNNERS_DIR, RUNNERS_VARIABLE, python_command
from contracts.sdk.target import Demo, embedded_mock
from spec import Contract

PROG = "ftl-gate sdk"
ENV_PREFIX = "FTL_GATE_SDK_"
# Exit statuses of `sh -c` for a command it could not find or execute.
NOT_STARTED = (126, 127)
CLAIMS_DIR = Path(__file__).with_name("claims")
# One SDK method (or client) in a run: its name, the operations it reached, the checks it failed.
Triple = tuple[str, list[str], list[str]]


def _claims(text: str) -> Path:
    bundled = CLAIMS_DIR / f"{text}.md"
    found = values.file_or_name(text)
    if Path(found).is_file():
        return Path(found)
    if bundled.is_file():
        return bundled
    return values.input_file(text)


@dataclass(frozen=True)
class SdkSettings:
    """What `ftl-gate sdk` runs and where it reports."""

    run: str | None = None
    manifest: str | None = None
    runner: str | None = None
    spec: str | None = None
    time_scale: float = 1.0
    timeout: float = 300.0
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    junit_xml: Path | None = None
    report: Path | None = None
    json: Path | None = None
    coverage: Path | None = None
    coverage_json: Path | None = None
    claims: Path | None = None
    quiet: bool = False


_flag = partial(Flag, prefix=ENV_PREFIX)
FLAGS: tuple[Flag, ...] = (
    _flag("run", str, "the SDK's own test or example command, run with FINETUNE_LAB_API_URL etc. set", "none"),
    _flag(
        "manifest",
        values.file_or_name,
        "conformance manifest to run (a file, or a bundled name)",
        "none",
    ),
    _flag(
        "runner",
        str,
        "command of the runner that calls the SDK in its own language (sh -c; README: Runner protocol)",
        "the bundled Python runner for a Python manifest",
    ),
    _flag("spec", values.input_file, "OpenAPI document of the contract", "the bundled spec/openapi.yaml"),
    _flag("time-scale", values.time_scale, "time scale of the embedded ftl-mock (0.05 or 1/20)", "1"),
    _flag("timeout", values.positive_float, "seconds the --run command may take", "300"),
    _flag(
        "call-timeout",
        values.positive_float,
        "seconds the runner may take to answer one message (a call, hello, a client)",
        f"{DEFAULT_CALL_TIMEOUT:g}",
    ),
    _flag("junit-xml", values.output_file, "write a JUnit XML report here", "none"),
    _flag("report", values.output_file, "write a Markdown report here", "none"),
    _flag("json", values.output_file, "write every finding as JSON here", "none"),
    _flag("coverage", values.output_file, "write the coverage matrix (Markdown) here", "none"),
    _flag("coverage-json", values.output_file, "write the coverage matrix (JSON) here", "none"),
    _flag(
        "claims", _claims, "design note whose missing-method claims the coverage checks (file or bundled name)", "none"
    ),
    _flag("quiet", values.boolean, "no summary table, only the last line", "off", kind="switch"),
)
COVERAGE_FLAGS = ("spec", "coverage", "coverage-json", "claims")
# `ftl-gate sdk coverage` takes several SDKs: manifests (what they declare) and run reports (what they did).
COVERAGE_SOURCES: tuple[Flag, ...] = (
    _flag(
        "manifest",
        lambda text: tuple(values.file_or_name(part) for part in text.split(",")),
        "manifest whose declared operations make one SDK column (file or bundled name; repeat for more SDKs)",
        "none",
        kind="list",
    ),
    _flag(
        "results",
        lambda text: tuple(values.input_file(part) for part in text.split(",")),
        "--json report of an `ftl-gate sdk --manifest` run: one SDK column with what conformed (repeat)",
        "none",
        kind="list",
    ),
)


def build_parser(names: Sequence[str] | None = None, coverage: bool = False) -> Parser:
    """The parser of `ftl-gate sdk` (or of `ftl-gate sdk coverage`)."""
    epilog = "Exit codes: 0 conforms, 1 findings, 2 usage or setup error."
    if coverage:
        return parser_for(
            f"{PROG} coverage",
            "Print which operations each SDK's methods cover, side by side, uncovered ones by tag.",
            epilog,
            [*COVERAGE_SOURCES, *_selected(names)],
        )
    return parser_for(
        PROG,
        "Start ftl-mock, run an SDK against it and check every request and result against the contract.",
        epilog + " With GITHUB_STEP_SUMMARY set, the Markdown summary is appended to it."
        " `ftl-gate sdk coverage --help` for the coverage matrix alone.",
        _selected(names),
    )


def _selected(names: Sequence[str] | None) -> list[Flag]:
    return [flag for flag in FLAGS if names is None or flag.name in names]


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> SdkSettings:
    """Settings from flags, then `FTL_GATE_SDK_*` variables, then defaults; UsageError naming the culprit."""
    args = build_parser().parse_args(list(argv))
    given = resolve(FLAGS, args, environ)
    if "spec" in given:
        given["spec"] = str(given["spec"])
    assert set(given) <= {f.name for f in fields(SdkSettings)}
    settings = SdkSettings(**given)
    if not settings.run and not settings.manifest:
        raise UsageError("give --run COMMAND, --manifest FILE, or both (or FTL_GATE_SDK_RUN / FTL_GATE_SDK_MANIFEST)")
    if settings.runner and not settings.manifest:
        raise UsageError("--runner needs --manifest FILE: the runner calls the methods a manifest lists")
    return settings


@dataclass(frozen=True)
class CoverageSettings:
    """What `ftl-gate sdk coverage` sets side by side and where it writes."""

    manifest: tuple[str, ...] = ()
    results: tuple[Path, ...] = ()
    spec: str | None = None
    coverage: Path | None = None
    coverage_json: Path | None = None
    claims: Path | None = None


def parse_coverage_settings(argv: Sequence[str], environ: Mapping[str, str]) -> CoverageSettings:
    """The settings of `ftl-gate sdk coverage`; UsageError when it has no SDK to show."""
    args = build_parser(COVERAGE_FLAGS, coverage=True).parse_args(list(argv))
    given = resolve([*COVERAGE_SOURCES, *_selected(COVERAGE_FLAGS)], args, environ)
    if "spec" in given:
        given["spec"] = str(given["spec"])
    settings = CoverageSettings(**given)
    if not settings.manifest and not settings.results:
        raise UsageError(
            "coverage needs --manifest FILE or --results REPORT, one per SDK "
            "(or FTL_GATE_SDK_MANIFEST / FTL_GATE_SDK_RESULTS)"
        )
    return settings


def run_command(command: str, env: Mapping[str, str], timeout: float) -> tuple[int | None, str]:
    """Run `sh -c command`; (exit status or None on timeout, combined output)."""
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        raise GateError(f"--run: cannot start /bin/sh: {exc.strerror}") from None
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output
    if process.returncode in NOT_STARTED:
        last = output.strip().splitlines()[-1] if output.strip() else f"exit status {process.returncode}"
        raise GateError(f"--run: the command could not be started: {last}")
    return process.returncode, output


def check(settings: SdkSettings, environ: Mapping[str, str]) -> tuple[SdkReport, Coverage, float]:
    """Run the manifest and/or the command against a fresh mock; the report, the coverage, the seconds taken."""
    started = time.monotonic()
    contract = load_contract(settings.spec)
    manifest = load_manifest(settings.manifest, contract) if settings.manifest else None
    runner = _runner_command(settings, manifest) if manifest else None
    parts = (manifest.title if manifest else None, f"`{settings.run}`" if settings.run else None)
    subject = " and ".join(part for part in parts if part)
    triples: list[Triple] = []
    with embedded_mock(contract.source, settings.time_scale) as demo:
        report = SdkReport(contract, f"{subject} on embedded ftl-mock at {demo.url}")
        admin = SdkAdmin(demo.url)
        try:
            if manifest is not None and runner is not None:
                triples += _run_manifest(contract, manifest, demo, admin, report, runner, settings, environ)
            if settings.run:
                command_env = {**environ, **demo.environment(), RUNNERS_VARIABLE: str(RUNNERS_DIR)}
                triples += _run_command(settings, contract, command_env, admin, report)
        finally:
            admin.close()
    coverage = Coverage.from_methods(contract, subject, "requests observed in this run", triples)
    return report, coverage, time.monotonic() - started


def _runner_command(settings: SdkSettings, manifest: Manifest) -> tuple[str, str]:
    """(command, how it is named in errors): `--runner`, else the Python runner for a Python manifest."""
    if settings.runner:
        return settings.runner, "--runner"
    if manifest.language == "python":
        return python_command(), "the Python runner"
    raise UsageError(
        f"--manifest {manifest.title} is a {manifest.language} manifest: give --runner COMMAND, the runner "
        f"that calls it (e.g. --runner 'node \"${RUNNERS_VARIABLE}/node.mjs\" dist/index.mjs')"
    )


def _run_manifest(
    contract: Contract,
    manifest: Manifest,
    demo: Demo,
    admin: SdkAdmin,
    report: SdkReport,
    runner: tuple[str, str],
    settings: SdkSettings,
    environ: Mapping[str, str],
) -> list[Triple]:
    command, what = runner
    run = ManifestRunner(contract, manifest, demo, admin, command, settings.call_timeout, environ, what).run()
    report.add_manifest_run(run, demo.url)
    return [(outcome.method.name, sorted(outcome.reached), outcome.failed_checks) for outcome in run.methods]


def _run_command(
    settings: SdkSettings, contract: Contract, env: Mapping[str, str], admin: SdkAdmin, report: SdkReport
) -> list[Triple]:
    command = str(settings.run)
    admin.clear_journal()
    exit_code, output = run_command(command, env, settings.timeout)
    entries = admin.journal()
    if not entries and exit_code is None:
        raise GateError(
            f"--run: the command timed out after {settings.timeout:g} s (--timeout) without sending a request "
            "to the mock; does it read FINETUNE_LAB_API_URL?"
        )
    if not entries:
        raise GateError(
            f"--run: the command sent no request to the mock (exit status {exit_code}); "
            "does it read FINETUNE_LAB_API_URL?"
        )
    checked = JournalChecker(contract, admin.known_credentials()).check_all(entries)
    report.add_command(command, exit_code, output, settings.timeout)
    report.add_journal(checked, admin.url)
    return [
        (client_of(r.entry), [r.operation_id], [f.check for f in r.findings if f.is_failure])
        for r in checked
        if r.operation_id
    ]


def _write_coverage(settings: SdkSettings | CoverageSettings, matrix: CoverageMatrix, console: Console | None) -> None:
    claims = (
        [check_note(settings.claims, matrix.contract, column.methods) for column in matrix.columns]
        if settings.claims is not None
        else None
    )
    if settings.coverage:
        write_text(settings.coverage, matrix.markdown(claims))
    if settings.coverage_json:
        write_text(settings.coverage_json, json.dumps(matrix.as_json(claims), indent=2) + "\n")
    if console is not None:
        console.print(matrix.markdown(claims), markup=False, soft_wrap=True)


def coverage_main(argv: Sequence[str], environ: Mapping[str, str], console: Console) -> int:
    """`ftl-gate sdk coverage`: the matrix of manifests' declared operations and runs' reports, side by side."""
    settings = parse_coverage_settings(argv, environ)
    contract = load_contract(settings.spec)
    columns = []
    for name in settings.manifest:
        manifest = load_manifest(name, contract)
        reached = pairs_from_manifest(manifest.methods)
        columns.append(Coverage.build(contract, manifest.title, f"manifest {manifest.source}", reached))
    columns += [Coverage.from_report(contract, _read_report(path), str(path)) for path in settings.results]
    shown = console if not (settings.coverage or settings.coverage_json) else None
    _write_coverage(settings, CoverageMatrix(contract, columns), shown)
    return 0


def _read_report(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateError(f"--results: cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise GateError(f"--results: {path} is not JSON (give the --json report of an ftl-gate sdk run)") from None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run `ftl-gate sdk`; the return value is the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    out = console()

    def body() -> int:
        if args[:1] == ["coverage"]:
            return coverage_main(args[1:], env, out)
        settings = parse_settings(args, env)
        report, coverage, duration = check(settings, env)
        run = report.gate_run(duration)
        if not settings.quiet:
            print_summary(out, run)
        _write_reports(settings, report, run, duration)
        _write_coverage(settings, CoverageMatrix(coverage.contract, [coverage]), None)
        warning = append_step_summary(markdown(run), env)
        if warning:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        print(f"{PROG}: {run.reason}")
        return run.exit_code

    return guarded(PROG, body, (GateError,))


def _write_reports(settings: SdkSettings, report: SdkReport, run: GateRun, duration: float) -> None:
    if settings.junit_xml:
        write_junit(settings.junit_xml, run)
    if settings.report:
        write_markdown(settings.report, run)
    if settings.json:
        report.write_json(settings.json, duration)


if __name__ == "__main__":
    raise SystemExit(main())
