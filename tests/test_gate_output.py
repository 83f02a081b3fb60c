"""`ftl-gate`'s output where it is read: a CI log (`| cat`), a terminal, and the GitHub Actions step summary.

A log gets every operation name whole, however narrow it is, and a progress line at a steady pace; a
terminal gets a bar with percentage and time left. Real runs of the installed command throughout.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import spec
from cmdline import PROGRESS_INTERVAL_S
from tests.conftest import console_script

# "ftl-gate: schemathesis 12/190 (6 %) · 812 requests · 0 failures · 42 s elapsed · coverage phase"
PROGRESS = re.compile(r"^ftl-gate: (\S+)(?: \d+/\d+ \(\d+ %\))? · \d+ requests · \d+ failures? · (\d+) s elapsed")
# The acceptance: at least one progress line every 15 s (it comes every PROGRESS_INTERVAL_S).
MAX_SILENCE_S = 15


def user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTL_", "GITHUB_"))}
    return env | extra


def test_piped_gate_shows_whole_names_a_steady_progress_line_and_fills_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("# an earlier step\n", encoding="utf-8")
    # A narrow log (COLUMNS=60) would cut every long name if the table were fitted to it.
    env = user_env(COLUMNS="60", GITHUB_STEP_SUMMARY=str(summary))
    command = f"{shlex.quote(console_script('ftl-gate'))} --max-examples 1 --seed 11 | cat"
    started = time.monotonic()
    done = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for operation in spec.load().operations:
        assert re.search(rf"^│ {operation} +│", done.stdout, re.MULTILINE), operation
    assert not [line for line in done.stdout.splitlines() if line.startswith("│") and "…" in line]
    lines = [line for line in done.stderr.splitlines() if PROGRESS.match(line)]
    elapsed = [int(found.group(2)) for line in lines if (found := PROGRESS.match(line))]
    # Besides the lines that mark a part's start and end, the steady ones.
    assert [line for line in lines if not line.endswith("started") and " done in " not in line], done.stderr
    assert PROGRESS_INTERVAL_S < MAX_SILENCE_S
    marks = [0, *elapsed, int(took)]
    assert max(b - a for a, b in pairwise(marks)) <= MAX_SILENCE_S, done.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# an earlier step\n")
    assert "# ftl-gate report" in text
    assert "| `delete_google_colab_deployment` |" in text


def test_a_terminal_gets_a_bar_with_percentage_and_time_left(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    command = [console_script("ftl-gate"), "--include", "list_jobs,get_job_status", "--max-examples", "1", "--no-live"]
    env = user_env(TERM="xterm-256color", COLUMNS="160")
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            elif process.poll() is not None:
                break
    finally:
        os.close(leader)
        process.wait(timeout=30)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", errors="replace"))
    assert process.returncode == 0, text[-3000:]
    assert re.search(r"schemathesis\s.*━.*\b\d{1,3}%", text), text[-3000:]
    assert re.search(r"\d+/\d+", text)
    assert "left" in text
    assert "ftl-gate: passed:" in text
