"""The gate's self-test: each deliberate defect makes it exit 1 naming the right check, with `--include` of the
operation it breaks alone and in the default full run. (That the clean mock passes the default full run is
`test_gate_realtime.py`, at the real heartbeat.)

Runs use the gate's default flags except the target's own time scale (the served mock runs at 0.05), a fixed
seed, `--quiet` and a JUnit report to read the verdicts from; never `--strict`, so a known divergence cannot
be what catches a defect.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_KEY, DEMO_JOB_TOKEN
from defects import DEFECTS, Defect, DefectServer

from contracts.cli import main

TIME_SCALE = 0.05
ENVIRON = {
    "FTL_GATE_API_KEY": ALICE_KEY,
    "FTL_GATE_BEARER": ALICE_SESSION_TOKEN,
    "FTL_GATE_JOB_TOKEN": DEMO_JOB_TOKEN,
    "FTL_GATE_OTHER_API_KEY": BOB_KEY,
}
GROUPS = sorted({defect.group for defect in DEFECTS})


def run_gate(url: str, tmp_path: Path, *args: str) -> tuple[int, set[tuple[str, str]]]:
    """Run `ftl-gate` against `url`: its exit code and the (operation, check) pairs its JUnit report fails."""
    junit = tmp_path / "gate.xml"
    argv = ["--base-url", url, "--seed", "1", "--time-scale", str(TIME_SCALE), "--quiet", "--junit-xml", str(junit)]
    code = main([*argv, *args], ENVIRON)
    failed = {
        (case.get("classname", ""), case.get("name", ""))
        for case in ET.parse(junit).iter("testcase")
        if case.find("failure") is not None
    }
    return code, failed


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda defect: defect.name)
def test_gate_catches_defect_with_only_its_operation(
    defect: Defect, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DefectServer(defect, time_scale=TIME_SCALE) as server:
        code, failed = run_gate(server.url, tmp_path, "--include", ",".join(defect.operations))
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 1, last_line
    assert (defect.operations[0], defect.check) in failed, failed
    assert defect.check in last_line


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS)
def test_default_full_run_catches_every_defect(group: int, tmp_path: Path) -> None:
    defects = [defect for defect in DEFECTS if defect.group == group]
    with DefectServer(defects, time_scale=TIME_SCALE) as server:
        code, failed = run_gate(server.url, tmp_path)
    assert code == 1
    missed = [d.name for d in defects if (d.operations[0], d.check) not in failed]
    assert missed == [], failed


def test_a_server_error_is_never_a_rejection_of_invalid_input(tmp_path: Path) -> None:
    defect = next(defect for defect in DEFECTS if defect.name == "invalid_input_500")
    with DefectServer(defect, time_scale=TIME_SCALE) as server:
        code, failed = run_gate(server.url, tmp_path, "--include", ",".join(defect.operations))
    assert code == 1
    assert {"not_a_server_error", "negative_data_rejection"} <= {check for _, check in failed}
