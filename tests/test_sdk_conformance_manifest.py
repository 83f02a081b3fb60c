"""Conformance manifests: loading with clear errors, result mappings, and references to the run's state.

No server here; the manifests are written by each test (plus the bundled finetune-lab one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.sdk.manifest import ManifestError, load
from contracts.sdk.mapping import compare
from contracts.sdk.refs import RefError, RunState
from spec import Contract
from spec import load as load_spec


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_spec()


def minimal(**method: Any) -> dict[str, Any]:
    entry = {"method": "training.list_jobs", "operation": "list_jobs", "calls": [{"result": ""}], **method}
    return {
        "sdk": "demo-sdk",
        "version": "1.0",
        "language": "python",
        "clients": {"client": {"factory": "demo_sdk:Client"}},
        "errors": {"DemoError": {"type": "demo_sdk:DemoError", "status": "status"}},
        "methods": [entry],
    }


def written(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, contract: Contract, document: dict[str, Any]) -> str:
    with pytest.raises(ManifestError) as caught:
        load(written(tmp_path, document), contract)
    return str(caught.value)


def test_bundled_finetune_lab_manifest_names_every_public_method(contract: Contract) -> None:
    manifest = load("finetune-lab-0.6.0", contract)
    names = {m.name for m in manifest.methods}
    assert {
        "predict",
        "batch_test.run",
        "batch_test.status",
        "batch_test.cancel",
        "analytics.traces",
        "analytics.create_trace",
        "analytics.data",
        "training.create_job",
        "training.list_jobs",
        "training.get_metrics",
        "training.get_logs",
        "training.get_errors",
        "training_predictions.get",
        "training_predictions.epochs",
        "training_predictions.trends",
        "training_predictions.create",
        "fetch_config",
        "fetch_datasets",
        "load_training_package",
    } == names


def test_a_minimal_manifest_loads(tmp_path: Path, contract: Contract) -> None:
    manifest = load(written(tmp_path, minimal()), contract)
    [method] = manifest.methods
    assert method.operations == ("list_jobs",)
    assert method.calls[0].result == {"": ""}
    assert method.calls[0].id == "training.list_jobs"


def test_unknown_operation_is_named_with_its_entry(tmp_path: Path, contract: Contract) -> None:
    message = load_error(tmp_path, contract, minimal(operation="list_all_jobs"))
    assert "methods[0] (training.list_jobs).operation: no operation 'list_all_jobs' in the spec" in message


def test_schema_violation_names_the_member(tmp_path: Path, contract: Contract) -> None:
    document = minimal()
    del document["methods"][0]["calls"]
    message = load_error(tmp_path, contract, document)
    assert "calls" in message and "required" in message


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path, contract: Contract) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("sdk: x\nmethods: [unclosed\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"not valid YAML: line \d+, column \d+"):
        load(path, contract)


def test_reference_to_a_call_that_runs_later_is_refused(tmp_path: Path, contract: Contract) -> None:
    calls = [{"args": ["${response:later/job_id}"]}, {"id": "later"}]
    message = load_error(tmp_path, contract, minimal(calls=calls))
    assert "calls[0].args: ${response:later/job_id}: call 'later' does not run before this one" in message


def test_unknown_reference_source_is_refused(tmp_path: Path, contract: Contract) -> None:
    message = load_error(tmp_path, contract, minimal(calls=[{"args": ["${secret:key}"]}]))
    assert "unknown source 'secret'" in message


def test_mapping_with_unbalanced_lists_is_refused(tmp_path: Path, contract: Contract) -> None:
    message = load_error(tmp_path, contract, minimal(calls=[{"result": {"jobs[].id": "/jobs"}}]))
    assert "must have as many [] as *" in message


def test_expected_status_needs_an_error_with_a_status_attribute(tmp_path: Path, contract: Contract) -> None:
    message = load_error(tmp_path, contract, minimal(calls=[{"raises": {"error": "ValueError", "status": 400}}]))
    assert "raises.status" in message
    assert load(written(tmp_path, minimal(calls=[{"raises": {"error": "DemoError", "status": 400}}])), contract)


def test_unknown_error_type_is_refused(tmp_path: Path, contract: Contract) -> None:
    message = load_error(tmp_path, contract, minimal(calls=[{"raises": {"error": "NoSuchError"}}]))
    assert "'NoSuchError' is not in `errors`" in message


def test_bundled_typescript_manifest_names_every_public_method_of_the_reference(contract: Contract) -> None:
    manifest = load("finetunelab-sdk-0.6.0", contract)
    assert (manifest.sdk, manifest.version, manifest.language) == ("@finetunelab/sdk", "0.6.0", "typescript")
    operations = {m.name: m.operations for m in manifest.methods}
    assert operations == {  # reference §12.2: the client's methods, `request` included
        "predict": ("predict",),
        "request": ("list_jobs",),
        "batchTest.run": ("run_batch_test",),
        "batchTest.status": ("get_batch_test_status",),
        "batchTest.cancel": ("cancel_batch_test",),
        "analytics.traces": ("list_traces",),
        "analytics.createTrace": ("create_trace",),
        "analytics.data": ("get_analytics_data",),
        "training.createJob": ("create_job",),
        "training.listJobs": ("list_jobs",),
        "training.getMetrics": ("get_metrics",),
        "training.getLogs": ("get_logs",),
        "training.getErrors": ("get_errors",),
        "trainingPredictions.get": ("get_predictions",),
        "trainingPredictions.epochs": ("get_prediction_epochs",),
        "trainingPredictions.trends": ("get_prediction_trends",),
        "trainingPredictions.create": ("create_predictions",),
    }
    assert manifest.client_error("training_key") == "FinetuneLabError"


def test_a_python_manifest_names_factories_and_errors_by_import_path(tmp_path: Path, contract: Contract) -> None:
    document = minimal()
    document["clients"]["client"]["factory"] = "Client"
    assert "clients.client.factory: 'Client' is not module:attribute" in load_error(tmp_path, contract, document)
    document["language"] = "javascript"
    assert load(written(tmp_path, document), contract).clients["client"].factory == "Client"


def test_a_client_error_must_be_known(tmp_path: Path, contract: Contract) -> None:
    document = minimal()
    document["clients"]["client"]["error"] = "NoSuchError"
    assert "clients.client.error: 'NoSuchError' is not in `errors`" in load_error(tmp_path, contract, document)
    document["clients"]["client"]["error"] = "RuntimeError"
    assert load(written(tmp_path, document), contract).client_error("client") == "RuntimeError"


@dataclass
class Item:
    epoch: int
    step: int


@dataclass
class Page:
    test_id: str
    items: list[Item]


def test_mapping_flags_a_field_read_under_the_wrong_name() -> None:
    result = Page(test_id="", items=[])
    [finding] = compare(result, {"test_run_id": "r1", "items": []}, {"test_id": "/test_run_id"})
    assert finding.check == "result_matches" and finding.field == "test_id"
    assert "'' but the response's /test_run_id is 'r1'" in finding.message


def test_mapping_compares_every_item_and_names_the_one_that_differs() -> None:
    result = Page("r1", [Item(1, 10), Item(2, 99)])
    response = {"items": [{"epoch": 1, "step": 10}, {"epoch": 2, "step": 20}]}
    [finding] = compare(result, response, {"items[].epoch": "/items/*/epoch", "items[].step": "/items/*/step"})
    assert finding.field == "items[1].step"
    assert "/items/1/step is 20" in finding.message


def test_mapping_counts_items() -> None:
    [finding] = compare(Page("r1", [Item(1, 1)]), {"items": []}, {"items[].epoch": "/items/*/epoch"})
    assert "has 1 values but the response's /items/*/epoch has 0" in finding.message


def test_mapping_of_the_whole_value_uses_json_equality() -> None:
    assert compare({"a": 1.0, "b": [True]}, {"a": 1, "b": [True]}, {"": ""}) == []
    assert compare({"a": 1}, {"a": True}, {"": ""})  # True is not 1 in JSON
    assert compare({"a": 1}, {"a": 1, "extra": 2}, {"": ""})


def test_mapping_of_a_field_the_response_lacks_only_warns() -> None:
    [finding] = compare({"x": 1}, {}, {"x": "/x"})
    assert finding.severity.value == "warning"


def state(**kwargs: Any) -> RunState:
    return RunState(
        demo={"job_id": "job_demo_001", "api_key": "wak_x"},
        target={"url": "http://proxy"},
        run_id="r42",
        tmp_dir="/tmp/x",
        data=lambda: {"test_suites": [{"id": "suite-1"}]},
        **kwargs,
    )


def test_references_resolve_to_values_of_any_type() -> None:
    run = state(responses={"new_job": {"job_token": "tok", "count": 3}})
    assert run.resolve("${demo:job_id}") == "job_demo_001"
    assert run.resolve({"n": "${response:new_job/count}"}) == {"n": 3}
    assert run.resolve(["${data:/test_suites/0/id}"]) == ["suite-1"]
    assert run.resolve("job_${run:id}_for_${demo:job_id}") == "job_r42_for_job_demo_001"


def test_reference_without_a_value_raises() -> None:
    with pytest.raises(RefError, match="has no value"):
        state(responses={"new_job": {}}).resolve("${response:new_job/job_token}")
    with pytest.raises(RefError, match="has not run"):
        state().resolve("${result:never/x}")
