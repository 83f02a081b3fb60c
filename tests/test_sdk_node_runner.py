"""The TypeScript manifest run through the Node runner against an SDK-shaped Node module with planted defects.

`tests/sdk_fixtures/sdk.mjs` follows the contract; each variant file plants one defect. Every defect must be
reported by the check for its rule and nothing else may fail; the clean variant must pass. A runner that
crashes, hangs or prints garbage gives one finding on the call it was on, and the run goes on.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.sdk.journal_check import SdkAdmin
from contracts.sdk.manifest import Manifest, load
from contracts.sdk.runner import ManifestRun, ManifestRunner
from contracts.sdk.runners import RUNNERS_DIR
from contracts.sdk.target import Demo
from spec import Contract
from spec import load as load_spec
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN, ROOT, MockProcess
from tests.test_sdk_conformance_cli import gate_sdk

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node (18+) is not installed: the Node runner tests need it"
)
FIXTURES = ROOT / "tests" / "sdk_fixtures"
NODE_RUNNER = RUNNERS_DIR / "node.mjs"
TS_MANIFEST = "finetunelab-sdk-0.6.0"


def runner_for(variant: str) -> str:
    return shlex.join(["node", str(NODE_RUNNER), str(FIXTURES / f"{variant}.mjs")])


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_spec()


@pytest.fixture(scope="module")
def manifest(contract: Contract) -> Manifest:
    return load(TS_MANIFEST, contract)


@pytest.fixture
def admin(shared_mock: MockProcess) -> Iterator[SdkAdmin]:
    httpx.post(f"{shared_mock.admin}/reset", json={}, timeout=10).raise_for_status()
    handle = SdkAdmin(shared_mock.url)
    yield handle
    handle.close()


def run_variant(
    variant: str, mock: MockProcess, admin: SdkAdmin, contract: Contract, manifest: Manifest, timeout: float = 30
) -> ManifestRun:
    demo = Demo(mock.url, ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB_TOKEN, DEMO_JOB)
    return ManifestRunner(contract, manifest, demo, admin, runner_for(variant), call_timeout=timeout).run()


def findings(run: ManifestRun, failed: bool = True) -> set[tuple[str, str]]:
    return {
        (m.method.name, f.check)
        for m in run.methods
        for call in m.calls
        for f in call.all_findings
        if f.is_failure == failed
    }


def test_the_typescript_manifest_reaches_every_operation_it_names_on_a_conforming_module(
    shared_mock: MockProcess, admin: SdkAdmin, contract: Contract, manifest: Manifest
) -> None:
    run = run_variant("clean", shared_mock, admin, contract, manifest)
    assert findings(run) == set()
    assert findings(run, failed=False) == set(), "a conforming SDK gets no warning either"
    for outcome in run.methods:
        assert outcome.reached == set(outcome.method.operations), outcome.method.name
    assert (run.runner, run.installed) == ("node", "0.6.0")
    assert run.location == str(FIXTURES / "clean.mjs")


PLANTED = {
    "wrong-body-key": {("batchTest.cancel", "body_conforms"), ("batchTest.cancel", "call_succeeds")},
    "missing-required-query": {("analytics.data", "parameters_conform"), ("analytics.data", "call_succeeds")},
    "wrong-result-mapping": {("batchTest.run", "result_matches")},
}


@pytest.mark.parametrize("variant", list(PLANTED))
def test_each_planted_request_or_result_defect_is_reported_by_its_check(
    variant: str, shared_mock: MockProcess, admin: SdkAdmin, contract: Contract, manifest: Manifest
) -> None:
    run = run_variant(variant, shared_mock, admin, contract, manifest)
    assert findings(run) == PLANTED[variant]


def test_wrong_result_mapping_names_the_field_and_the_response_pointer(
    shared_mock: MockProcess, admin: SdkAdmin, contract: Contract, manifest: Manifest
) -> None:
    run = run_variant("wrong-result-mapping", shared_mock, admin, contract, manifest)
    [method] = [m for m in run.methods if m.method.name == "batchTest.run"]
    [finding] = [f for call in method.calls for f in call.all_findings if f.is_failure]
    assert finding.field == "testId"
    assert finding.message.startswith("testId is '' but the response's /test_run_id is '")


def test_a_lost_error_message_is_reported_on_every_method_whose_errors_carry_a_string(
    shared_mock: MockProcess, admin: SdkAdmin, contract: Contract, manifest: Manifest
) -> None:
    run = run_variant("lost-error-message", shared_mock, admin, contract, manifest)
    assert {check for _, check in findings(run)} == {"error_message_kept"}
    # predict's errors are OpenAI-style objects (E3), whose message the module keeps; every other method's are E1.
    assert {method for method, _ in findings(run)} == {m.name for m in manifest.methods} - {"predict"}
    [get] = [m for m in run.methods if m.method.name == "trainingPredictions.get"]
    unknown = next(c for c in get.calls if c.call.id == "predictions.get.unknown")
    [finding] = unknown.findings
    assert finding.message == (
        "message 'HTTP 404: Not Found' does not carry the server's message 'Job not found' (E1 body /error)"
    )


def test_an_ignored_parameter_sent_is_a_warning_of_its_own_check(
    shared_mock: MockProcess, admin: SdkAdmin, contract: Contract, manifest: Manifest
) -> None:
    run = run_variant("ignored-parameter", shared_mock, admin, contract, manifest)
    assert findings(run) == set()
    assert findings(run, failed=False) == {("training.listJobs", "parameters_used")}


@pytest.mark.parametrize(
    ("variant", "method", "said"),
    [
        ("crash", "training.getMetrics", "no answer to training.getMetrics: the runner exited with status 3"),
        ("hang", "training.getErrors", "no answer to training.getErrors: the runner did not answer within 2 s"),
        (
            "garbage",
            "training.getLogs",
            "no answer to training.getLogs: the runner wrote a line that is not a protocol answer: 'fetching logs...'",
        ),
    ],
)
def test_a_runner_that_crashes_hangs_or_prints_garbage_breaks_only_that_call(
    variant: str,
    method: str,
    said: str,
    shared_mock: MockProcess,
    admin: SdkAdmin,
    contract: Contract,
    manifest: Manifest,
) -> None:
    run = run_variant(variant, shared_mock, admin, contract, manifest, timeout=2)
    assert findings(run) == {(method, "runner_answers")}
    [outcome] = [m for m in run.methods if m.method.name == method]
    assert all(f.message.startswith(said) for call in outcome.calls for f in call.findings)
    after = [m for m in run.methods if m.method.name == "trainingPredictions.create"]
    assert after and not after[0].failed, "the runner was started again for the methods after it"


def test_the_cli_runs_every_method_and_reports_method_check_request_and_rule(tmp_path: Path) -> None:
    result = gate_sdk(
        "--manifest", TS_MANIFEST, "--runner", runner_for("wrong-body-key"), "--json", str(tmp_path / "ts.json")
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ batchTest.cancel -> cancel_batch_test · body_conforms (1 violation)" in result.stdout
    assert "[batch.cancel] body.test_run_id: is required" in result.stdout
    assert '-d \'{"test_id":' in result.stdout and "/api/batch-testing/cancel" in result.stdout
    report = json.loads((tmp_path / "ts.json").read_text())
    assert report["manifest"]["runner"] == "node"
    assert {m["method"] for m in report["manifest"]["methods"]} == {
        m.name for m in load(TS_MANIFEST, load_spec()).methods
    }


def test_the_cli_passes_the_conforming_module(tmp_path: Path) -> None:
    result = gate_sdk("--manifest", TS_MANIFEST, "--runner", runner_for("clean"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().startswith("ftl-gate sdk: passed:")


@pytest.mark.parametrize(
    ("runner", "said"),
    [
        ("true", "ftl-gate sdk: error: --runner: hello: the runner exited with status 0"),
        ("nonexistent-node-binary x", "ftl-gate sdk: error: --runner: hello: the runner exited with status 127"),
        (
            f"node {NODE_RUNNER} tests/sdk_fixtures/nowhere.mjs",
            "ftl-gate sdk: error: --runner: hello failed: runner:CannotLoad: cannot find tests/sdk_fixtures/nowhere",
        ),
        (
            f"node {NODE_RUNNER} tests/sdk_fixtures/sdk.mjs",
            "ftl-gate sdk: error: --runner: hello failed: runner:CannotLoad: error type FinetuneLabError is neither",
        ),
    ],
)
def test_a_runner_that_cannot_start_is_a_one_line_setup_error(runner: str, said: str) -> None:
    result = gate_sdk("--manifest", TS_MANIFEST, "--runner", runner, "--call-timeout", "20")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(said), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_manifest_in_another_language_needs_a_runner() -> None:
    result = gate_sdk("--manifest", TS_MANIFEST)
    assert result.returncode == 2
    assert "is a typescript manifest: give --runner COMMAND" in result.stderr
