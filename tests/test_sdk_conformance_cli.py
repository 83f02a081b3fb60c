"""`ftl-gate sdk` as a user runs it: a fresh mock, an SDK command in another language, reports and exit codes.

Each test starts the real command line as a subprocess; the mock it starts is its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

TIMEOUT_S = 120
# fetch against the variables the real SDKs read: one conforming call, one wrong body key, one undeclared path.
NODE_SCRIPT = """
const base = process.env.FINETUNE_LAB_API_URL;
const key = process.env.FINETUNE_LAB_API_KEY;
async function call(method, path, body) {
  const headers = {"X-API-Key": key};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const response = await fetch(base + path, {method, headers, body: payload});
  console.log(method, path, response.status);
}
await call("GET", "/api/training/jobs");
await call("POST", "/api/batch-testing/cancel", {test_id: "8d2f6a1c-4b3e-4f7a-9c0d-5e6f7a8b9c0d"});
await call("GET", "/api/v2/training/jobs");
"""


def gate_sdk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m contracts sdk ...` (what `ftl-gate sdk` runs) from the repository root."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FTL_GATE_SDK_")}
    return subprocess.run(
        [sys.executable, "-m", "contracts", "sdk", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**environ, **(env or {})},
    )


def rows(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(row["subject"], row["check"]): row["verdict"] for row in report["rows"]}


@pytest.fixture
def node_script(tmp_path: Path) -> Path:
    assert shutil.which("node"), "node (v18+) must be on PATH for the cross-language SDK test"
    script = tmp_path / "sdk_calls.mjs"
    script.write_text(NODE_SCRIPT, encoding="utf-8")
    return script


def test_node_sdk_script_is_checked_request_by_request(node_script: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = gate_sdk(
        "--run",
        f"node {node_script}",
        "--json",
        str(out / "sdk.json"),
        "--junit-xml",
        str(out / "sdk.xml"),
        "--report",
        str(out / "sdk.md"),
        "--coverage-json",
        str(out / "coverage.json"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((out / "sdk.json").read_text())
    verdicts = rows(report)
    # The conforming call passes every check.
    assert {check: v for (subject, check), v in verdicts.items() if subject == "list_jobs"} == {
        "operation_exists": "passed",
        "parameters_conform": "passed",
        "content_type_right": "passed",
        "body_conforms": "passed",
        "credentials_accepted": "passed",
    }
    # The wrong body key and the undeclared path are failures.
    assert verdicts[("cancel_batch_test", "body_conforms")] == "failed"
    assert verdicts[("GET /api/v2/training/jobs", "operation_exists")] == "failed"
    assert verdicts[(f"$ node {node_script}", "command_exits_zero")] == "passed"
    [cancel] = [r for r in report["requests"] if r["operation_id"] == "cancel_batch_test"]
    assert [f["field"] for f in cancel["findings"] if f["severity"] == "failure"] == ["body.test_run_id"]
    # The same verdicts in the gate's JUnit and Markdown reports.
    suites = ET.parse(out / "sdk.xml").getroot()
    assert suites.get("failures") == "2"
    failed_cases = {
        (c.get("classname"), c.get("name")) for c in suites.iter("testcase") if c.find("failure") is not None
    }
    assert failed_cases == {("cancel_batch_test", "body_conforms"), ("GET /api/v2/training/jobs", "operation_exists")}
    assert "body.test_run_id: is required" in (out / "sdk.md").read_text()
    # Coverage from the journal: the operations the script reached, named by its client.
    coverage = json.loads((out / "coverage.json").read_text())
    assert coverage["operations"]["list_jobs"]["methods"] == ["node"]
    assert coverage["summary"]["covered"] == 2
    assert "ftl-gate sdk: failed:" in result.stdout


def test_run_command_sees_the_mock_and_the_demo_credentials(tmp_path: Path) -> None:
    dump = tmp_path / "env.json"
    code = textwrap.dedent(
        f"""
        import json, os, urllib.request
        names = ["FINETUNE_LAB_API_URL", "FINETUNE_LAB_API_KEY", "FTL_JOB_TOKEN", "FTL_JWT", "FTL_JOB_ID"]
        json.dump({{n: os.environ.get(n) for n in names}}, open({str(dump)!r}, "w"))
        base = os.environ["FINETUNE_LAB_API_URL"]
        request = urllib.request.Request(
            base + "/api/training/predictions/" + os.environ["FTL_JOB_ID"] + "/epochs",
            headers={{"Authorization": "Bearer " + os.environ["FTL_JWT"]}},
        )
        urllib.request.urlopen(request).read()
        """
    )
    script = tmp_path / "env_probe.py"
    script.write_text(code, encoding="utf-8")
    summary = tmp_path / "step-summary.md"
    result = gate_sdk("--run", f"{sys.executable} {script}", "--quiet", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "get_prediction_epochs" in summary.read_text(encoding="utf-8")
    seen = json.loads(dump.read_text())
    assert seen["FINETUNE_LAB_API_URL"].startswith("http://127.0.0.1:")
    assert seen["FINETUNE_LAB_API_KEY"].startswith("wak_")
    assert seen["FTL_JOB_TOKEN"] and seen["FTL_JWT"] and seen["FTL_JOB_ID"]
    assert result.stdout.strip().splitlines()[-1].startswith("ftl-gate sdk: passed:")


def test_failing_run_command_fails_the_run_with_its_output(tmp_path: Path) -> None:
    script = tmp_path / "fails.py"
    script.write_text(
        "import os, urllib.request\n"
        "urllib.request.urlopen(os.environ['FINETUNE_LAB_API_URL'] + '/api/v1/predict').read()\n"
        "raise SystemExit('sdk tests failed: 3 of 10')\n",
        encoding="utf-8",
    )
    result = gate_sdk("--run", f"{sys.executable} {script}", "--json", str(tmp_path / "r.json"), "--quiet")
    assert result.returncode == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["command"]["exit_code"] == 1
    assert "sdk tests failed: 3 of 10" in report["command"]["output_tail"]


def test_run_command_that_overruns_its_timeout_is_stopped_and_fails(tmp_path: Path) -> None:
    script = tmp_path / "hangs.py"
    script.write_text(
        "import os, time, urllib.request\n"
        "urllib.request.urlopen(os.environ['FINETUNE_LAB_API_URL'] + '/api/v1/predict').read()\n"
        "time.sleep(60)\n",
        encoding="utf-8",
    )
    result = gate_sdk("--run", f"{sys.executable} {script}", "--timeout", "2", "--json", str(tmp_path / "r.json"))
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["command"]["exit_code"] is None
    [row] = [r for r in report["rows"] if r["check"] == "command_exits_zero"]
    assert row["violations"] == ["the command did not finish within 2 s"]


def test_flags_can_come_from_the_environment(tmp_path: Path) -> None:
    result = gate_sdk(env={"FTL_GATE_SDK_TIMEOUT": "-1", "FTL_GATE_SDK_RUN": "true"})
    assert result.returncode == 2
    assert "FTL_GATE_SDK_TIMEOUT: must be a number > 0" in result.stderr


def test_finetune_lab_manifest_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = gate_sdk(
        "--manifest",
        "finetune-lab-0.6.0",
        "--json",
        str(out / "sdk.json"),
        "--coverage",
        str(out / "coverage.md"),
        "--claims",
        "seed-2025-12-17-sse-review-and-sdk-gaps",
        "--quiet",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    verdicts = rows(json.loads((out / "sdk.json").read_text()))
    assert verdicts[("batch_test.run -> run_batch_test", "result_matches")] == "failed"
    assert verdicts[("training_predictions.get -> get_predictions", "result_matches")] == "passed"
    coverage = (out / "coverage.md").read_text()
    assert "| `GET /api/training/jobs` | `list_jobs` | the note is wrong | `training.list_jobs` |" in coverage
