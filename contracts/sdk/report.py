"""What an SDK run found, as the gate reports it: per SDK method (or operation), each check passed or failed.

Findings are recorded into the gate's `Results` and classified into a `GateRun`, so the console, JUnit and
Markdown reports are the gate's own; warnings go to the run's warnings; `as_json` keeps every detail.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts import divergences
from contracts.curl import curl
from contracts.errors import GateError
from contracts.gate import GateRun
from contracts.results import Results, Violation
from contracts.sdk.findings import Finding
from contracts.sdk.journal_check import CHECK_NAMES, TRANSPORT_HEADERS, CheckedRequest, JournalEntry, parse_body
from contracts.sdk.runner import CallOutcome, ManifestRun
from spec import Contract

COMMAND_CHECK = "command_exits_zero"
TAIL_LINES = 20


@dataclass
class SdkReport:
    """Everything one `ftl-gate sdk` invocation found."""

    contract: Contract
    target: str
    results: Results = field(default_factory=Results)
    warnings: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def _warn(self, label: str, finding: Finding, where: str = "") -> None:
        text = f"{label} · {finding.check}: {where}{finding.message}"
        if text not in self.warnings:
            self.warnings.append(text)

    def _label(self, label: str) -> None:
        if label not in self.labels:
            self.labels.append(label)

    def _secret_headers(self) -> set[str]:
        names = {"authorization"}
        for definition in self.contract.security_schemes.values():
            if definition.get("type") == "apiKey" and definition.get("in") == "header":
                names.add(str(definition["name"]).lower())
        return names

    def curl_of(self, entry: JournalEntry, base_url: str) -> str:
        """A curl command for a journalled request, credentials filtered."""
        headers = {
            name: value
            for name, value in entry.headers.items()
            if name not in TRANSPORT_HEADERS or (name == "accept" and value != "*/*")
        }
        body: Any = None
        if entry.body_bytes:
            try:
                body = parse_body(entry)
            except ValueError:
                headers["content-type"] = entry.headers.get("content-type", "")
        target = f"{base_url}{entry.path}" + (f"?{entry.query}" if entry.query else "")
        command = curl(entry.method, target, headers, body, secret_headers=self._secret_headers())
        if body is None and entry.body:
            command += f" --data-raw {json.dumps(entry.body)}"
        return command

    # --- a manifest run ---------------------------------------------------------------------

    def add_manifest_run(self, run: ManifestRun, base_url: str) -> None:
        """Record every method's calls: one row per method and check."""
        for finding in run.header_findings():
            self.warnings.append(f"{run.manifest.title} · {finding.check}: {finding.message}")
        for outcome in run.methods:
            label = outcome.method.label
            self._label(label)
            for call in outcome.calls:
                self._record_call(label, call, base_url)
        self.details["manifest"] = manifest_json(run)

    def _record_call(self, label: str, call: CallOutcome, base_url: str) -> None:
        self.results.count_requests(len(call.requests))
        curls = "\n".join(self.curl_of(r.entry, base_url) for r in call.requests) or None
        response = call.exchanges[-1].excerpt() if call.exchanges else None
        failed_checks = set()
        for finding in call.all_findings:
            if not finding.is_failure:
                self._warn(label, finding, f"[{call.call.id}] ")
                continue
            failed_checks.add(finding.check)
            message = f"[{call.call.id}] {with_field(finding)}"
            self.results.failed(Violation(label, finding.check, message, curls, response))
        for check in _call_checks(call):
            if check not in failed_checks:
                self.results.passed(label, check)

    # --- a journal of requests from any client ------------------------------------------------

    def add_journal(self, checked: Sequence[CheckedRequest], base_url: str) -> None:
        """Record every journalled request: one row per operation (or undeclared route) and check."""
        for request in checked:
            entry = request.entry
            label = request.operation_id or f"{entry.method} {entry.path}"
            self._label(label)
            self.results.count_requests()
            failed_checks = set()
            for finding in request.findings:
                if not finding.is_failure:
                    self._warn(label, finding)
                    continue
                failed_checks.add(finding.check)
                message = with_field(finding)
                response = f"HTTP {entry.status}" if entry.status is not None else None
                self.results.failed(Violation(label, finding.check, message, self.curl_of(entry, base_url), response))
            for check in CHECK_NAMES if request.operation_id else ("operation_exists",):
                if check not in failed_checks:
                    self.results.passed(label, check)
        self.details["requests"] = [request_json(r) for r in checked]

    def add_command(self, command: str, exit_code: int | None, output: str, timeout: float) -> None:
        """Record whether the `--run` command finished with exit status 0."""
        label = f"$ {command}"
        self._label(label)
        if exit_code == 0:
            self.results.passed(label, COMMAND_CHECK)
        else:
            tail = "\n".join(output.splitlines()[-TAIL_LINES:])
            why = f"exited with status {exit_code}" if exit_code is not None else f"did not finish within {timeout:g} s"
            self.results.failed(Violation(label, COMMAND_CHECK, f"the command {why}", None, tail or None))
        self.details["command"] = {"command": command, "exit_code": exit_code, "output_tail": output[-4000:]}

    # --- outputs ------------------------------------------------------------------------------

    def gate_run(self, duration: float) -> GateRun:
        """The report as a `GateRun`, for the gate's console, JUnit and Markdown writers."""
        rows = divergences.classify(self.results)
        return GateRun(rows, self.results.requests, duration, self.target, list(self.labels), list(self.warnings))

    def as_json(self, duration: float) -> dict[str, Any]:
        """Every detail as plain data (for `--json`)."""
        run = self.gate_run(duration)
        return {
            "target": self.target,
            "exit_code": run.exit_code,
            "reason": run.reason,
            "rows": [
                {
                    "subject": row.tally.operation,
                    "check": row.tally.check,
                    "verdict": row.verdict.value,
                    "violations": [v.message for v in row.new],
                }
                for row in run.rows
            ],
            "warnings": run.warnings,
            **self.details,
        }

    def write_json(self, path: Path, duration: float) -> None:
        """Write `as_json` to a file."""
        write_text(path, json.dumps(self.as_json(duration), indent=2, default=str) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write a report file (creating its directory); GateError when that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GateError(f"cannot write {path}: {exc.strerror}") from None


def with_field(finding: Finding) -> str:
    """The message, naming the field unless the message already does."""
    if not finding.field or finding.field in finding.message:
        return finding.message
    return f"{finding.message} (field: {finding.field})"


def _call_checks(call: CallOutcome) -> Iterable[str]:
    """The checks that ran on a call (a check that ran and found nothing passed)."""
    ran = set(call.checks) | {f.check for f in call.findings}
    if call.requests and call.probe is None:
        ran.update(CHECK_NAMES)
    return sorted(ran)


def request_json(request: CheckedRequest) -> dict[str, Any]:
    """One checked request as plain data."""
    entry = request.entry
    return {
        "seq": entry.seq,
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "status": entry.status,
        "operation_id": request.operation_id,
        "verdict": "failed" if request.failed else "passed",
        "findings": [f.as_json() for f in request.findings],
    }


def manifest_json(run: ManifestRun) -> dict[str, Any]:
    """A manifest run as plain data: per method its verdict and each call's requests and findings."""
    return {
        "sdk": run.manifest.sdk,
        "version": run.manifest.version,
        "installed": run.installed,
        "location": run.location,
        "runner": run.runner,
        "methods": [
            {
                "method": outcome.method.name,
                "operations": list(outcome.method.operations),
                "reached": sorted(outcome.reached),
                "verdict": "failed" if outcome.failed else "passed",
                "failed_checks": outcome.failed_checks,
                "calls": [
                    {
                        "id": call.call.id,
                        "call": call.call.signature(outcome.method.name),
                        "probe": call.probe,
                        "outcome": call.outcome,
                        "requests": [request_json(r) for r in call.requests],
                        "findings": [f.as_json() for f in call.all_findings],
                    }
                    for call in outcome.calls
                ],
            }
            for outcome in run.methods
        ],
    }
