"""Coverage matrix: the spec's operations x the SDK methods that reach them, uncovered ones grouped by tag.

Built from a manifest (the operations its methods declare), from a manifest run (the operations they
actually reached) or from a journal (operations reached by any request); written as Markdown and JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.sdk.claims import ClaimCheck
from spec import Contract


@dataclass
class Coverage:
    """Which methods reach each operation of the contract."""

    contract: Contract
    subject: str
    source: str
    methods: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, contract: Contract, subject: str, source: str, reached: Iterable[tuple[str, str]]) -> Coverage:
        """Coverage from (method, operationId) pairs; unknown operationIds are ignored."""
        coverage = cls(contract, subject, source, {op: set() for op in contract.operations})
        for method, operation in reached:
            if operation in coverage.methods:
                coverage.methods[operation].add(method)
        return coverage

    def covering(self, operation_id: str) -> list[str]:
        """Methods that reach an operation, sorted."""
        return sorted(self.methods.get(operation_id, ()))

    @property
    def covered(self) -> list[str]:
        """operationIds some method reaches."""
        return [op for op, methods in self.methods.items() if methods]

    @property
    def uncovered(self) -> list[str]:
        """operationIds no method reaches."""
        return [op for op, methods in self.methods.items() if not methods]

    def by_tag(self) -> dict[str, tuple[list[str], list[str]]]:
        """tag -> (covered operationIds, uncovered operationIds), in the spec's tag order."""
        order = list(self.contract.tags) + sorted(
            {t for op in self.contract.operations.values() for t in op.tags} - set(self.contract.tags)
        )
        groups: dict[str, tuple[list[str], list[str]]] = {tag: ([], []) for tag in order}
        for op_id, methods in self.methods.items():
            op = self.contract.operations[op_id]
            for tag in op.tags or ("untagged",):
                groups.setdefault(tag, ([], []))[0 if methods else 1].append(op_id)
        return {tag: lists for tag, lists in groups.items() if lists[0] or lists[1]}

    def as_json(self, claims: ClaimCheck | None = None) -> dict[str, Any]:
        """The matrix as plain data (for `--coverage-json`)."""
        operations = {
            op_id: {
                "method": op.method,
                "path": op.path,
                "tags": list(op.tags),
                "methods": self.covering(op_id),
            }
            for op_id, op in self.contract.operations.items()
        }
        data: dict[str, Any] = {
            "subject": self.subject,
            "source": self.source,
            "operations": operations,
            "summary": {"operations": len(operations), "covered": len(self.covered), "uncovered": len(self.uncovered)},
            "uncovered_by_tag": {tag: uncovered for tag, (_, uncovered) in self.by_tag().items() if uncovered},
        }
        if claims is not None:
            data["claims"] = claims.as_json()
        return data

    def markdown(self, claims: ClaimCheck | None = None) -> str:
        """The matrix, uncovered operations by tag and (optionally) the design note's claims checked."""
        lines = [
            f"# SDK coverage: {self.subject}",
            "",
            f"- source: {self.source}",
            f"- operations covered: **{len(self.covered)} of {len(self.methods)}**",
            "",
            "| tag | covered | uncovered | uncovered operations |",
            "|---|---:|---:|---|",
        ]
        for tag, (covered, uncovered) in self.by_tag().items():
            names = ", ".join(f"`{op}`" for op in uncovered)
            lines.append(f"| {tag} | {len(covered)} | {len(uncovered)} | {names} |")
        lines += [
            "",
            "## Operations x methods",
            "",
            "| tag | operation | method | path | SDK methods |",
            "|---|---|---|---|---|",
        ]
        for tag, (covered, uncovered) in self.by_tag().items():
            for op_id in covered + uncovered:
                op = self.contract.operations[op_id]
                methods = ", ".join(f"`{m}`" for m in self.covering(op_id)) or "—"
                lines.append(f"| {tag} | `{op_id}` | {op.method} | `{op.path}` | {methods} |")
        if claims is not None:
            lines += ["", *claims.markdown_lines()]
        return "\n".join(lines) + "\n"


def pairs_from_manifest(methods: Iterable[Any]) -> list[tuple[str, str]]:
    """(method, operationId) for every operation a manifest's methods declare."""
    return [(m.name, op) for m in methods for op in m.operations]


def pairs_from_journal(entries: Iterable[Any], operation_of: Mapping[int, str | None]) -> list[tuple[str, str]]:
    """(client, operationId) for journalled requests; the client is named by its User-Agent."""
    found = []
    for entry in entries:
        operation = operation_of.get(entry.seq)
        if operation:
            found.append((entry.headers.get("user-agent", "unknown client"), operation))
    return found
