"""A design note's "missing SDK methods" claims, read from the note itself and checked against coverage data.

The note groups endpoints under `#### N. Title` headings as bullets (`- \\`GET /api/training/[id]\\``) and
proposes methods as `def name(`; each endpoint is resolved through the contract and looked up in the coverage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.errors import GateError
from spec import Contract

GROUP = re.compile(r"^####\s+(?P<title>.+?)\s*$")
SECTION = re.compile(r"^#{1,3}\s")
ENDPOINT = re.compile(r"^\s*[-*]\s+`(?P<method>GET|POST|PUT|PATCH|DELETE)\s+(?P<path>/[^`\s]+)`")
PROPOSED = re.compile(r"\bdef\s+(?P<name>[A-Za-z_]\w*)\s*\(")
PLACEHOLDER = re.compile(r"\[[^\]/]+\]|\{[^}/]+\}")
# Values tried for a path's placeholders until the contract's path parameter schemas accept one.
SAMPLES = ("sample-id", "00000000-0000-4000-8000-000000000000", "1")


@dataclass(frozen=True)
class Claim:
    """One endpoint a note says no SDK method covers."""

    group: str
    method: str
    path: str


@dataclass(frozen=True)
class ClaimRow:
    """A claim checked: the operation it names and the methods that cover it."""

    claim: Claim
    operation_id: str | None
    covered_by: tuple[str, ...]

    @property
    def verdict(self) -> str:
        """`gap confirmed`, `the note is wrong` or `not an operation`."""
        if self.operation_id is None:
            return "not an operation of the contract"
        return "the note is wrong" if self.covered_by else "gap confirmed"


@dataclass(frozen=True)
class NameRow:
    """A method name a note proposes as missing, and the SDK methods that already carry it."""

    group: str
    name: str
    existing: tuple[str, ...]


@dataclass(frozen=True)
class ClaimCheck:
    """Every claim of a note, checked."""

    source: str
    rows: tuple[ClaimRow, ...]
    names: tuple[NameRow, ...]

    @property
    def wrong(self) -> list[ClaimRow]:
        """Claims the coverage refutes."""
        return [row for row in self.rows if row.covered_by]

    @property
    def confirmed(self) -> list[ClaimRow]:
        """Claims the coverage confirms."""
        return [row for row in self.rows if row.operation_id and not row.covered_by]

    def groups(self) -> dict[str, list[ClaimRow]]:
        """Rows by the note's group heading, in note order."""
        grouped: dict[str, list[ClaimRow]] = {}
        for row in self.rows:
            grouped.setdefault(row.claim.group, []).append(row)
        return grouped

    def as_json(self) -> dict[str, Any]:
        """The checked claims as plain data."""
        return {
            "source": self.source,
            "endpoints": [
                {
                    "group": row.claim.group,
                    "endpoint": f"{row.claim.method} {row.claim.path}",
                    "operation_id": row.operation_id,
                    "covered_by": list(row.covered_by),
                    "verdict": row.verdict,
                }
                for row in self.rows
            ],
            "proposed_methods": [
                {"group": row.group, "name": row.name, "existing": list(row.existing)} for row in self.names
            ],
        }

    def markdown_lines(self) -> list[str]:
        """The note's gap table rebuilt from coverage data, and where the note was wrong."""
        lines = [
            f"## Design note claims: {Path(self.source).name}",
            "",
            f"{len(self.confirmed)} endpoints confirmed uncovered, {len(self.wrong)} covered although the note"
            " lists them as missing.",
            "",
            "| note group | endpoint | operation | verdict | covered by |",
            "|---|---|---|---|---|",
        ]
        for group, rows in self.groups().items():
            for row in rows:
                operation = f"`{row.operation_id}`" if row.operation_id else "—"
                covered = ", ".join(f"`{m}`" for m in row.covered_by) or "—"
                endpoint = f"`{row.claim.method} {row.claim.path}`"
                lines.append(f"| {group} | {endpoint} | {operation} | {row.verdict} | {covered} |")
        existing = [row for row in self.names if row.existing]
        if existing:
            lines += ["", "Methods the note proposes that the SDK already has:", ""]
            lines += [f"- `{row.name}` ({row.group}): {', '.join(f'`{m}`' for m in row.existing)}" for row in existing]
        return lines


