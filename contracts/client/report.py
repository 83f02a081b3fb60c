"""Reports of a client run: the console table (a row per case), Markdown, JUnit XML and JSON.

A case's checks are passed, failed, warned (a robustness gap) or skipped (nothing to judge, with the reason);
the run fails when any check failed. Each finding names the case, the check and what happened when.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cmdline import print_whole
from contracts.client.checks import CHECKS
from contracts.client.runner import FAILED, PASSED, SKIPPED, WARNED, CaseResult
from contracts.reports import write_file

VERDICTS = (PASSED, FAILED, WARNED, SKIPPED)
STYLE = {PASSED: "green", FAILED: "bold red", WARNED: "yellow", SKIPPED: "dim"}
IGNORED_SHOWN = 3
STDERR_SHOWN = 5


@dataclass
class ClientRun:
    """The outcome of one `ftl-gate client` run."""

    command: str
    target: str
    results: list[CaseResult]
    duration: float

    def count(self, verdict: str) -> int:
        """How many (case, check) pairs got `verdict`."""
        return sum(len(result.verdicts(verdict)) for result in self.results)

    @property
    def connections(self) -> int:
        """Stream requests the client made in all."""
        return sum(len(result.observation.attempts) for result in self.results)

    @property
    def exit_code(self) -> int:
        """1 when a check failed, else 0 (warnings allowed)."""
        return 1 if self.count(FAILED) else 0

    @property
    def reason(self) -> str:
        """One line saying why the run passed or failed."""
        tail = f"{len(self.results)} cases, {self.connections} connections in {self.duration:.1f} s"
        warned = self.count(WARNED)
        warnings = f", {warned} warning(s)" if warned else ""
        if self.exit_code:
            failed = [r for r in self.results if r.verdicts(FAILED)]
            checks = ", ".join(sorted({o.check.name for r in failed for o in r.verdicts(FAILED)}))
            return f"failed: {self.count(FAILED)} check(s) broken in {len(failed)} case(s) ({checks}){warnings}; {tail}"
        return f"passed: {self.count(PASSED)} checks held{warnings}; {tail}"

    def as_json(self) -> dict[str, Any]:
        """Every case, check and finding as plain data."""
        return {
            "command": self.command,
            "target": self.target,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "duration_s": round(self.duration, 3),
            "cases": [_case_json(result) for result in self.results],
            "checks": {c.name: {"level": c.level.value, "rule": c.rule} for c in CHECKS.values()},
        }


def _case_json(result: CaseResult) -> dict[str, Any]:
    obs = result.observation
    return {
        "case": result.case.name,
        "scenario": str(result.case.path),
        "description": result.case.description,
        "connections": [
            {"status": a.status, "end": a.end, "last_event_id": a.headers.get("last-event-id")} for a in obs.attempts
        ],
        "events": {"expected": len(obs.expected), "delivered": len(obs.events)},
        "errors": [line.message for line in obs.errors],
        "closed": obs.closed is not None,
        "ignored_output": [line.shown() for line in obs.ignored],
        "exit_code": obs.exit_code,
        # Stream requests the journal and the relay did not both see (a request the mock refused unread).
        "unpaired_requests": obs.unpaired,
        "checks": {o.check.name: {"verdict": o.verdict, "messages": list(o.messages)} for o in result.outcomes},
    }


def _broken(result: CaseResult) -> str:
    failed = [o.check.name for o in result.verdicts(FAILED)]
    warned = [f"({o.check.name})" for o in result.verdicts(WARNED)]
    return ", ".join(failed + warned)


def _events(result: CaseResult) -> str:
    obs = result.observation
    return f"{len(obs.events)}/{len(obs.expected)}"


# --- console ---------------------------------------------------------------------------------


def print_summary(console: Console, run: ClientRun) -> None:
    """The cases table, then each failure, each warning, and output the protocol ignored."""
    table = Table(show_lines=False)
    table.add_column("case")
    table.add_column("connections", justify="right")
    table.add_column("events", justify="right")
    for verdict in VERDICTS:
        table.add_column(verdict, justify="right", style=STYLE[verdict])
    table.add_column("broken checks (warnings)", style="red")
    for result in run.results:
        counts = Counter(o.verdict for o in result.outcomes)
        cells = (str(counts.get(v, 0) or "") for v in VERDICTS)
        table.add_row(result.case.name, str(len(result.observation.attempts)), _events(result), *cells, _broken(result))
    table.add_section()
    table.add_row("[bold]all", f"[bold]{run.connections}", "", *(f"[bold]{run.count(v)}" for v in VERDICTS), "")
    title = f"ftl-gate client: `{run.command}` against {run.target}"
    console.print(title, soft_wrap=True, markup=False, style="italic")
    print_whole(console, table)
    _print_findings(console, run, FAILED, "[bold red]failures", "[bold red]✗")
    _print_findings(console, run, WARNED, "[yellow]warnings", "[yellow]!")
    _print_ignored(console, run)


def _print_findings(console: Console, run: ClientRun, verdict: str, title: str, mark: str) -> None:
    found = [(r, o) for r in run.results for o in r.verdicts(verdict)]
    if not found:
        return
    console.rule(title)
    for result, outcome in found:
        console.print(f"{mark} {escape(result.case.name)}[/] · [bold]{outcome.check.name}[/]", soft_wrap=True)
        for message in outcome.messages:
            console.print(f"    {message}", soft_wrap=True, highlight=False, markup=False)
    stderr = [(r, r.observation.stderr_tail) for r, _ in found if r.observation.stderr_tail]
    if verdict == FAILED and stderr:
        result, tail = stderr[0]
        console.print(f"[dim]the client's stderr in {escape(result.case.name)} (last lines):")
        console.print("\n".join("    " + line for line in tail.splitlines()[-STDERR_SHOWN:]), style="dim", markup=False)


def _print_ignored(console: Console, run: ClientRun) -> None:
    noisy = [r for r in run.results if r.observation.ignored]
    if not noisy:
        return
    console.rule("[dim]output the protocol ignores")
    for result in noisy:
        lines = result.observation.ignored
        shown = "; ".join(f"{line.shown()!r} ({line.why})" for line in lines[:IGNORED_SHOWN])
        more = f" … ({len(lines)} in all)" if len(lines) > IGNORED_SHOWN else ""
        console.print(f"[dim]- {escape(result.case.name)}: {escape(shown)}{escape(more)}", soft_wrap=True)


# --- Markdown --------------------------------------------------------------------------------


def markdown(run: ClientRun) -> str:
    """The Markdown report: the run, a row per case, failures, warnings, ignored output, the checks."""
    lines = [
        "# ftl-gate client report",
        "",
        f"- command: `{run.command}`",
        f"- target: {run.target}",
        f"- result: **{'FAILED' if run.exit_code else 'passed'}** — {run.reason}",
        "",
        "| case | connections | events (delivered/expected) | passed | failed | warned | skipped "
        "| broken checks (warnings) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in run.results:
        counts = Counter(o.verdict for o in result.outcomes)
        cells = " | ".join(str(counts.get(v, 0)) for v in VERDICTS)
        lines.append(
            f"| `{result.case.name}` | {len(result.observation.attempts)} | {_events(result)} | {cells} "
            f"| {_broken(result)} |"
        )
    for verdict, title in ((FAILED, "Failures"), (WARNED, "Warnings")):
        found = [(r, o) for r in run.results for o in r.verdicts(verdict)]
        if found:
            lines += ["", f"## {title}"]
            for result, outcome in found:
                heading = f"### `{result.case.name}` · `{outcome.check.name}`"
                lines += ["", heading, "", "```text", *outcome.messages, "```"]
    noisy = [r for r in run.results if r.observation.ignored]
    if noisy:
        lines += ["", "## Output the protocol ignores", "", "| case | line | why |", "|---|---|---|"]
        for result in noisy:
            for line in result.observation.ignored[:IGNORED_SHOWN]:
                text = line.shown().replace("|", "\\|")
                lines.append(f"| `{result.case.name}` | `{text}` | {line.why} |")
    lines += ["", "## Checks", "", "| check | level | rule |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.level.value} | {c.rule} |" for c in CHECKS.values()]
    return "\n".join(lines) + "\n"


# --- JUnit XML -------------------------------------------------------------------------------


def junit_xml(run: ClientRun) -> ET.ElementTree:
    """A test suite per case, a test case per check; warnings are passes with the finding in system-out."""
    suites = ET.Element("testsuites", name="ftl-gate client", time=f"{run.duration:.3f}")
    for result in run.results:
        counts = Counter(o.verdict for o in result.outcomes)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=result.case.name,
            tests=str(len(result.outcomes)),
            failures=str(counts.get(FAILED, 0)),
            skipped=str(counts.get(SKIPPED, 0)),
            errors="0",
        )
        for outcome in result.outcomes:
            case = ET.SubElement(suite, "testcase", classname=result.case.name, name=outcome.check.name)
            text = "\n".join(outcome.messages)
            if outcome.verdict == FAILED:
                ET.SubElement(case, "failure", message=outcome.messages[0][:500]).text = text
            elif outcome.verdict == SKIPPED:
                ET.SubElement(case, "skipped", message=text[:500])
            elif outcome.verdict == WARNED:
                ET.SubElement(case, "system-out").text = f"warning: {text}"
    suites.set("tests", str(sum(len(r.outcomes) for r in run.results)))
    suites.set("failures", str(run.count(FAILED)))
    return ET.ElementTree(suites)


def write_junit(path: Path, run: ClientRun) -> None:
    """Write the JUnit XML report."""
    tree = junit_xml(run)
    ET.indent(tree)
    write_file(path, lambda target: tree.write(target, encoding="utf-8", xml_declaration=True))


def write_markdown(path: Path, run: ClientRun) -> None:
    """Write the Markdown report."""
    text = markdown(run)
    write_file(path, lambda target: Path(target).write_text(text, encoding="utf-8"))


def write_json(path: Path, run: ClientRun) -> None:
    """Write every finding as JSON."""
    text = json.dumps(run.as_json(), indent=2) + "\n"
    write_file(path, lambda target: Path(target).write_text(text, encoding="utf-8"))
