"""The real `finetune-lab` 0.6.0 SDK run through its manifest against a real ftl-mock.

The report must flag the release's known defects (reference §11-12) with the method and the field, and
pass the methods that are right; a repaired method must pass the same checks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import finetune_lab
import httpx
import pytest
from finetune_lab.client import BatchTestClient

from contracts.sdk.findings import Finding
from contracts.sdk.journal_check import SdkAdmin
from contracts.sdk.manifest import Manifest, load
from contracts.sdk.runner import ManifestRun, ManifestRunner, MethodOutcome
from contracts.sdk.runners import python_command
from contracts.sdk.target import Demo
from spec import Contract
from spec import load as load_spec
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN, MockProcess


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_spec()


@pytest.fixture(scope="module")
def manifest(contract: Contract) -> Manifest:
    return load("finetune-lab-0.6.0", contract)


def run_manifest(mock: MockProcess, contract: Contract, manifest: Manifest, command: str | None = None) -> ManifestRun:
    """Run the manifest (in-process, or through the runner `command` over its stdin and stdout)."""
    httpx.post(f"{mock.admin}/reset", json={}, timeout=10).raise_for_status()
    demo = Demo(mock.url, ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB_TOKEN, DEMO_JOB)
    admin = SdkAdmin(mock.url)
    try:
        return ManifestRunner(contract, manifest, demo, admin, command).run()
    finally:
        admin.close()


@pytest.fixture(scope="module")
def run(shared_mock: MockProcess, contract: Contract, manifest: Manifest) -> ManifestRun:
    return run_manifest(shared_mock, contract, manifest)


def outcome(run: ManifestRun, method: str) -> MethodOutcome:
    return next(m for m in run.methods if m.method.name == method)


def failures(run: ManifestRun, method: str) -> list[Finding]:
    return [f for call in outcome(run, method).calls for f in call.all_findings if f.is_failure]


def test_the_installed_sdk_is_the_release_the_manifest_describes(run: ManifestRun) -> None:
    assert run.installed == "0.6.0"
    assert run.location == finetune_lab.__file__


def test_batch_test_run_returns_an_empty_test_id(run: ManifestRun) -> None:
    found = {(f.check, f.field): f for f in failures(run, "batch_test.run")}
    finding = found[("result_matches", "test_id")]
    assert "test_id is '' but the response's /test_run_id is '" in finding.message


def test_batch_test_run_reads_total_prompts_from_a_member_the_response_lacks(run: ManifestRun) -> None:
    assert ("result_matches", "total_prompts") in {(f.check, f.field) for f in failures(run, "batch_test.run")}


def test_batch_test_cancel_sends_test_id_where_test_run_id_is_required(run: ManifestRun) -> None:
    found = {(f.check, f.field) for f in failures(run, "batch_test.cancel")}
    assert ("body_conforms", "body.test_run_id") in found
    warned = [f for call in outcome(run, "batch_test.cancel").calls for f in call.all_findings if not f.is_failure]
    assert [f.field for f in warned] == ["body.test_id"]


def test_training_predictions_create_raises_type_error_on_an_error_response(run: ManifestRun) -> None:
    by_call = {
        call.call.id: [f for f in call.all_findings if f.is_failure]
        for call in outcome(run, "training_predictions.create").calls
    }
    [finding] = by_call["predictions.create.bad_token"]
    assert finding.check == "raises_expected_error"
    assert finding.field == "FinetuneLabError"
    assert (
        finding.message.startswith("raised TypeError:")
        and "instead of FinetuneLabError (status 401)" in finding.message
    )
    [probed] = by_call["predictions.create:E1-400"]  # the same defect on the error shape the operation declares
    assert probed.check == "raises_expected_error" and "instead of FinetuneLabError (status 400)" in probed.message


def test_every_method_meets_each_error_shape_its_operations_declare(run: ManifestRun) -> None:
    probed = {m.method.name: sorted(c.probe for c in m.calls if c.probe) for m in run.methods}
    assert probed["predict"] == ["E3 400 from predict"]
    assert probed["training.get_metrics"] == ["E1 401 from get_metrics"]
    assert probed["load_training_package"] == ["E1 404 from get_public_config", "E1 404 from get_public_datasets"]
    assert all(probed[m.method.name] for m in run.methods)


def test_training_loader_loses_the_server_error_message(run: ManifestRun) -> None:
    for method in ("fetch_config", "fetch_datasets", "load_training_package"):
        found = failures(run, method)
        assert {f.check for f in found} == {"error_message_kept"}, method
        assert all(
            f.message.startswith("message 'Failed to fetch ")
            and "does not carry the server's message 'Injected fault: HTTP 404' (E1 body /error)" in f.message
            for f in found
        )


def test_analytics_data_with_defaults_sends_no_dates(run: ManifestRun) -> None:
    calls = {call.call.id: call for call in outcome(run, "analytics.data").calls}
    defaults = {(f.check, f.field) for f in calls["analytics.data.defaults"].all_findings if f.is_failure}
    assert {("parameters_conform", "startDate"), ("parameters_conform", "endDate")} <= defaults
    assert not calls["analytics.data.range"].failed


@pytest.mark.parametrize(
    "method",
    [
        "training_predictions.get",
        "training_predictions.epochs",
        "training_predictions.trends",
        "training.create_job",
        "training.list_jobs",
        "training.get_metrics",
        "training.get_logs",
        "training.get_errors",
        "batch_test.status",
        "analytics.traces",
        "analytics.create_trace",
        "predict",
    ],
)
def test_methods_that_follow_the_contract_pass(run: ManifestRun, method: str) -> None:
    assert failures(run, method) == []
    assert outcome(run, method).reached == set(outcome(run, method).method.operations)


def test_list_jobs_is_warned_for_the_paging_the_platform_ignores(run: ManifestRun) -> None:
    warned = [f for call in outcome(run, "training.list_jobs").calls for f in call.all_findings if not f.is_failure]
    assert [(f.check, f.field) for f in warned] == [("parameters_used", "limit"), ("parameters_used", "offset")]
    assert all("the platform ignores it" in f.message for f in warned)


def signature(run: ManifestRun) -> list[tuple[str, str, str, str, str | None]]:
    return sorted(
        (m.method.name, call.call.id, f.check, f.severity.value, f.field)
        for m in run.methods
        for call in m.calls
        for f in call.all_findings
    )


def test_the_python_runner_over_its_stdin_and_stdout_finds_the_same(
    shared_mock: MockProcess, contract: Contract, manifest: Manifest, run: ManifestRun
) -> None:
    over_pipes = run_manifest(shared_mock, contract, manifest, python_command())
    assert over_pipes.runner == "python" and over_pipes.installed == "0.6.0"
    assert signature(over_pipes) == signature(run)


def test_every_request_was_journalled_and_checked(run: ManifestRun) -> None:
    sent = [r for m in run.methods for call in m.calls for r in call.requests]
    assert len(sent) >= 25
    assert all(r.operation_id is not None for r in sent)


def test_a_repaired_cancel_passes_the_checks_that_flag_the_release(
    shared_mock: MockProcess, contract: Contract, manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cancel(self: Any, test_id: str) -> dict[str, Any]:
        return dict(self._parent._request("POST", "/api/batch-testing/cancel", json={"test_run_id": test_id}))

    monkeypatch.setattr(BatchTestClient, "cancel", cancel)
    subset = dataclasses.replace(
        manifest, methods=tuple(m for m in manifest.methods if m.name in ("batch_test.run", "batch_test.cancel"))
    )
    repaired = run_manifest(shared_mock, contract, subset)
    assert failures(repaired, "batch_test.cancel") == []
    assert failures(repaired, "batch_test.run")  # the run method is still broken
