"""Provisioning: what the gate creates before fuzzing, which parameters it feeds, and what it says when it cannot.

Everything goes through the API with the given credentials (the journal shows no admin request of the gate);
`--existing` replaces what cannot be created; without a credential, the checks that need it are skipped with
the reason, never passed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN, MockProcess

import spec
from contracts.cli import main
from contracts.credentials import Authenticator, Credentials
from contracts.gate import SUCCESS_CHECK
from contracts.provisioning import KINDS, Provisioner, bindings
from contracts.results import Results

CONTRACT = spec.load()


def test_bindings_follow_the_links_and_the_names_they_give() -> None:
    bound = bindings(CONTRACT)
    assert bound["get_predictions"] == {"path.jobId": "job"}
    assert bound["get_prediction_epochs"] == {"path.jobId": "job"}  # named like a linked one, so bound too
    assert bound["create_predictions"] == {
        "body.job_id": "job",
        "body.predictions[*].job_id": "job",
        "body.predictions[*].user_id": "job_user",
    }
    assert bound["list_local_metrics"] == {"query.job_id": "job"}
    assert bound["get_config"] == {"path.id": "config"}
    assert bound["update_baseline"] == {"query.id": "baseline"}
    assert bound["cancel_batch_test"] == {"body.test_run_id": "batch"}
    # A delete, or an operation that takes a job out of `running`, works on a spare of its own.
    assert bound["delete_dataset"] == {"path.id": "dataset_spare"}
    assert bound["update_job_status"] == {"path.jobId": "job_spare"}
    # The creators are not fed their own resource.
    assert all(kind.creator not in bound for kind in KINDS)


def journal(mock: MockProcess) -> list[dict]:
    return httpx.get(f"{mock.admin}/journal", timeout=10).json()["entries"]


def test_provisioning_creates_every_kind_through_the_api(mock: MockProcess) -> None:
    auth = Authenticator(CONTRACT, Credentials(api_key=ALICE_KEY, bearer=ALICE_SESSION_TOKEN))
    provisioner = Provisioner(CONTRACT, auth, mock.url, Results(), billed=True)
    resources = provisioner.provision({kind.name for kind in KINDS}, {"config"})
    assert resources.missing == {}
    for name in ("job.id", "job.token", "job.user_id", "dataset.id", "config.id", "config_spare.id", "baseline.id"):
        assert resources.values.get(name), name
    # Every deployment too (billed ones are created on a mock only); the pod trains the config's dataset.
    assert all(resources.values.get(f"{kind.name}.id") for kind in KINDS if kind.billed)
    assert resources.values["batch.id"]
    sent = journal(mock)
    assert all(entry["operation_id"] for entry in sent), [e["path"] for e in sent if not e["operation_id"]]
    fillers = [entry["operation_id"] for entry in sent if entry["status"] == 200]
    assert fillers.count("create_predictions") == 1 and fillers.count("record_metric") == 2
    epochs = httpx.get(
        f"{mock.url}{CONTRACT.operation('get_prediction_epochs').path.format(jobId=resources.values['job.id'])}",
        headers={"X-API-Key": ALICE_KEY},
        timeout=10,
    ).json()["epochs"]
    assert len(epochs) == 2


def test_a_billed_deployment_is_never_created_on_a_target(mock: MockProcess) -> None:
    auth = Authenticator(CONTRACT, Credentials(api_key=ALICE_KEY, bearer=ALICE_SESSION_TOKEN))
    resources = Provisioner(CONTRACT, auth, mock.url, Results()).provision({"runpod"})
    why = "creating one would start a billed deployment (create_runpod_deployment) (or pass --existing runpod=ID)"
    assert resources.missing == {"runpod": why}
    # Nor what only it would need (a configuration with a dataset attached).
    assert resources.values == {}
    assert journal(mock) == []
    # Billed kinds are kept from the fuzzer, whose deletes would stop them.
    assert "get_runpod_deployment" not in bindings(CONTRACT)


def test_existing_ids_replace_what_would_be_created(mock: MockProcess) -> None:
    auth = Authenticator(CONTRACT, Credentials(api_key=ALICE_KEY, job_token=DEMO_JOB_TOKEN))
    provisioner = Provisioner(CONTRACT, auth, mock.url, Results(), existing={"job": DEMO_JOB})
    resources = provisioner.provision({"job"})
    assert (resources.values["job.id"], resources.values["job.token"]) == (DEMO_JOB, DEMO_JOB_TOKEN)
    assert [entry["operation_id"] for entry in journal(mock)] == []


def test_without_a_session_the_dataset_checks_are_skipped_and_say_why(
    mock: MockProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "gate.xml"
    argv = ["--base-url", mock.url, "--api-key", ALICE_KEY, "--include", "preview_dataset", "--seed", "1"]
    assert main([*argv, "--junit-xml", str(junit)], {}) == 0
    out = capsys.readouterr().out
    why = "dataset: no credential satisfies upload_dataset (or pass --existing dataset=ID)"
    assert f"not provisioned: {why}" in out
    cases = {c.get("name"): c for c in ET.parse(junit).iter("testcase") if c.get("classname") == "preview_dataset"}
    skipped = cases[SUCCESS_CHECK].find("skipped")
    assert skipped is not None and why in skipped.get("message", "")
    assert all(case.find("failure") is None for case in cases.values())


def test_a_check_that_never_judged_is_skipped_not_passed(mock: MockProcess, tmp_path: Path) -> None:
    junit = tmp_path / "gate.xml"
    argv = [
        "--base-url",
        mock.url,
        "--api-key",
        ALICE_KEY,
        "--bearer",
        ALICE_SESSION_TOKEN,
        "--include",
        "delete_baseline",
    ]
    assert main([*argv, "--seed", "1", "--quiet", "--junit-xml", str(junit)], {}) == 0
    case = next(c for c in ET.parse(junit).iter("testcase") if c.get("name") == "use_after_free")
    skipped = case.find("skipped")
    assert skipped is not None
    assert "no successful delete was followed by a read of the same resource" in skipped.get("message", "")
    assert "no read of the same resource is linked from create_baseline" in skipped.get("message", "")
