"""The coverage matrix and the seed design note's gap table, rebuilt from data.

The note's claims are parsed from the note itself; what covers what comes from the manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contracts.sdk.claims import ClaimCheck, check_note, parse_note
from contracts.sdk.coverage import Coverage, CoverageMatrix, pairs_from_manifest
from contracts.sdk.manifest import load
from spec import Contract
from spec import load as load_spec
from tests.conftest import ROOT

SEED_NOTE = ROOT / "contracts" / "sdk" / "claims" / "seed-2025-12-17-sse-review-and-sdk-gaps.md"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_spec()


def coverage_of(contract: Contract, manifest_path: str | Path) -> Coverage:
    manifest = load(manifest_path, contract)
    return Coverage.build(contract, manifest.title, "manifest", pairs_from_manifest(manifest.methods))


@pytest.fixture(scope="module")
def finetune_lab(contract: Contract) -> Coverage:
    return coverage_of(contract, "finetune-lab-0.6.0")


@pytest.fixture(scope="module")
def claims(contract: Contract, finetune_lab: Coverage) -> ClaimCheck:
    return check_note(SEED_NOTE, contract, finetune_lab.methods)


def test_seed_note_gaps_that_are_real_are_confirmed(claims: ClaimCheck) -> None:
    confirmed = {row.operation_id for row in claims.confirmed}
    assert confirmed == {
        # "Training Jobs Management" get/update/delete (these routes handle training configurations)
        "get_config",
        "update_config",
        "delete_config",
        # control
        "control_job",
        "resume_job",
        "update_job_params",
        # datasets
        "list_datasets",
        "preview_dataset",
        "upload_dataset",
        "delete_dataset",
        "list_available_datasets",
        # deployments
        "create_runpod_deployment",
        "get_runpod_deployment",
        "delete_runpod_deployment",
        # baselines
        "list_baselines",
        "create_baseline",
        "update_baseline",
        "delete_baseline",
    }


def test_seed_note_is_shown_wrong_where_the_sdk_has_the_methods(claims: ClaimCheck) -> None:
    wrong = {row.operation_id: row.covered_by for row in claims.wrong}
    assert wrong == {
        "list_jobs": ("training.list_jobs",),
        "get_metrics": ("training.get_metrics",),
        "get_logs": ("training.get_logs",),
        "get_errors": ("training.get_errors",),
    }
    already = {row.name: row.existing for row in claims.names if row.existing}
    assert already == {
        "list_jobs": ("training.list_jobs",),
        "get_metrics": ("training.get_metrics",),
        "get_logs": ("training.get_logs",),
        "get_errors": ("training.get_errors",),
    }


def test_uncovered_operations_are_grouped_by_tag(contract: Contract, finetune_lab: Coverage) -> None:
    groups = finetune_lab.by_tag()
    for tag in ("configs", "control", "datasets", "deployments", "baselines"):
        covered, uncovered = groups[tag]
        assert covered == []
        assert set(uncovered) == {op.operation_id for op in contract.iter_operations(include=[tag])}
    assert groups["batch-testing"][1] == []
    assert finetune_lab.covering("get_public_config") == ["fetch_config", "load_training_package"]


def test_a_method_for_a_claimed_gap_turns_the_claim_around(tmp_path: Path, contract: Contract) -> None:
    manifest = {
        "sdk": "next-sdk",
        "version": "0.7.0",
        "language": "python",
        "clients": {"client": {"factory": "next_sdk:Client"}},
        "methods": [{"method": "training.control", "operation": "control_job", "calls": [{"result": ""}]}],
    }
    path = tmp_path / "next.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    coverage = coverage_of(contract, path)
    check = check_note(SEED_NOTE, contract, coverage.methods)
    assert {row.operation_id for row in check.wrong} == {"control_job"}
    assert "list_jobs" in {row.operation_id for row in check.confirmed}


def test_note_parser_reads_groups_endpoints_and_proposals_but_not_code_comments(contract: Contract) -> None:
    note = "\n".join(
        [
            "## SDK gaps",
            "#### 1. Things",
            "**Endpoints**:",
            "- `GET /api/training/[id]` - details",
            "- `GET /api/training/nowhere/at/all` - invented",
            "```python",
            "# Python SDK",
            "def get_thing(self, thing_id): ...",
            "```",
            "- `DELETE /api/training/[id]` - delete",
            "## Next section",
            "- `GET /api/training/jobs` - not under a group",
        ]
    )
    claims, names = parse_note(note)
    assert [(c.group, c.method, c.path) for c in claims] == [
        ("1. Things", "GET", "/api/training/[id]"),
        ("1. Things", "GET", "/api/training/nowhere/at/all"),
        ("1. Things", "DELETE", "/api/training/[id]"),
    ]
    assert names == [("1. Things", "get_thing")]


def test_endpoint_outside_the_contract_is_named_so(tmp_path: Path, contract: Contract) -> None:
    note = tmp_path / "note.md"
    note.write_text("#### 1. Ghosts\n- `POST /api/ghosts` - nothing\n", encoding="utf-8")
    [row] = check_note(note, contract, {}).rows
    assert row.operation_id is None and row.verdict == "not an operation of the contract"


def test_coverage_json_lists_every_operation(finetune_lab: Coverage, claims: ClaimCheck) -> None:
    data = finetune_lab.as_json(claims)
    assert data["summary"] == {"operations": 63, "covered": 18, "uncovered": 45}
    assert data["operations"]["cancel_batch_test"]["methods"] == ["batch_test.cancel"]
    assert len(data["uncovered_by_tag"]["deployments"]) == 18
    assert {e["verdict"] for e in data["claims"]["endpoints"]} == {"gap confirmed", "the note is wrong"}


def run_coverage(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FTL_GATE_SDK_")}
    return subprocess.run(
        [sys.executable, "-m", "contracts", "sdk", "coverage", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )


def test_coverage_command_writes_markdown_and_json(tmp_path: Path) -> None:
    result = run_coverage(
        "--manifest",
        "finetune-lab-0.6.0",
        "--claims",
        "seed-2025-12-17-sse-review-and-sdk-gaps",
        "--coverage",
        str(tmp_path / "c.md"),
        "--coverage-json",
        str(tmp_path / "c.json"),
    )
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / "c.md").read_text()
    assert "| deployments | 0 | 18 |" in markdown
    assert (
        "| 3. Training Control | `POST /api/training/local/[jobId]/control` | `control_job` | gap confirmed | — |"
        in markdown
    )
    assert json.loads((tmp_path / "c.json").read_text())["summary"]["covered"] == 18


def test_coverage_command_prints_the_matrix_without_output_files() -> None:
    result = run_coverage("--manifest", "finetune-lab-0.6.0")
    assert result.returncode == 0, result.stderr
    assert "# SDK coverage: finetune-lab 0.6.0" in result.stdout


def test_coverage_command_needs_an_sdk() -> None:
    result = run_coverage()
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ftl-gate sdk: error: coverage needs --manifest FILE or --results REPORT, one per SDK "
        "(or FTL_GATE_SDK_MANIFEST / FTL_GATE_SDK_RESULTS)"
    )


def run_report(sdk: str, methods: list[tuple[str, list[str], list[str]]]) -> dict[str, object]:
    """The part of an `ftl-gate sdk --json` report the coverage reads."""
    return {
        "manifest": {
            "sdk": sdk,
            "version": "1.0",
            "methods": [{"method": m, "reached": r, "failed_checks": f} for m, r, f in methods],
        }
    }


def test_a_run_report_shows_which_covered_operations_conform(contract: Contract) -> None:
    report = run_report(
        "demo", [("jobs.list", ["list_jobs"], []), ("jobs.cancel", ["cancel_batch_test"], ["body_conforms"])]
    )
    coverage = Coverage.from_report(contract, report, "demo.json")
    assert (coverage.subject, coverage.source) == ("demo 1.0", "run demo.json")
    assert coverage.cell("list_jobs") == "`jobs.list` ✓"
    assert coverage.cell("cancel_batch_test") == "`jobs.cancel` ✗ body_conforms"
    assert coverage.summary() == {
        "operations": 63,
        "covered": 2,
        "uncovered": 61,
        "conforming": 1,
        "with_defects": 1,
    }
    assert coverage.operation_json("cancel_batch_test") == {
        "methods": ["jobs.cancel"],
        "conforming": False,
        "defects": {"jobs.cancel": ["body_conforms"]},
    }


def test_both_sdks_side_by_side_with_the_note_checked_for_each(contract: Contract) -> None:
    python = coverage_of(contract, "finetune-lab-0.6.0")
    typescript = coverage_of(contract, "finetunelab-sdk-0.6.0")
    matrix = CoverageMatrix(contract, [python, typescript])
    claims = [check_note(SEED_NOTE, contract, column.methods) for column in matrix.columns]
    text = matrix.markdown(claims)
    assert text.startswith("# SDK coverage: finetune-lab 0.6.0 · @finetunelab/sdk 0.6.0\n")
    assert "| finetune-lab 0.6.0 | manifest " in text and "| 18 of 63 | — | — |" in text
    assert "| public | 2 | 0 | 0 |  |" in text
    assert (
        "| batch-testing | `cancel_batch_test` | POST | `/api/batch-testing/cancel` | `batch_test.cancel` | "
        "`batchTest.cancel` |" in text
    )
    assert (
        "| 2. Training Metrics Retrieval | `GET /api/training/local/[jobId]/logs` | `get_logs` | "
        "the note is wrong: `training.get_logs` | the note is wrong: `training.getLogs` |" in text
    )
    assert "- `get_logs` (2. Training Metrics Retrieval): @finetunelab/sdk 0.6.0 `training.getLogs`" in text
    data = matrix.as_json(claims)
    assert [sdk["summary"]["covered"] for sdk in data["sdks"]] == [18, 16]
    assert data["operations"]["get_logs"]["sdks"]["@finetunelab/sdk 0.6.0"] == {"methods": ["training.getLogs"]}


def test_coverage_command_sets_manifests_and_run_reports_side_by_side(tmp_path: Path) -> None:
    report = tmp_path / "ts.json"
    report.write_text(json.dumps(run_report("ts-sdk", [("training.getLogs", ["get_logs"], ["error_message_kept"])])))
    result = run_coverage("--manifest", "finetune-lab-0.6.0", "--results", str(report))
    assert result.returncode == 0, result.stderr
    assert "# SDK coverage: finetune-lab 0.6.0 · ts-sdk 1.0" in result.stdout
    assert "| `training.get_logs` | `training.getLogs` ✗ error_message_kept |" in result.stdout


def test_a_results_file_that_is_not_a_run_report_is_a_one_line_error(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text("{}")
    result = run_coverage("--results", str(other))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ftl-gate sdk: error: {other}: not the --json report of an `ftl-gate sdk --manifest` run"
    )
