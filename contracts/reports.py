"""Reports of a gate run: the console summary (rich), JUnit XML and Markdown.

Every report lists each operation's checks as passed, failed, known or skipped; each failure comes
with the operation, the check, the request as a curl command and an excerpt of the response.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cmdline import print_whole
from contracts.divergences import Row
from contracts.errors import GateError
from contracts.gate import GateRun
from contracts.probes import ProbeOutcome, ProbeState
from contracts.results import Verdict, Violation

STYLE = {Verdict.PASSED: "green", Verdict.FAILED: "bold red", Verdict.KNOWN: "yellow", Verdict.SKIPPED: "dim"}
ORDER = (Verdict.PASSED, Verdict.FAILED, Verdict.KNOWN, Verdict.SKIPPED)
# Distinct violations of one check shown on the console; the reports keep them all.
CONSOLE_VIOLATIONS = 2
STALE = "fixed upstream? remove the entry"


def by_operation(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows grouped by operation, in operation order."""
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.tally.operation].append(row)
    return dict(sorted(grouped.items()))


# --- console ---------------------------------------------------------------------------------


def print_summary(console: Console, run: GateRun) -> None:
    """The operations x checks table, then failures, known divergences, skips and warnings."""
    title = f"ftl-gate against {run.target}" + (f" · seed {run.seed}" if run.seed is not None else "")
    table = Table(show_lines=False)
    # The success answers each operation's checks saw (a gate run against a target; not SDK conformance).
    counted = bool(run.successes)
    table.add_column("operation")
    if counted:
        table.add_column("2xx", justify="right")
    for verdict in ORDER:
        table.add_column(verdict.value, justify="right", style=STYLE[verdict])
    table.add_column("broken checks", style="red")
    for operation, rows in by_operation(run.rows).items():
        counts = Counter(row.verdict for row in rows)
        broken = ", ".join(row.tally.check for row in rows if row.verdict == Verdict.FAILED)
        successes = [str(run.successes.get(operation, ""))] if counted else []
        table.add_row(operation, *successes, *(str(counts.get(v, 0) or "") for v in ORDER), broken)
    table.add_section()
    totals = Counter(row.verdict for row in run.rows)
    total_successes = [f"[bold]{sum(run.successes.values())}"] if counted else []
    table.add_row("[bold]all", *total_successes, *(f"[bold]{totals.get(v, 0)}" for v in ORDER), "")
    console.print(title, soft_wrap=True, markup=False, style="italic")
    print_whole(console, table)
    _print_failures(console, [row for row in run.rows if row.verdict == Verdict.FAILED])
    _print_known(console, [row for row in run.rows if row.verdict == Verdict.KNOWN])
    _print_probes(console, run.probes, strict=run.strict)
    _print_declared(console, run)
    _print_skips(console, [row for row in run.rows if row.verdict == Verdict.SKIPPED])
    for warning in run.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def _print_failures(console: Console, rows: list[Row]) -> None:
    if not rows:
        return
    console.rule("[bold red]failures")
    for row in rows:
        violations = [*row.new, *(v for v, _ in row.known)]
        count = row.tally.violation_count
        console.print(
            f"[bold red]✗ {row.tally.operation}[/] · [bold]{row.tally.check}[/] "
            f"[dim]({count} violation{'s' if count != 1 else ''})[/]"
        )
        for violation in violations[:CONSOLE_VIOLATIONS]:
            console.print(_indent(violation.message), soft_wrap=True, highlight=False, markup=False)
            if violation.curl:
                command = _indent("$ " + violation.curl.replace("\n", "\n$ "))
                console.print(command, style="cyan", soft_wrap=True, markup=False, highlight=False)
            if violation.response:
                console.print(_indent(violation.response), style="dim", soft_wrap=True, markup=False)
        if len(violations) > CONSOLE_VIOLATIONS:
            console.print(f"    [dim]… {len(violations) - CONSOLE_VIOLATIONS} more distinct in --report/--junit-xml")
        console.print()


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _print_known(console: Console, rows: list[Row]) -> None:
    if not rows:
        return
    console.rule("[yellow]known divergences")
    for row in rows:
        entries = list(dict.fromkeys(entry for _, entry in row.known))
        for divergence in entries:
            detail = f"{row.tally.known_by[divergence.id]} excused: {divergence.summary}; {divergence.reference}"
            console.print(
                f"[yellow]~ {row.tally.operation}[/] · {row.tally.check} · {divergence.id} [dim]({escape(detail)})[/]",
                soft_wrap=True,
            )


