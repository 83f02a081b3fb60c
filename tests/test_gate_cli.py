"""`ftl-gate`: flags and FTL_GATE_* variables, one-line exit-2 errors, and a real run against the embedded mock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, MockProcess

from contracts.cli import FLAGS, build_parser, main, parse_settings
from contracts.settings import EMBEDDED_TIME_SCALE


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_flags_win_over_environment_and_environment_over_defaults() -> None:
    environ = {"FTL_GATE_MAX_EXAMPLES": "7", "FTL_GATE_STATEFUL": "false", "FTL_GATE_INCLUDE": "jobs, predictions"}
    settings = parse_settings(
        ["--max-examples", "9", "--exclude", "list_jobs", "--exclude", "get_logs,get_errors"], environ
    )
    assert settings.max_examples == 9
    assert settings.stateful is False
    assert settings.include == ("jobs", "predictions")
    assert settings.exclude == ("list_jobs", "get_logs", "get_errors")


def test_time_scale_defaults_to_the_embedded_mock_or_one() -> None:
    assert parse_settings([], {}).effective_time_scale == EMBEDDED_TIME_SCALE
    assert parse_settings(["--base-url", "http://127.0.0.1:1"], {}).effective_time_scale == 1.0
    assert parse_settings(["--time-scale", "0.5"], {}).effective_time_scale == 0.5


def test_help_names_every_environment_variable() -> None:
    text = build_parser().format_help()
    assert all(flag.env in text for flag in FLAGS)


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--max-examples", "0"], {}, "--max-examples: must be a whole number >= 1, got '0'"),
        ([], {"FTL_GATE_STRICT": "maybe"}, "FTL_GATE_STRICT: must be one of"),
        (["--base-url", "ftp://x"], {}, "--base-url: must be an http:// or https:// URL"),
        (["--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
        (["--include", "no_such_operation"], {}, "'no_such_operation' is neither an operationId nor a tag"),
        (["--spec", "/nonexistent/openapi.yaml"], {}, "--spec: must be an existing file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, environ) == 2
    line = error_line(capsys)
    assert line.startswith("ftl-gate: error: ")
    assert message in line


def test_unreachable_target_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["--base-url", f"http://127.0.0.1:{port}", "--api-key", "wak_x"], {}) == 2
    assert "cannot reach" in error_line(capsys)


def test_remote_target_without_credentials_exits_2(mock: MockProcess, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--base-url", mock.url, "--include", "list_jobs"], {}) == 2
    assert "no credentials" in error_line(capsys)


def test_credentials_rejected_everywhere_exit_2(mock: MockProcess, capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"FTL_GATE_API_KEY": "wak_" + "0" * 32, "FTL_GATE_BEARER": "not-a-session"}
    assert main(["--base-url", mock.url, "--include", "list_jobs"], environ) == 2
    line = error_line(capsys)
    assert "rejects every credential" in line
    assert "HTTP 401" in line


def test_default_command_runs_against_the_embedded_mock_and_writes_reports(tmp_path: Path) -> None:
    junit, report = tmp_path / "gate.xml", tmp_path / "gate.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTL_")}
    command = [sys.executable, "-m", "contracts", "--include", "list_jobs,stream_predictions", "--max-examples", "3"]
    command += ["--seed", "1", "--junit-xml", str(junit), "--report", str(report)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("ftl-gate: passed:")
    assert "requests in" in last
    cases = {(c.get("classname"), c.get("name")) for c in ET.parse(junit).iter("testcase")}
    assert ("list_jobs", "response_schema_conformance") in cases
    assert ("stream_predictions", "stream_heartbeat") in cases
    assert ("stream_predictions", "live_prediction_delivery") in cases
    text = report.read_text(encoding="utf-8")
    assert "| `stream_predictions` |" in text
    assert "embedded ftl-mock" in text
