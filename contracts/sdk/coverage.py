"""Coverage matrix: the spec's operations x the SDK methods that reach them, uncovered ones grouped by tag.

One `Coverage` per SDK, built from a manifest (the operations its methods declare), from a manifest run
(the operations they reached, and which checks failed) or from a journal; `CoverageMatrix` sets several
SDKs side by side. Written as Markdown and JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import GateError
from contracts.sdk.claims import ClaimCheck, combined_claim_lines
from spec import Contract

NONE = "—"


@dataclass
class Coverage:
    """Which methods reach each operation of the contract."""

    contract: Contract
    subject: str
    source: str
    methods: dict[str, set[str]] = field(default_factory=dict)
    # From a run: operationId -> method -> the checks that failed on the method (empty: it conforms).
    verdicts: dict[str, dict[str, tuple[str, ...]]] | None = None

    @classmethod
    def build(cls, contract: Contract, subject: str, source: str, reached: Iterable[tuple[str, str]]) -> Coverage:
        """Coverage from (method, operationId) pairs; unknown operationIds are ignored."""
        coverage = cls(contract, subject, source, {op: set() for op in contract.operations})
        for method, operation in reached:
            if operation in coverage.methods:
                coverage.methods[operation].add(method)
        return coverage

    @classmethod
    def from_methods(
        cls, contract: Contract, subject: str, source: str, methods: Iterable[tuple[str, Iterable[str], Iterable[str]]]
    ) -> Coverage:
        """Coverage of a run from (method, operations reached, checks failed) triples."""
        listed = [(name, list(reached), tuple(sorted(failed))) for name, reached, failed in methods]
        coverage = cls.build(contract, subject, source, [(name, op) for name, reached, _ in listed for op in reached])
        coverage.verdicts = {}
        for name, reached, failed in listed:
            for op in reached:
                coverage.verdicts.setdefault(op, {})[name] = failed
        return coverage

    @classmethod
    def from_report(cls, contract: Contract, data: Mapping[str, Any], source: str) -> Coverage:
        """Coverage of a manifest run from its `--json` report; GateError when the file is not one."""
        run = data.get("manifest") if isinstance(data, Mapping) else None
        if not isinstance(run, Mapping) or not isinstance(run.get("methods"), list):
            raise GateError(f"{source}: not the --json report of an `ftl-gate sdk --manifest` run")
        triples = [(str(m.get("method")), m.get("reached") or (), m.get("failed_checks") or ()) for m in run["methods"]]
        return cls.from_methods(contract, f"{run.get('sdk')} {run.get('version')}", f"run {source}", triples)

    def cell(self, operation_id: str) -> str:
        """The methods reaching an operation; after a run each with ✓ or ✗ and the checks it failed."""
        methods = self.covering(operation_id)
        if not methods:
            return NONE
        if self.verdicts is None:
            return ", ".join(f"`{m}`" for m in methods)
        failed = self.verdicts.get(operation_id, {})
        return "; ".join(f"`{m}` ✗ {', '.join(failed[m])}" if failed.get(m) else f"`{m}` ✓" for m in methods)

    @property
    def conforming(self) -> list[str]:
        """After a run: covered operationIds whose every method passed."""
        verdicts = self.verdicts or {}
        return [op for op in self.covered if not any(verdicts.get(op, {}).get(m) for m in self.methods[op])]

    @property
    def with_defects(self) -> list[str]:
        """After a run: covered operationIds some method of which failed a check."""
        conforming = set(self.conforming)
        return [op for op in self.covered if op not in conforming]

    def operation_json(self, operation_id: str) -> dict[str, Any]:
        """One operation's cell as data: methods, and after a run whether it conforms and the defects."""
        methods = self.covering(operation_id)
        entry: dict[str, Any] = {"methods": methods}
        if self.verdicts is not None and methods:
            failed = self.verdicts.get(operation_id, {})
            entry["conforming"] = not any(failed.get(m) for m in methods)
            entry["defects"] = {m: list(failed[m]) for m in methods if failed.get(m)}
        return entry

    def summary(self) -> dict[str, Any]:
        """Operations, covered and uncovered; after a run also conforming and with defects."""
        found: dict[str, Any] = {
            "operations": len(self.methods),
            "covered": len(self.covered),
            "uncovered": len(self.uncovered),
        }
        if self.verdicts is not None:
            found |= {"conforming": len(self.conforming), "with_defects": len(self.with_defects)}
        return found

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
            op_id: {"method": op.method, "path": op.path, "tags": list(op.tags), **self.operation_json(op_id)}
            for op_id, op in self.contract.operations.items()
        }
        data: dict[str, Any] = {
            "subject": self.subject,
            "source": self.source,
            "operations": operations,
            "summary": self.summary(),
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
            *(
                [f"- conforming: {len(self.conforming)}, with defects: {len(self.with_defects)}"]
                if self.verdicts is not None
                else []
            ),
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
                lines.append(f"| {tag} | `{op_id}` | {op.method} | `{op.path}` | {self.cell(op_id)} |")
        if claims is not None:
            lines += ["", *claims.markdown_lines()]
        return "\n".join(lines) + "\n"


@dataclass
class CoverageMatrix:
    """Several SDKs side by side: operation x SDK (methods that reach it, conforming or with which defects)."""

    contract: Contract
    columns: list[Coverage]

    def by_tag(self) -> dict[str, tuple[list[int], list[str]]]:
        """tag -> (operations covered per SDK, operationIds no SDK covers), in the spec's tag order."""
        groups: dict[str, tuple[list[int], list[str]]] = {}
        for tag, (covered, uncovered) in self.columns[0].by_tag().items():
            ops = covered + uncovered
            counts = [sum(1 for op in ops if column.methods.get(op)) for column in self.columns]
            groups[tag] = (counts, [op for op in ops if not any(c.methods.get(op) for c in self.columns)])
        return groups

    def markdown(self, claims: list[ClaimCheck] | None = None) -> str:
        """The matrix; one SDK keeps `Coverage.markdown`'s layout."""
        if len(self.columns) == 1:
            return self.columns[0].markdown(claims[0] if claims else None)
        names = [column.subject for column in self.columns]
        lines = [
            f"# SDK coverage: {' · '.join(names)}",
            "",
            "| SDK | source | operations covered | conforming | with defects |",
            "|---|---|---:|---:|---:|",
        ]
        for column in self.columns:
            ran = column.verdicts is not None
            conforming = str(len(column.conforming)) if ran else NONE
            defects = str(len(column.with_defects)) if ran else NONE
            count = f"{len(column.covered)} of {len(column.methods)}"
            lines.append(f"| {column.subject} | {column.source} | {count} | {conforming} | {defects} |")
        lines += ["", f"| tag | {' | '.join(names)} | uncovered by all | uncovered operations |"]
        lines.append("|---|" + "---:|" * len(names) + "---:|---|")
        for tag, (counts, uncovered) in self.by_tag().items():
            shown = ", ".join(f"`{op}`" for op in uncovered)
            lines.append(f"| {tag} | {' | '.join(map(str, counts))} | {len(uncovered)} | {shown} |")
        lines += ["", "## Operations x SDKs", "", f"| tag | operation | method | path | {' | '.join(names)} |"]
        lines.append("|---|---|---|---|" + "---|" * len(names))
        for tag, (some, none) in self.columns[0].by_tag().items():
            for op_id in some + none:
                op = self.contract.operations[op_id]
                cells = " | ".join(column.cell(op_id) for column in self.columns)
                lines.append(f"| {tag} | `{op_id}` | {op.method} | `{op.path}` | {cells} |")
        if claims:
            lines += ["", *combined_claim_lines(list(zip(names, claims, strict=True)))]
        return "\n".join(lines) + "\n"

    def as_json(self, claims: list[ClaimCheck] | None = None) -> dict[str, Any]:
        """The matrix as data; one SDK keeps `Coverage.as_json`'s layout."""
        if len(self.columns) == 1:
            return self.columns[0].as_json(claims[0] if claims else None)
        return {
            "sdks": [
                {"subject": c.subject, "source": c.source, "summary": c.summary()}
                | ({"claims": claims[i].as_json()} if claims else {})
                for i, c in enumerate(self.columns)
            ],
            "operations": {
                op_id: {
                    "method": op.method,
                    "path": op.path,
                    "tags": list(op.tags),
                    "sdks": {c.subject: c.operation_json(op_id) for c in self.columns},
                }
                for op_id, op in self.contract.operations.items()
            },
        }


def pairs_from_manifest(methods: Iterable[Any]) -> list[tuple[str, str]]:
    """(method, operationId) for every operation a manifest's methods declare."""
    return [(m.name, op) for m in methods for op in m.operations]


def client_of(entry: Any) -> str:
    """The client a journalled request came from, named by its User-Agent."""
    return str(entry.headers.get("user-agent", "unknown client"))
