"""The shell every command stands on: value parsers, one-line errors, `--version`, output for logs and terminals."""

from __future__ import annotations

import io
import subprocess
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from cmdline import ProgressLines, Snapshot, WatchedProgress, append_step_summary, one_line, print_whole, values
from cmdline.shell import version
from tests.conftest import console_script

PYYAML_MESSAGE = """seed data /x/seed.yaml is not valid YAML: while parsing a flow sequence
  in "<unicode string>", line 3, column 11:
        name: [unclosed
              ^
expected ',' or ']', but got ':'
  in "<unicode string>", line 4, column 7:
      - id: b
          ^"""


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (values.time_scale, "1/240", 1 / 240),
        (values.time_scale, "0.05", 0.05),
        (values.duration, "1h30m", 5400.0),
        (values.duration, "250ms", 0.25),
        (values.size, "512KiB", 512 * 1024),
        (values.port, "0", 0),
        (values.boolean, "Off", False),
        (values.whole_numbers, "50,100", [50, 100]),
        (values.http_url, "http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
    ],
)
def test_parsers_read_what_users_write(parse, text: str, value: object) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (values.time_scale, "fast", "must be a number > 0 or a fraction such as 1/240, got 'fast'"),
        (values.time_scale, "1/0", "must be a number > 0 or a fraction such as 1/240, got '1/0'"),
        (values.positive_int, "0", "must be a whole number >= 1, got '0'"),
        (values.count, "x", "must be a whole number >= 0, got 'x'"),
        (values.positive_float, "inf", "must be a number > 0, got 'inf'"),
        (values.port, "70000", "must be a port from 0 (any free port) to 65535, got '70000'"),
        (values.duration, "0s", "must be a duration such as 90s, 20m, 1h or 1h30m, got '0s'"),
        (values.choice("a", "b"), "c", "must be one of a, b, got 'c'"),
        (values.http_url, "http://", "must be an http:// or https:// URL, got 'http://'"),
    ],
)
def test_every_parser_words_a_refusal_as_the_rule_and_the_text(parse, text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        parse(text)


def test_paths_become_absolute_against_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.yaml").write_text("{}", encoding="utf-8")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    assert values.input_file("data.yaml") == tmp_path / "data.yaml"
    assert values.output_dir("reports/run-1") == tmp_path / "reports" / "run-1"
    assert values.output_file("out/../gate.xml") == tmp_path / "gate.xml"
    with pytest.raises(ValueError, match="it is a folder"):
        values.output_file(".")
    with pytest.raises(ValueError, match="a-file is a file"):
        values.output_file("a-file/gate.xml")
    with pytest.raises(ValueError, match="it is a file"):
        values.output_dir("a-file")


def test_a_yaml_parser_message_becomes_one_line_with_line_column_and_problem() -> None:
    assert one_line(PYYAML_MESSAGE) == (
        "seed data /x/seed.yaml is not valid YAML: line 4, column 7: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence from line 3)"
    )
    assert one_line("first\n  second\n") == "first; second"


@pytest.mark.parametrize(
    "argv",
    [
        ("ftl-mock",),
        ("ftl-gate",),
        ("ftl-gate", "sdk"),
        ("ftl-gate", "sdk", "coverage"),
        ("ftl-load",),
        ("ftl-load", "capacity"),
        ("ftl-spec",),
    ],
)
def test_every_command_answers_version(argv: tuple[str, ...]) -> None:
    done = subprocess.run([console_script(argv[0]), *argv[1:], "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{' '.join(argv)} {version()}"


def test_a_log_gets_a_wide_table_whole() -> None:
    out = Console(file=io.StringIO(), width=40, force_terminal=False)
    table = Table("operation", "passed")
    table.add_row("delete_google_colab_deployment_with_a_longer_name", "12")
    print_whole(out, table)
    assert "│ delete_google_colab_deployment_with_a_longer_name │" in out.file.getvalue()  # type: ignore[attr-defined]
    assert out.width == 40


def test_a_log_gets_a_progress_line_at_each_interval() -> None:
    stream = io.StringIO()
    seen = threading.Event()
    calls = 0

    def watch() -> Snapshot:
        nonlocal calls
        calls += 1
        if calls >= 3:
            seen.set()
        return Snapshot("locust runs", 1.5, 2, 120, 1, "sse (2 of 2)")

    with ProgressLines("ftl-load", watch, stream, interval_s=0.05):
        assert seen.wait(10)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3
    assert lines[0].startswith("ftl-load: locust runs 1/2 (75 %) · 120 requests · 1 failure · ")
    assert lines[0].endswith(" s elapsed · sse (2 of 2)")


def test_a_terminal_gets_a_bar_with_percentage_and_time_left() -> None:
    out = Console(file=io.StringIO(), width=160, force_terminal=True)
    snapshot = Snapshot("locust runs", 1, 4, 10, 0, "polling (2 of 4)")
    with WatchedProgress("ftl-load", lambda: snapshot, out):
        deadline = time.monotonic() + 10
        while "25%" not in out.file.getvalue() and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)
    screen = out.file.getvalue()  # type: ignore[attr-defined]
    assert "25%" in screen
    assert "1/4" in screen
    assert "left" in screen


def test_the_step_summary_is_appended_to(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier\n", encoding="utf-8")
    assert append_step_summary("# ftl-gate report\n", {"GITHUB_STEP_SUMMARY": str(summary)}) is None
    assert summary.read_text(encoding="utf-8") == "# earlier\n# ftl-gate report\n\n"
    assert append_step_summary("x", {}) is None
    warning = append_step_summary("x", {"GITHUB_STEP_SUMMARY": str(tmp_path)})
    assert warning is not None and "GITHUB_STEP_SUMMARY" in warning
