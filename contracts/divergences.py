"""Known divergences: violations a team has accepted, read from `spec/divergences.yaml`.

A violation matching an entry (by operation and, when the entry names one, by check) is reported
as known instead of failing the gate; `--strict` counts it as a failure again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts.errors import GateError
from contracts.results import Results, Tally, Verdict, Violation

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "spec" / "divergences.yaml"
FIELDS = ("operation", "check", "platform", "contract", "reference")
REQUIRED = ("operation", "platform", "contract", "reference")


@dataclass(frozen=True)
class Divergence:
    """One accepted difference between the platform and the contract."""

    operation: str
    platform: str
    contract: str
    reference: str
    check: str | None = None

    def matches(self, violation: Violation) -> bool:
        """True when this entry excuses `violation`."""
        return violation.operation == self.operation and self.check in (None, violation.check)


@dataclass(frozen=True)
class Row:
    """The verdict of one check on one operation, with what led to it."""

    tally: Tally
    verdict: Verdict
    known: tuple[tuple[Violation, Divergence], ...]
    new: tuple[Violation, ...]


def load(path: str | Path, operations: Iterable[str], checks: Iterable[str]) -> tuple[Divergence, ...]:
    """Read and check a divergences file; GateError names the entry and the problem."""
    source = Path(path)
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateError(f"cannot read known divergences {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise GateError(f"{source}: not valid YAML: {exc}") from None
    entries = document.get("divergences") if isinstance(document, dict) else document
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise GateError(f"{source}: expected a list of entries under `divergences`")
    known_ops, known_checks = set(operations), set(checks)
    return tuple(_entry(source, index, entry, known_ops, known_checks) for index, entry in enumerate(entries))


def _entry(source: Path, index: int, entry: Any, operations: set[str], checks: set[str]) -> Divergence:
    where = f"{source}: entry {index + 1}"
    if not isinstance(entry, Mapping):
        raise GateError(f"{where}: must be a mapping with {', '.join(REQUIRED)}")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise GateError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
    # YAML reads a bare `400.` as a number; any scalar is fine as prose.
    entry = {key: str(value) if isinstance(value, int | float) else value for key, value in entry.items()}
    for name in REQUIRED:
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise GateError(f"{where}: `{name}` is required and must be a non-empty string")
    if entry["operation"] not in operations:
        raise GateError(f"{where}: no operation {entry['operation']!r} in the spec")
    check = entry.get("check")
    if check is not None and check not in checks:
        raise GateError(f"{where}: unknown check {check!r}")
    return Divergence(
        operation=entry["operation"],
        platform=entry["platform"],
        contract=entry["contract"],
        reference=entry["reference"],
        check=check,
    )


def classify(results: Results, divergences: Iterable[Divergence], *, strict: bool = False) -> list[Row]:
    """The verdict of every recorded (operation, check): failed, known, passed or skipped."""
    entries = tuple(divergences)
    rows = []
    for tally in results:
        known, new = [], []
        for violation in tally.violations:
            match = next((d for d in entries if d.matches(violation)), None)
            if match is None:
                new.append(violation)
            else:
                known.append((violation, match))
        if new or (known and strict):
            verdict = Verdict.FAILED
        elif known:
            verdict = Verdict.KNOWN
        elif tally.passes:
            verdict = Verdict.PASSED
        else:
            verdict = Verdict.SKIPPED
        rows.append(Row(tally, verdict, tuple(known), tuple(new)))
    return rows