def combined_claim_lines(checks: list[tuple[str, ClaimCheck]]) -> list[str]:
    """The note's gap table with one verdict column per SDK (subject, its checked claims), in note order."""
    first = checks[0][1]
    names = [subject for subject, _ in checks]
    lines = [
        f"## Design note claims: {Path(first.source).name}",
        "",
        *(
            f"- {subject}: {len(check.confirmed)} endpoints confirmed uncovered, {len(check.wrong)} covered although"
            " the note lists them as missing"
            for subject, check in checks
        ),
        "",
        f"| note group | endpoint | operation | {' | '.join(names)} |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for index, row in enumerate(first.rows):
        operation = f"`{row.operation_id}`" if row.operation_id else "—"
        cells = []
        for _, check in checks:
            other = check.rows[index]
            covered = ", ".join(f"`{m}`" for m in other.covered_by)
            cells.append(f"{other.verdict}: {covered}" if covered else other.verdict)
        endpoint = f"`{row.claim.method} {row.claim.path}`"
        lines.append(f"| {row.claim.group} | {endpoint} | {operation} | {' | '.join(cells)} |")
    existing = [(subject, row) for subject, check in checks for row in check.names if row.existing]
    if existing:
        lines += ["", "Methods the note proposes that an SDK already has:", ""]
        lines += [
            f"- `{row.name}` ({row.group}): {subject} {', '.join(f'`{m}`' for m in row.existing)}"
            for subject, row in existing
        ]
    return lines


def snake(name: str) -> str:
    """`listJobs` -> `list_jobs`, so a note's Python names match methods of any SDK."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def parse_note(text: str) -> tuple[list[Claim], list[tuple[str, str]]]:
    """Endpoint claims and proposed method names, each with its `####` group heading."""
    claims: list[Claim] = []
    names: list[tuple[str, str]] = []
    group: str | None = None
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else GROUP.match(line)
        if heading:
            group = heading.group("title")
            continue
        if not fenced and SECTION.match(line):
            group = None
            continue
        if group is None:
            continue
        endpoint = ENDPOINT.match(line)
        if endpoint:
            claims.append(Claim(group, endpoint.group("method"), endpoint.group("path")))
        for proposed in PROPOSED.finditer(line):
            names.append((group, proposed.group("name")))
    grouped = {claim.group for claim in claims}
    return claims, [(g, n) for g, n in names if g in grouped]


def resolve(contract: Contract, method: str, path: str) -> str | None:
    """The operationId serving a note's `METHOD /path/[param]`, or None."""
    for sample in SAMPLES:
        matched = contract.match(method, PLACEHOLDER.sub(sample, path))
        if matched is not None:
            return matched[0].operation_id
    return None


def check_note(path: str | Path, contract: Contract, covering: Mapping[str, Iterable[str]]) -> ClaimCheck:
    """The note's claims against coverage (`operationId -> methods`), and its proposed names against those methods."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise GateError(f"cannot read design note {source}: {exc.strerror}") from None
    claims, names = parse_note(text)
    if not claims:
        raise GateError(f"{source}: no endpoint claims found (bullets like - `GET /path` under #### headings)")
    rows = []
    for claim in claims:
        operation_id = resolve(contract, claim.method, claim.path)
        covered = tuple(sorted(covering.get(operation_id, ()))) if operation_id else ()
        rows.append(ClaimRow(claim, operation_id, covered))
    # A proposed name is "already there" when a method of that name reaches one of its group's endpoints.
    reaching: dict[str, set[str]] = {}
    for row in rows:
        reaching.setdefault(row.claim.group, set()).update(row.covered_by)
    name_rows = tuple(
        NameRow(
            group, name, tuple(sorted(m for m in reaching.get(group, ()) if snake(m.rsplit(".", 1)[-1]) == snake(name)))
        )
        for group, name in names
    )
    return ClaimCheck(str(source), tuple(rows), name_rows)
