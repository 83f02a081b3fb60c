"""Known divergences: the file format is checked on load, and an entry excuses exactly what it states, nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import spec
from contracts.divergences import DEFAULT_FILE, classify, load, matcher
from contracts.errors import GateError
from contracts.exchange import Exchange
from contracts.gate import SUCCESS_CHECK, check_names
from contracts.provisioning import PLACEHOLDERS
from contracts.results import Results, Verdict, Violation

CONTRACT = spec.load()
CHECKS = check_names(CONTRACT)
NAN_EPOCH = {
    "id": "nan-epoch",
    "operation": "get_predictions",
    "checks": ["not_a_server_error"],
    "status": 500,
    "request": {"query": {"required": ["epoch"], "properties": {"epoch": {"not": {"type": "integer"}}}}},
    "message": "Failed to (fetch|get) predictions",
    "probe": {"path": {"jobId": "{job.id}"}, "query": {"epoch": "abc"}},
    "platform": "a NaN epoch gives 500",
    "contract": "epoch is an integer",
    "reference": "§2.1",
}
FAILED = '{"error":"Failed to fetch predictions","details":"invalid input syntax"}'
QUIRKS = DEFAULT_FILE.parent / "quirks.md"


def write(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "divergences.yaml"
    path.write_text(yaml.safe_dump({"divergences": list(entries)}), encoding="utf-8")
    return path


def server_error(query: dict, text: str = FAILED, status: int = 500, check: str = "not_a_server_error") -> Violation:
    answer = Exchange("GET", "/api/training/predictions/job_1", {"jobId": "job_1"}, query, status=status, text=text)
    return Violation("get_predictions", check, "Server error", exchange=answer)


def test_bundled_file_loads_against_the_spec_and_every_entry_probes_or_says_why() -> None:
    entries = load(DEFAULT_FILE, CONTRACT, CHECKS, PLACEHOLDERS)
    assert len(entries) >= 40
    assert all(entry.probe is not None or entry.not_probed for entry in entries)
    assert all(entry.statuses for entry in entries)


def test_every_divergence_is_in_the_quirks_audit_and_every_named_one_exists() -> None:
    ids = {entry.id for entry in load(DEFAULT_FILE, CONTRACT, CHECKS, PLACEHOLDERS)}
    named = set(re.findall(r"divergence `([a-z0-9-]+)`", QUIRKS.read_text(encoding="utf-8")))
    assert ids <= named, f"entries missing from spec/quirks.md: {sorted(ids - named)}"
    assert named <= ids, f"spec/quirks.md names entries that do not exist: {sorted(named - ids)}"


# --- matching: what an entry excuses, and what it does not -------------------------------------------


@pytest.fixture
def nan_epoch(tmp_path: Path):  # type: ignore[no-untyped-def]
    (entry,) = load(write(tmp_path, NAN_EPOCH), CONTRACT, CHECKS, PLACEHOLDERS)
    return entry


def test_a_500_to_a_nan_epoch_is_excused(nan_epoch) -> None:  # type: ignore[no-untyped-def]
    assert nan_epoch.matches(server_error({"epoch": "abc"}))
    assert nan_epoch.matches(server_error({"epoch": ["null", "null"]}))


@pytest.mark.parametrize(
    ("violation", "why"),
    [
        (server_error({}), "no epoch at all: a 500 to everything is not excused"),
        (server_error({"epoch": "3"}), "a valid epoch (typed as the integer 3)"),
        (server_error({"epoch": "abc"}, status=502), "another status"),
        (server_error({"epoch": "abc"}, text='{"error":"Internal server error"}'), "another message"),
        (server_error({"epoch": "abc"}, check="negative_data_rejection"), "another check"),
    ],
)
def test_anything_else_of_the_same_operation_and_check_is_not_excused(nan_epoch, violation, why) -> None:  # type: ignore[no-untyped-def]
    assert not nan_epoch.matches(violation), why


def test_a_violation_without_its_exchange_is_never_excused(nan_epoch) -> None:  # type: ignore[no-untyped-def]
    assert not nan_epoch.matches(Violation("get_predictions", "not_a_server_error", "Server error"))


def test_pointer_conditions_match_the_named_field_and_wildcards(tmp_path: Path) -> None:
    entry = {
        **NAN_EPOCH,
        "id": "status",
        "operation": "list_jobs",
        "checks": ["response_schema_conformance"],
        "status": 200,
        "pointer": "/jobs/*/status",
    }
    for key in ("request", "message", "probe"):
        entry.pop(key)
    entry["not_probed"] = "test"
    (loaded,) = load(write(tmp_path, entry), CONTRACT, CHECKS, PLACEHOLDERS)
    answer = Exchange("GET", "/api/training/jobs", status=200)

    def at(pointer: str) -> Violation:
        return Violation("list_jobs", "response_schema_conformance", "bad", exchange=answer, pointer=pointer)

    assert loaded.matches(at("/jobs/3/status"))
    assert not loaded.matches(at("/jobs/3/created_at"))
    assert not loaded.matches(at("/count"))


def test_conditions_can_name_the_contracts_own_schemas(tmp_path: Path) -> None:
    entry = {
        **NAN_EPOCH,
        "id": "status-filter",
        "operation": "list_local_jobs",
        "checks": ["negative_data_rejection"],
        "status": 200,
        "request": {"query": {"properties": {"status": {"not": {"$ref": "#/components/schemas/JobStatus"}}}}},
        "probe": {"query": {"status": "weird"}},
    }
    entry.pop("message")
    (loaded,) = load(write(tmp_path, entry), CONTRACT, CHECKS, PLACEHOLDERS)
    assert loaded.request_matches({"query": {"status": "weird"}})
    assert not loaded.request_matches({"query": {"status": "running"}})


def test_known_and_new_violations_are_kept_apart_when_recorded(nan_epoch) -> None:  # type: ignore[no-untyped-def]
    results = Results(matcher([nan_epoch]))
    for _ in range(10):
        results.failed(server_error({"epoch": "abc"}))
    results.failed(server_error({}))  # the eleventh is new: it must not be crowded out by the known ones
    (row,) = classify(results)
    assert row.verdict == Verdict.FAILED
    assert (row.tally.known_count, row.tally.violation_count) == (10, 1)


def test_only_known_violations_give_known_and_strict_fails_them(nan_epoch) -> None:  # type: ignore[no-untyped-def]
    results = Results(matcher([nan_epoch]))
    results.failed(server_error({"epoch": "abc"}))
    results.passed("list_jobs", "status_code_conformance")
    results.skipped("list_jobs", "use_after_free", "no delete")
    verdicts = {(row.tally.operation, row.tally.check): row.verdict for row in classify(results)}
    assert verdicts == {
        ("get_predictions", "not_a_server_error"): Verdict.KNOWN,
        ("list_jobs", "status_code_conformance"): Verdict.PASSED,
        ("list_jobs", "use_after_free"): Verdict.SKIPPED,
    }
    strict = {(row.tally.operation, row.tally.check): row.verdict for row in classify(results, strict=True)}
    assert strict[("get_predictions", "not_a_server_error")] == Verdict.FAILED


# --- the file format -----------------------------------------------------------------------------------


def changed(**fields: object) -> dict:
    entry = {**NAN_EPOCH, **fields}
    return {key: value for key, value in entry.items() if value is not None}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (changed(operation="nope"), "no operation 'nope'"),
        (changed(checks=["made_up"]), "unknown check 'made_up'"),
        (changed(platform=""), "`platform` is required"),
        (changed(status="500"), "`status` must be an HTTP status"),
        (changed(colour="red"), "unknown field 'colour'"),
        (changed(id="Not An Id"), "`id` must be lower-case words"),
        (changed(message="("), "`message` is not a valid regular expression"),
        (changed(pointer="jobs"), "`pointer` must be a JSON pointer"),
        (changed(request={"cookies": {}}), "not a request part"),
        (changed(request={"body": {"$ref": "#/components/schemas/Nope"}}), "names nothing in the contract"),
        (changed(probe=None), "give either a `probe` request or `not_probed`"),
        (changed(not_probed="why"), "give either a `probe` request or `not_probed`"),
        (changed(probe={"query": {"epoch": "3"}}), "does not satisfy the entry's own `request` condition"),
        (changed(probe={"query": {"epoch": "{nope.id}"}}), "placeholder {nope.id} is unknown"),
        (changed(probe={"query": {"epoch": "x"}, "body": {}, "raw_body": "{"}), "one of body, raw_body or form"),
        (changed(probe={"query": {"epoch": "x"}, "setup": [{"operation": "nope"}]}), "must name an `operation`"),
        (changed(probe={"query": {"epoch": "x"}, "credentials": "root"}), "`probe.credentials` must be one of"),
    ],
)
def test_broken_entries_are_rejected_with_the_reason(tmp_path: Path, entry: dict, message: str) -> None:
    with pytest.raises(GateError, match=re.escape(message)):
        load(write(tmp_path, entry), CONTRACT, CHECKS, PLACEHOLDERS)


def test_two_entries_with_one_id_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="two entries have the id 'nan-epoch'"):
        load(write(tmp_path, NAN_EPOCH, NAN_EPOCH), CONTRACT, CHECKS, PLACEHOLDERS)


@pytest.mark.parametrize(
    ("text", "message"), [("divergences: {a: 1}\n", "expected a list"), ("divergences: [\n", "not valid YAML")]
)
def test_unreadable_files_are_setup_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "divergences.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GateError, match=message):
        load(path, CONTRACT, CHECKS, PLACEHOLDERS)
    with pytest.raises(GateError, match="cannot read"):
        load(tmp_path / "absent.yaml", CONTRACT, CHECKS, PLACEHOLDERS)


def test_the_success_check_is_no_divergence_target(tmp_path: Path) -> None:
    with pytest.raises(GateError, match=f"unknown check '{SUCCESS_CHECK}'"):
        load(write(tmp_path, changed(checks=[SUCCESS_CHECK])), CONTRACT, CHECKS, PLACEHOLDERS)
