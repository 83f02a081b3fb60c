"""`ftl-gate --design NAME` checks a backend against a design's contract: green on `ftl-mock --design NAME`, red on a
mock that serves the base contract, naming the rules the design changed.

The runs are kept lean (5 to 10 s each): the stream and the two operations it depends on (`create_predictions`
triggers it, `get_prediction_trends` is what sse-push carries), two examples per operation and phase, one seed;
the runs that must fail check the stream alone, with one example.
The design's own checks must have judged something (passed, not skipped), so a green run is not a vacuous one.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_KEY, ROOT, MockProcess, start_mock

import spec

LEAN = ("--include", "stream_predictions,create_predictions,get_prediction_trends", "--max-examples", "2")
STREAM_ONLY = ("--include", "stream_predictions", "--max-examples", "1")
# The checks of the rule each design adds (they skip on a contract without it) ...
OWN_CHECKS = {
    "sse-push": {"live_push_matches_rest"},
    "sse-epoch-filter": {"stream_filter"},
    "sse-batched-2s": {"stream_batch_window"},
    "sse-limit": {"stream_user_limit"},
    "sse-gzip": {"stream_content_coding"},
}
# ... and what the gate reports when the server serves the base contract instead.
BROKEN_ON_THE_BASE = {
    "sse-push": {"stream_event_data", "live_push_matches_rest"},
    "sse-epoch-filter": {"stream_filter"},
    "sse-batched-2s": {"stream_event_declared", "live_prediction_delivery"},
    "sse-limit": {"stream_user_limit"},
    "sse-gzip": {"stream_content_coding", "stream_headers"},
}


def gate(*args: str, out: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run ftl-gate; its result and each stream check's verdict (passed, failed or skipped) from its JUnit report."""
    report = out / "gate.xml"
    done = subprocess.run(
        [sys.executable, "-m", "contracts", *args, "--seed", "1", "--quiet", "--junit-xml", str(report)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    verdicts = {}
    for case in ET.parse(report).iter("testcase"):
        if case.get("classname") == "stream_predictions":
            kind = next((child.tag for child in case if child.tag in ("failure", "skipped")), "passed")
            verdicts[str(case.get("name"))] = kind
    return done, verdicts


def test_every_bundled_design_is_tested_here() -> None:
    assert set(OWN_CHECKS) == set(BROKEN_ON_THE_BASE) == set(spec.designs())


@pytest.mark.parametrize("design", sorted(OWN_CHECKS))
def test_the_gate_passes_the_mock_serving_the_same_design(design: str, tmp_path: Path) -> None:
    done, verdicts = gate("--design", design, *LEAN, out=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "ftl-gate: passed:" in done.stdout
    assert {check: verdicts[check] for check in OWN_CHECKS[design]} == dict.fromkeys(OWN_CHECKS[design], "passed")
    # Every other design's check has nothing to judge here, and says so.
    others = set().union(*OWN_CHECKS.values()) - OWN_CHECKS[design]
    assert {check: verdicts[check] for check in others} == dict.fromkeys(others, "skipped")


@pytest.fixture(scope="module")
def base_mock() -> Iterator[MockProcess]:
    handle = start_mock("--time-scale", "0.05")
    yield handle
    handle.stop()


@pytest.mark.parametrize("design", sorted(BROKEN_ON_THE_BASE))
def test_the_gate_fails_a_mock_serving_the_base_contract_naming_the_design_rules(
    design: str, base_mock: MockProcess, tmp_path: Path
) -> None:
    target = ("--base-url", base_mock.url, "--api-key", ALICE_KEY, "--bearer", ALICE_SESSION_TOKEN)
    done, verdicts = gate(
        *target, "--other-api-key", BOB_KEY, "--time-scale", "0.05", "--design", design, *STREAM_ONLY, out=tmp_path
    )
    assert done.returncode == 1, done.stdout[-3000:]
    failed = {check for check, verdict in verdicts.items() if verdict == "failure"}
    assert BROKEN_ON_THE_BASE[design] <= failed, failed


def test_an_unknown_design_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "contracts", "--design", "sse-nope"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 2
    assert "ftl-gate: error: --design:" in done.stderr and "no design 'sse-nope'" in done.stderr
