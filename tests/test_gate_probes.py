"""Divergence probes: confirmed on a platform-like target, not reproduced on the mock (which follows the contract),
not probed with the reason when the operation, a provisioned resource or a credential is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, MockProcess
from platform_double import ALICE_KEY as DOUBLE_KEY
from platform_double import PlatformDouble
from servers import ProcessServer

import spec
from contracts.credentials import Authenticator, Credentials
from contracts.divergences import DEFAULT_FILE, Divergence, load
from contracts.gate import check_names
from contracts.probes import Prober, ProbeState
from contracts.provisioning import PLACEHOLDERS, Provisioner, Resources
from contracts.results import Results

CONTRACT = spec.load()
CHECKS = check_names(CONTRACT)
ENTRIES = {entry.id: entry for entry in load(DEFAULT_FILE, CONTRACT, CHECKS, PLACEHOLDERS)}
NAN_EPOCH = ENTRIES["predictions-epoch-not-a-number"]


@pytest.fixture(scope="module")
def double() -> Iterator[str]:
    with ProcessServer(lambda: PlatformDouble(heartbeat_s=15)) as server:
        yield server.url


def provisioned(url: str, credentials: Credentials) -> tuple[Authenticator, Resources]:
    auth = Authenticator(CONTRACT, credentials)
    resources = Provisioner(CONTRACT, auth, url, Results()).provision({"job"})
    return auth, resources


def probe(url: str, entries: list[Divergence], credentials: Credentials, selected: list[str] | None = None) -> dict:
    auth, resources = provisioned(url, credentials)
    chosen = selected or [entry.operation for entry in entries]
    outcomes = Prober(CONTRACT, auth, url, resources, Results()).run(entries, chosen)
    return {outcome.divergence.id: outcome for outcome in outcomes}


def test_a_divergence_the_target_shows_is_confirmed(double: str) -> None:
    outcome = probe(double, [NAN_EPOCH], Credentials(api_key=DOUBLE_KEY))[NAN_EPOCH.id]
    assert (outcome.state, outcome.detail) == (ProbeState.CONFIRMED, "HTTP 500")
    assert outcome.curl is not None and "epoch=abc" in outcome.curl


def test_on_a_target_that_follows_the_contract_it_is_not_reproduced(mock: MockProcess) -> None:
    outcome = probe(mock.url, [NAN_EPOCH], Credentials(api_key=ALICE_KEY))[NAN_EPOCH.id]
    assert outcome.state == ProbeState.NOT_REPRODUCED
    assert outcome.detail.startswith("answered HTTP 400")


def test_a_probe_with_a_setup_confirms_a_state_the_divergence_needs(double: str) -> None:
    entry = ENTRIES["job-status-free-text"]
    assert entry.probe is not None and entry.probe.setup
    outcome = probe(double, [entry], Credentials(api_key=DOUBLE_KEY))[entry.id]
    assert outcome.state == ProbeState.CONFIRMED


def test_reasons_for_not_probing(double: str, tmp_path: Path) -> None:
    own = tmp_path / "divergences.yaml"
    foreign = {
        "id": "foreign-read",
        "operation": "get_predictions",
        "checks": ["not_a_server_error"],
        "status": 500,
        "probe": {"credentials": "other_api_key", "path": {"jobId": "{job.id}"}},
        "platform": "p",
        "contract": "c",
        "reference": "§1.5",
    }
    needs_dataset = {**foreign, "id": "needs-dataset", "probe": {"path": {"jobId": "{dataset.id}"}}}
    own.write_text(yaml.safe_dump({"divergences": [foreign, needs_dataset]}), encoding="utf-8")
    entries = list(load(own, CONTRACT, CHECKS, PLACEHOLDERS))
    unprobed = ENTRIES["batch-run-settings-unchecked"]
    outcomes = probe(double, [*entries, unprobed, NAN_EPOCH], Credentials(api_key=DOUBLE_KEY), ["get_predictions"])
    assert {name: (o.state, o.detail) for name, o in outcomes.items()} == {
        "foreign-read": (ProbeState.NOT_PROBED, "no credential for it (--other-api-key)"),
        "needs-dataset": (ProbeState.NOT_PROBED, "no dataset: nothing provisioned for {dataset.id}"),
        "batch-run-settings-unchecked": (ProbeState.NOT_PROBED, "operation not selected"),
        NAN_EPOCH.id: (ProbeState.CONFIRMED, "HTTP 500"),
    }


def test_credentials_the_target_rejects_are_no_verdict_on_the_divergence(double: str) -> None:
    auth, resources = provisioned(double, Credentials(api_key=DOUBLE_KEY))
    stranger = Authenticator(CONTRACT, Credentials(api_key="wak_" + "Z" * 32, bearer=ALICE_SESSION_TOKEN))
    (outcome,) = Prober(CONTRACT, stranger, double, resources, Results()).run([NAN_EPOCH], [NAN_EPOCH.operation])
    assert outcome.state == ProbeState.NOT_PROBED
    assert outcome.detail == "the target rejected the probe's credentials (HTTP 401)"
    assert auth is not stranger