def _print_probes(console: Console, probes: list[ProbeOutcome], *, strict: bool) -> None:
    if not probes:
        return
    counts = Counter(outcome.state for outcome in probes)
    console.rule("[yellow]divergence probes")
    console.print(
        f"{counts.get(ProbeState.CONFIRMED, 0)} confirmed, {counts.get(ProbeState.NOT_REPRODUCED, 0)} not reproduced, "
        f"{counts.get(ProbeState.NOT_PROBED, 0)} not probed"
    )
    for outcome in probes:
        if outcome.state == ProbeState.NOT_REPRODUCED:
            label = "[bold red]✗" if strict else "[yellow]!"
            console.print(
                f"{label} {outcome.divergence.id}[/] ({outcome.divergence.operation}): not reproduced, "
                f"{escape(outcome.detail)}: {STALE}",
                soft_wrap=True,
            )
            if outcome.curl and strict:
                console.print(_indent("$ " + outcome.curl), style="cyan", soft_wrap=True, markup=False, highlight=False)
    reasons: dict[str, list[str]] = defaultdict(list)
    for outcome in probes:
        if outcome.state == ProbeState.NOT_PROBED:
            reasons[outcome.detail].append(outcome.divergence.id)
    for reason, ids in sorted(reasons.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(ids[:3]) + (f", … ({len(ids)} in all)" if len(ids) > 3 else "")
        console.print(f"[dim]- not probed: {escape(reason)}: {escape(shown)}", soft_wrap=True)


def _print_declared(console: Console, run: GateRun) -> None:
    if not run.declared:
        return
    console.rule("[yellow]declared server errors")
    for item in run.declared:
        console.print(
            f"[yellow]! {item.operation}[/] · HTTP {item.status} x{item.count}: {escape(item.condition)} "
            "[dim](--declared-server-errors fail makes these fail)[/]",
            soft_wrap=True,
        )


def _print_skips(console: Console, rows: list[Row]) -> None:
    if not rows:
        return
    reasons: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        reasons[row.tally.skip_reasons[0] if row.tally.skip_reasons else "not run"].append(
            f"{row.tally.operation}·{row.tally.check}"
        )
    console.rule("[dim]skipped checks")
    for reason, where in sorted(reasons.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(where[:4]) + (f", … ({len(where)} in all)" if len(where) > 4 else "")
        console.print(f"[dim]- {escape(reason)}: {escape(shown)}", soft_wrap=True)


# --- JUnit XML -------------------------------------------------------------------------------


def junit_xml(run: GateRun) -> ET.ElementTree:
    """One test case per operation and check; failures and skips as JUnit declares them."""
    suites = ET.Element("testsuites", name="ftl-gate", time=f"{run.duration:.3f}")
    for operation, rows in by_operation(run.rows).items():
        counts = Counter(row.verdict for row in rows)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=operation,
            tests=str(len(rows)),
            failures=str(counts.get(Verdict.FAILED, 0)),
            skipped=str(counts.get(Verdict.SKIPPED, 0) + counts.get(Verdict.KNOWN, 0)),
            errors="0",
        )
        for row in rows:
            case = ET.SubElement(suite, "testcase", classname=operation, name=row.tally.check)
            if row.verdict == Verdict.FAILED:
                violations = [*row.new, *(v for v, _ in row.known)]
                failure = ET.SubElement(case, "failure", message=violations[0].message.splitlines()[0][:500])
                failure.text = "\n\n".join(_text(v) for v in violations)
            elif row.verdict == Verdict.KNOWN:
                divergence = row.known[0][1]
                ET.SubElement(
                    case,
                    "skipped",
                    message=f"known divergence {divergence.id} ({divergence.reference}): {divergence.platform}",
                )
            elif row.verdict == Verdict.SKIPPED:
                ET.SubElement(case, "skipped", message="; ".join(row.tally.skip_reasons) or "not run")
    if run.probes:
        _junit_probes(suites, run)
    suites.set("tests", str(len(run.rows) + len(run.probes)))
    failures = run.count(Verdict.FAILED) + (len(run.probed(ProbeState.NOT_REPRODUCED)) if run.strict else 0)
    suites.set("failures", str(failures))
    return ET.ElementTree(suites)


def _junit_probes(suites: ET.Element, run: GateRun) -> None:
    """One test case per divergence: its probe confirmed it, did not reproduce it, or was not sent."""
    stale = run.probed(ProbeState.NOT_REPRODUCED)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="divergence probes",
        tests=str(len(run.probes)),
        failures=str(len(stale) if run.strict else 0),
        skipped=str(len(run.probes) - len(run.probed(ProbeState.CONFIRMED)) - (len(stale) if run.strict else 0)),
        errors="0",
    )
    for outcome in run.probes:
        case = ET.SubElement(suite, "testcase", classname=outcome.divergence.operation, name=outcome.divergence.id)
        if outcome.state == ProbeState.NOT_REPRODUCED:
            message = f"not reproduced: {outcome.detail}: {STALE}"
            element = ET.SubElement(case, "failure" if run.strict else "skipped", message=message[:500])
            element.text = outcome.curl or ""
        elif outcome.state == ProbeState.NOT_PROBED:
            ET.SubElement(case, "skipped", message=f"not probed: {outcome.detail}")


