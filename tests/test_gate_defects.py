"""The gate's self-test: against the mock with one deliberate defect it exits 1 and names the right check;
against the clean mock it exits 0.

Each run is limited to the operations the defect touches, with few examples, a fixed seed and a fast
time scale; `--strict` so that no known divergence can hide a caught defect.
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


def run_gate(url: str, tmp_path: Path, *args: str) -> tuple[int, set[tuple[str, str]]]:
    """Run `ftl-gate` against `url`: its exit code and the (operation, check) pairs its JUnit report fails."""
    junit = tmp_path / "gate.xml"
    argv = ["--base-url", url, "--seed", "1", "--time-scale", str(TIME_SCALE), "--delivery-bound", "1"]
    argv += ["--strict", "--quiet", "--junit-xml", str(junit)]
    code = main([*argv, *args], ENVIRON)
    failed = {
        (case.get("classname", ""), case.get("name", ""))
        for case in ET.parse(junit).iter("testcase")
        if case.find("failure") is not None
    }
    return code, failed


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda defect: defect.name)
def test_gate_catches_defect(defect: Defect, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with DefectServer(defect, time_scale=TIME_SCALE) as server:
        include = ",".join(defect.operations)
        code, failed = run_gate(server.url, tmp_path, "--include", include, "--max-examples", str(defect.max_examples))
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 1, last_line
    assert defect.check in {check for _, check in failed}, failed
    assert defect.check in last_line


def test_clean_mock_passes_every_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with DefectServer(None, time_scale=TIME_SCALE) as server:
        code, failed = run_gate(server.url, tmp_path, "--max-examples", "3")
    assert (code, failed) == (0, set()), capsys.readouterr().out
