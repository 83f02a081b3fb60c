"""The gate against ftl-mock at its real 15 s heartbeat, with the gate's default timing flags: it passes.

The user's command from the issue, `ftl-gate --base-url <mock> --api-key … --bearer … --other-api-key …` (and
`--other-bearer`), with fewer examples per operation (no timing flag) to keep the suite short: the stream is read
for its full default window either way. No stream read may give up before a heartbeat interval plus its
tolerance, so the stream checks judge a real heartbeat gap instead of breaking on a request timeout.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_KEY, BOB_SESSION_TOKEN, MockProcess

import spec
from contracts.cli import main
from contracts.stream_checks import Timing

STREAM = spec.load().stream


def test_no_stream_read_times_out_before_a_heartbeat_gap() -> None:
    timing = Timing(time_scale=1.0, tolerance=0.5)
    assert timing.read_timeout(STREAM, request_timeout=10.0) > timing.heartbeat_allowed(STREAM) > 15.0


@pytest.mark.slow
def test_real_time_mock_passes_with_default_flags(mock: MockProcess, tmp_path: Path) -> None:
    junit = tmp_path / "gate.xml"
    argv = ["--base-url", mock.url, "--api-key", ALICE_KEY, "--bearer", ALICE_SESSION_TOKEN, "--other-api-key", BOB_KEY]
    argv += ["--other-bearer", BOB_SESSION_TOKEN]
    code = main([*argv, "--max-examples", "5", "--seed", "1", "--quiet", "--junit-xml", str(junit)], {})
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(junit).iter("testcase")}
    failed = sorted(key for key, case in cases.items() if case.find("failure") is not None)
    assert (code, failed) == (0, [])
    for check in ("stream_heartbeat", "stream_never_ends", "stream_event_data", "live_prediction_delivery"):
        case = cases[(STREAM.operation.operation_id, check)]
        assert case.find("skipped") is None, f"{check} was not judged: {case.find('skipped').get('message')}"
