"""Each client check catches the defect it names: the reference client with one planted defect, run on the case
that exposes it, gets that check failed (or warned, for a warning-level check).

One mock at time scale 0.05 serves every run; the runs go side by side, each defect its own client and job.
The healthy reference client passes every one of these checks (tests/test_client_conformance_cli.py).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator

import pytest

import spec
from contracts.client import CHECKS, Level, check
from contracts.client.cases import DEFAULT_DIR, discover
from contracts.client.mock import CaseMock
from contracts.client.rules import ClientRules
from contracts.client.runner import FAILED, WARNED, CaseResult, ClientRunner
from mockserver import process
from mockserver.process import MockProcess
from tests.conftest import ROOT

TIME_SCALE = 0.05
CLIENT = f"{sys.executable} {ROOT / 'tests' / 'defective_stream_client.py'}"

# defect -> (the case that exposes it, the check that must catch it)
DEFECTS: dict[str, tuple[str, str]] = {
    "tight-loop": ("reconnect-pacing", "reconnect_pacing"),
    "no-last-event-id": ("server-close", "last_event_id_sent"),
    "constant-retry": ("unavailable", "backs_off"),
    "gives-up-on-503": ("unavailable", "retries_transient_status"),
    "retries-401": ("unauthorized", "no_retry_on_give_up_status"),
    "silent-give-up": ("job-not-found", "reports_give_up"),
    "closes-early": ("training-run", "keeps_live_stream"),
    "no-accept": ("data-only", "accept_header"),
    "closes-on-error-event": ("subscription-error", "error_event_keeps_stream"),
    "no-key": ("data-only", "connects"),
    "no-reconnect": ("dropped-mid-message", "reconnects_after_end"),
    "duplicates": ("data-only", "events_exact"),
    "keeps-parser-state": ("dropped-mid-message", "events_exact"),
}


@pytest.fixture(scope="module")
def stream_mock() -> Iterator[MockProcess]:
    handle = process.start("--time-scale", str(TIME_SCALE))
    yield handle
    handle.stop()


async def _runs(mock: MockProcess) -> dict[str, CaseResult]:
    contract = spec.load()
    bounds = ClientRules.of(contract.stream).scaled(TIME_SCALE)
    cases = {case.name: case for case in discover(DEFAULT_DIR, contract.stream, bounds)}
    assert mock.api_key
    admin = CaseMock(mock.url, mock.api_key, contract.stream.operation)

    async def one(defect: str, case: str) -> CaseResult:
        runner = ClientRunner(f"{CLIENT} {defect}", [cases[case]], bounds, os.environ)
        (result,) = await runner.run(admin)
        return result

    try:
        found = await asyncio.gather(*(one(defect, case) for defect, (case, _) in DEFECTS.items()))
    finally:
        await admin.aclose()
    return dict(zip(DEFECTS, found, strict=True))


@pytest.fixture(scope="module")
def defect_runs(stream_mock: MockProcess) -> dict[str, CaseResult]:
    return asyncio.run(_runs(stream_mock))


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_planted_defect_is_caught_by_its_check(defect: str, defect_runs: dict[str, CaseResult]) -> None:
    case, name = DEFECTS[defect]
    result = defect_runs[defect]
    outcome = next(o for o in result.outcomes if o.check.name == name)
    expected = FAILED if CHECKS[name].level == Level.FAILURE else WARNED
    assert outcome.verdict == expected, (case, outcome, result.observation.stderr_tail)
    assert outcome.messages


def test_every_check_is_proven_by_a_planted_defect_or_the_naive_client() -> None:
    # The naive hook client proves detects_stall and undeliverable_data_reported (test_client_conformance_cli).
    proven = {name for _, name in DEFECTS.values()} | {"detects_stall", "undeliverable_data_reported"}
    assert proven == set(CHECKS)


def test_a_check_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        check("events_exact", Level.FAILURE, "again")(lambda obs: [])
