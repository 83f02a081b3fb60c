"""Known divergences: the file format is checked on load, and matching violations are known, not failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.divergences import DEFAULT_FILE, classify, load
from contracts.errors import GateError
from contracts.results import Results, Verdict, Violation

OPERATIONS = ("get_predictions", "list_jobs")
CHECKS = ("negative_data_rejection", "not_a_server_error")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "divergences.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def entry(**fields: str) -> str:
    base = {"operation": "list_jobs", "platform": "p", "contract": "c", "reference": "§4.1", **fields}
    return "divergences:\n  - " + "\n    ".join(f"{k}: {v!r}" for k, v in base.items()) + "\n"


def test_bundled_file_loads_against_the_spec() -> None:
    from schemathesis.checks import CHECKS as SCHEMATHESIS_CHECKS
    from schemathesis.checks import load_all_checks

    import spec
    from contracts.live_check import ALL_CHECKS
    from contracts.runner import DISABLED_CHECKS

    load_all_checks()
    enabled = [name for name in SCHEMATHESIS_CHECKS.get_all_names() if name not in DISABLED_CHECKS]
    contract = spec.load()
    entries = load(DEFAULT_FILE, contract.operations, [*enabled, *ALL_CHECKS])
    assert entries
    assert all(e.operation in contract.operations for e in entries)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (entry(operation="nope"), "no operation 'nope'"),
        (entry(check="made_up"), "unknown check 'made_up'"),
        (entry(platform=""), "`platform` is required"),
        (entry(colour="red"), "unknown field 'colour'"),
        ("divergences: {a: 1}\n", "expected a list"),
        ("divergences: [\n", "not valid YAML"),
    ],
)
def test_broken_entries_are_rejected_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(GateError, match=message):
        load(write(tmp_path, text), OPERATIONS, CHECKS)


def test_missing_file_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="cannot read"):
        load(tmp_path / "absent.yaml", OPERATIONS, CHECKS)


def test_numbers_are_accepted_as_prose(tmp_path: Path) -> None:
    (only,) = load(write(tmp_path, entry().replace("'c'", "400.")), OPERATIONS, CHECKS)
    assert only.contract == "400.0"


def results() -> Results:
    found = Results()
    found.failed(Violation("list_jobs", "negative_data_rejection", "accepted limit=-1"))
    found.failed(Violation("get_predictions", "not_a_server_error", "500"))
    found.passed("get_predictions", "negative_data_rejection")
    found.skipped("list_jobs", "use_after_free", "no delete")
    return found


def verdicts(rows: list) -> dict[tuple[str, str], Verdict]:
    return {(row.tally.operation, row.tally.check): row.verdict for row in rows}


def test_matching_violation_is_known_and_others_keep_their_verdict(tmp_path: Path) -> None:
    known = load(write(tmp_path, entry(check="negative_data_rejection")), OPERATIONS, CHECKS)
    assert verdicts(classify(results(), known)) == {
        ("list_jobs", "negative_data_rejection"): Verdict.KNOWN,
        ("get_predictions", "not_a_server_error"): Verdict.FAILED,
        ("get_predictions", "negative_data_rejection"): Verdict.PASSED,
        ("list_jobs", "use_after_free"): Verdict.SKIPPED,
    }


def test_entry_without_check_covers_every_check_of_its_operation(tmp_path: Path) -> None:
    known = load(write(tmp_path, entry(operation="get_predictions")), OPERATIONS, CHECKS)
    assert verdicts(classify(results(), known))[("get_predictions", "not_a_server_error")] == Verdict.KNOWN


def test_strict_counts_known_divergences_as_failures(tmp_path: Path) -> None:
    known = load(write(tmp_path, entry(check="negative_data_rejection")), OPERATIONS, CHECKS)
    assert verdicts(classify(results(), known, strict=True))[("list_jobs", "negative_data_rejection")] == Verdict.FAILED