def _text(violation: Violation) -> str:
    parts = [violation.message]
    if violation.curl:
        parts.append(violation.curl)
    if violation.response:
        parts.append(violation.response)
    return "\n".join(parts)


def write_junit(path: Path, run: GateRun) -> None:
    """Write the JUnit XML report."""
    tree = junit_xml(run)
    ET.indent(tree)
    write_file(path, lambda target: tree.write(target, encoding="utf-8", xml_declaration=True))


# --- Markdown --------------------------------------------------------------------------------


def markdown(run: GateRun) -> str:
    """The Markdown report: summary, operations table, failures with curl, known divergences, skips."""
    lines = [
        "# ftl-gate report",
        "",
        f"- target: {run.target}",
        f"- result: **{'FAILED' if run.exit_code else 'passed'}** — {run.reason}",
        f"- operations: {len(run.operations)}",
        f"- seed: {run.seed} (`--seed {run.seed}` repeats the run)" if run.seed is not None else "- seed: none",
        "",
    ]
    counted = bool(run.successes)
    success_header, success_align = ("| 2xx ", "---:|") if counted else ("", "")
    lines += [
        f"| operation {success_header}| passed | failed | known | skipped | broken checks |",
        f"|---|{success_align}---:|---:|---:|---:|---|",
    ]
    for operation, rows in by_operation(run.rows).items():
        counts = Counter(row.verdict for row in rows)
        broken = ", ".join(f"`{row.tally.check}`" for row in rows if row.verdict == Verdict.FAILED)
        cells = " | ".join(str(counts.get(v, 0)) for v in ORDER)
        successes = f" {run.successes.get(operation, '')} |" if counted else ""
        lines.append(f"| `{operation}` |{successes} {cells} | {broken} |")
    failed = [row for row in run.rows if row.verdict == Verdict.FAILED]
    if failed:
        lines += ["", "## Failures"]
        for row in failed:
            lines += ["", f"### `{row.tally.operation}` · `{row.tally.check}`"]
            for violation in (*row.new, *(v for v, _ in row.known)):
                lines += ["", "```text", violation.message, "```"]
                if violation.curl:
                    lines += ["", "```sh", violation.curl, "```"]
                if violation.response:
                    lines += ["", "```", violation.response, "```"]
    known = [row for row in run.rows if row.verdict == Verdict.KNOWN]
    if known:
        lines += [
            "",
            "## Known divergences",
            "",
            "| operation | check | entry | excused | platform | contract | reference |",
            "|---|---|---|---:|---|---|---|",
        ]
        for row in known:
            for d in dict.fromkeys(entry for _, entry in row.known):
                lines.append(
                    f"| `{row.tally.operation}` | `{row.tally.check}` | `{d.id}` | {row.tally.known_by[d.id]} "
                    f"| {d.platform} | {d.contract} | {d.reference} |"
                )
    if run.probes:
        lines += ["", "## Divergence probes", "", "| entry | operation | probe | detail |", "|---|---|---|---|"]
        for outcome in run.probes:
            detail = outcome.detail + (f": {STALE}" if outcome.state == ProbeState.NOT_REPRODUCED else "")
            lines.append(
                f"| `{outcome.divergence.id}` | `{outcome.divergence.operation}` | {outcome.state.value} | {detail} |"
            )
    if run.declared:
        lines += [
            "",
            "## Declared server errors",
            "",
            "| operation | status | count | condition |",
            "|---|---:|---:|---|",
        ]
        for item in run.declared:
            lines.append(f"| `{item.operation}` | {item.status} | {item.count} | {item.condition} |")
    skipped = [row for row in run.rows if row.verdict == Verdict.SKIPPED]
    if skipped:
        lines += ["", "## Skipped checks", "", "| operation | check | reason |", "|---|---|---|"]
        for row in skipped:
            reason = "; ".join(row.tally.skip_reasons) or "not run"
            lines.append(f"| `{row.tally.operation}` | `{row.tally.check}` | {reason} |")
    if run.warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in run.warnings)]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, run: GateRun) -> None:
    """Write the Markdown report."""
    text = markdown(run)
    write_file(path, lambda target: Path(target).write_text(text, encoding="utf-8"))


def write_file(path: Path, writer: Callable[[str], object]) -> None:
    """Run `writer` on `path` (its folder made first); a failure is one GateError line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(str(path))
    except OSError as exc:
        raise GateError(f"cannot write {path}: {exc.strerror}") from None
