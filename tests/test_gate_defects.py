"""The gate's self-test: each deliberate defect makes it exit 1 naming the right check, with `--include` of the
operation it breaks alone and in the default full run. (That the clean mock passes the default full run is
`test_gate_realtime.py`, at the real heartbeat.)

Runs use the gate's default flags except the target's own time scale (the served mock runs at 0.05), a fixed
seed, `--quiet` and a JUnit report to read the verdicts from; never `--strict`, so a known divergence cannot
be what catches a defect. A defect that is one of the platform's own holes (the upsert that takes a job over,
the job token that writes another job) is listed as a known divergence; its runs leave that one entry out of
the list, and one more run keeps it in and sees the hole reported as known and its probe confirmed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_KEY, BOB_SESSION_TOKEN, DEMO_JOB_TOKEN
from defects import DEFECTS, Defect, DefectServer

from contracts.cli import main
from contracts.divergences import DEFAULT_FILE

TIME_SCALE = 0.05
ENVIRON = {
    "FTL_GATE_API_KEY": ALICE_KEY,
    "FTL_GATE_BEARER": ALICE_SESSION_TOKEN,
    "FTL_GATE_JOB_TOKEN": DEMO_JOB_TOKEN,
    "FTL_GATE_OTHER_API_KEY": BOB_KEY,
    "FTL_GATE_OTHER_BEARER": BOB_SESSION_TOKEN,
}
GROUPS = sorted({defect.group for defect in DEFECTS})


def run_gate(url: str, tmp_path: Path, *args: str) -> tuple[int, set[tuple[str, str]]]:
    """Run `ftl-gate` against `url`: its exit code and the (operation, check) pairs its JUnit report fails."""
    code, cases = gate_cases(url, tmp_path, *args)
    return code, {key for key, case in cases.items() if case.find("failure") is not None}


def gate_cases(url: str, tmp_path: Path, *args: str) -> tuple[int, dict[tuple[str, str], ET.Element]]:
    """Run `ftl-gate` against `url`: its exit code and its JUnit test cases by (classname, name)."""
    junit = tmp_path / "gate.xml"
    argv = ["--base-url", url, "--seed", "1", "--time-scale", str(TIME_SCALE), "--quiet", "--junit-xml", str(junit)]
    code = main([*argv, *args], ENVIRON)
    return code, {(c.get("classname", ""), c.get("name", "")): c for c in ET.parse(junit).iter("testcase")}


def without_entries(defects: list[Defect], tmp_path: Path) -> list[str]:
    """`--known-divergences` of the bundled list without the entries that describe these defects, if any."""
    left_out = {name for defect in defects for name in defect.reproduces}
    if not left_out:
        return []
    document = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    document["divergences"] = [entry for entry in document["divergences"] if entry["id"] not in left_out]
    path = tmp_path / "divergences.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return ["--known-divergences", str(path)]


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda defect: defect.name)
def test_gate_catches_defect_with_only_its_operation(
    defect: Defect, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DefectServer(defect, time_scale=TIME_SCALE) as server:
        only = ["--include", ",".join(defect.operations)]
        code, failed = run_gate(server.url, tmp_path, *only, *without_entries([defect], tmp_path))
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 1, last_line
    assert (defect.operations[0], defect.check) in failed, failed
    assert defect.check in last_line


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS)
def test_default_full_run_catches_every_defect(group: int, tmp_path: Path) -> None:
    defects = [defect for defect in DEFECTS if defect.group == group]
    with DefectServer(defects, time_scale=TIME_SCALE) as server:
        code, failed = run_gate(server.url, tmp_path, *without_entries(defects, tmp_path))
    assert code == 1
    missed = [d.name for d in defects if (d.operations[0], d.check) not in failed]
    assert missed == [], failed


def test_the_platforms_own_holes_in_the_mock_are_known_and_confirmed_by_their_probes(tmp_path: Path) -> None:
    holes = [defect for defect in DEFECTS if defect.reproduces]
    with DefectServer(holes, time_scale=TIME_SCALE) as server:
        include = ",".join(op for defect in holes for op in defect.operations)
        code, cases = gate_cases(server.url, tmp_path, "--include", include, "--max-examples", "5")
    assert code == 0
    for defect in holes:
        case = cases[(defect.operations[0], defect.check)]
        skipped = case.find("skipped")
        assert skipped is not None and "known divergence" in skipped.get("message", ""), ET.tostring(case)
        for name in defect.reproduces:
            probe = cases[(defect.operations[0], name)]
            assert probe.find("skipped") is None and probe.find("failure") is None, ET.tostring(probe)


def test_a_server_error_is_never_a_rejection_of_invalid_input(tmp_path: Path) -> None:
    defect = next(defect for defect in DEFECTS if defect.name == "invalid_input_500")
    with DefectServer(defect, time_scale=TIME_SCALE) as server:
        code, failed = run_gate(server.url, tmp_path, "--include", ",".join(defect.operations))
    assert code == 1
    assert {"not_a_server_error", "negative_data_rejection"} <= {check for _, check in failed}
