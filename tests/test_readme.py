"""The README is executable: every shell command it shows runs here exactly as written, from a fresh folder.

`COMMANDS` is keyed by the command's exact text. A README command missing from it fails the test, and so
does an entry whose command left the README. An entry may only shorten a run's duration (or set a port)
through an environment variable it names, provide files the user would have (their own SDK examples),
and say what the run must leave behind. Adding a README command means adding its entry here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_KEY, BOB_SESSION_TOKEN, ROOT, console_script
from tests.test_load_compare import assert_counts

README = ROOT / "README.md"
SHELLS = {"sh": "sh", "bash": "bash", "shell": "sh", "console": "bash"}
GATE_SHORT = {"FTL_GATE_MAX_EXAMPLES": "1"}  # one example per operation and phase instead of 50
LOAD_SHORT = {"FTL_LOAD_DURATION": "10m", "FTL_LOAD_TIME_SCALE": "1/240"}  # 10 simulated minutes in 2.5 s


@dataclass(frozen=True)
class Run:
    """How the suite runs one README command and what it must leave behind.

    `env` values may use `{port}` (a free port), `{mock}` (the URL of a mock started for the command with
    `mock_args`) and `{server}` (the URL of the `server` entry it runs under); `replace` swaps literal text
    of the command the same way (a port the README prints). A `server` runs until the test stops it with
    Ctrl-C, after running its `then` commands; `by` names what runs a command instead of this test.
    """

    env: dict[str, str] = field(default_factory=dict)
    exit: int = 0
    says: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    mock_args: tuple[str, ...] | None = None
    replace: dict[str, str] = field(default_factory=dict)
    server: bool = False
    then: tuple[str, ...] = ()
    in_copy: bool = False
    slow: bool = False
    timeout: float = 300
    probe: Callable[[dict[str, str]], str] | None = None
    check: Callable[[Path], None] | None = None
    by: str | None = None


def web_ui_answers(env: dict[str, str]) -> str:
    """Poll Locust's web UI while the run goes on; what it said."""
    url = f"http://127.0.0.1:{env['FTL_LOAD_WEB_PORT']}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        return f"{answer.status_code} {'Locust' in answer.text}"
    return "no answer"


def compare_counts(folder: Path) -> None:
    (report,) = folder.glob("reports/load-*/compare.json")
    result = json.loads(report.read_text())
    assert result["workers"] == 2
    assert_counts(result)


NODE_EXAMPLE = """\
const base = process.env.FINETUNE_LAB_API_URL;
const key = process.env.FINETUNE_LAB_API_KEY;
const response = await fetch(base + "/api/training/jobs", {headers: {"X-API-Key": key}});
console.log("GET /api/training/jobs", response.status);
process.exit(response.ok ? 0 : 1);
"""
PYTEST_EXAMPLE = """\
import os

import httpx


def test_lists_jobs():
    url = os.environ["FINETUNE_LAB_API_URL"] + "/api/training/jobs"
    response = httpx.get(url, headers={"X-API-Key": os.environ["FINETUNE_LAB_API_KEY"]})
    assert response.status_code == 200
"""

# The TypeScript SDK is not on a registry: its README command runs, in a folder laid out like the SDK's after its
# build, on the tests' SDK-shaped module with the defects the real one has (lost messages, wrong body key, …).
TS_SDK_FILES = {
    "package.json": '{"name": "@finetunelab/sdk", "version": "0.6.0", "type": "module"}\n',
    "dist/sdk.mjs": (ROOT / "tests" / "sdk_fixtures" / "sdk.mjs").read_text(encoding="utf-8"),
    "dist/index.mjs": "import { build } from './sdk.mjs';\n"
    "export const { FinetuneLabClient, FinetuneLabError } = build(\n"
    "  ['lost-error-message', 'wrong-body-key', 'wrong-result-mapping',\n"
    "   'missing-required-query', 'ignored-parameter'],\n"
    ");\n",
}


def run_report(sdk: str, methods: dict[str, tuple[list[str], list[str]]]) -> str:
    """What the coverage reads of an `ftl-gate sdk --manifest … --json` report: each method's reach and failures."""
    listed = [{"method": m, "reached": r, "failed_checks": f} for m, (r, f) in methods.items()]
    return json.dumps({"manifest": {"sdk": sdk, "version": "0.6.0", "methods": listed}})


RUN_REPORTS = {
    "reports/sdk.json": run_report(
        "finetune-lab",
        {"training.list_jobs": (["list_jobs"], []), "batch_test.cancel": (["cancel_batch_test"], ["body_conforms"])},
    ),
    "reports/ts.json": run_report(
        "@finetunelab/sdk",
        {"training.listJobs": (["list_jobs"], ["error_message_kept"]), "training.getLogs": (["get_logs"], [])},
    ),
}


def readme_file(name: str) -> str:
    """A file the README shows in full: the code block right after the line that ends with `name`:."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"`{re.escape(name)}`:\n\n```\w*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert found, f"the README shows no {name}"
    return found.group(1)


CLIENT_SHORT = {"FTL_GATE_CLIENT_CASE": "training-run,crlf"}  # two cases instead of every scenario file

COMMANDS: dict[str, Run] = {
    # --- the two set-up commands -----------------------------------------------------------------------
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/ftl-gate": Run(
        env=GATE_SHORT, in_copy=True, slow=True, timeout=600, says=("ftl-gate: passed:",)
    ),
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q": Run(
        by=".ci/run (it is this test suite)"
    ),
    # --- ftl-mock ---------------------------------------------------------------------------------------
    "ftl-mock": Run(
        env={"FTL_MOCK_PORT": "{port}"},
        server=True,
        then=(
            'curl -s -H "X-API-Key: wak_j6S4qYhLagyZf5dM0YG2x1AqBunB27b4" http://127.0.0.1:8765/api/training/jobs',
            "curl -s http://127.0.0.1:8765/__mock/metrics | grep ftl_mock_requests_total",
        ),
        says=("url:       http://127.0.0.1:",),
    ),
    'curl -s -H "X-API-Key: wak_j6S4qYhLagyZf5dM0YG2x1AqBunB27b4" http://127.0.0.1:8765/api/training/jobs': Run(
        replace={"http://127.0.0.1:8765": "{server}"}, says=('"jobs"',)
    ),
    # --- designs ----------------------------------------------------------------------------------------
    "ftl-spec --design sse-push": Run(
        says=("design sse-push (", "  push: connected, prediction carry get_prediction_trends's answer at /trends")
    ),
    "ftl-mock --design sse-batched-2s": Run(
        env={"FTL_MOCK_PORT": "{port}"}, server=True, says=("with design sse-batched-2s (63 operations)",)
    ),
    "ftl-gate --design sse-push --include predictions": Run(
        env=GATE_SHORT, says=("design sse-push) · seed", "ftl-gate: passed:")
    ),
    # After the request above, the mock's metrics count it (the README shows this line).
    "curl -s http://127.0.0.1:8765/__mock/metrics | grep ftl_mock_requests_total": Run(
        replace={"http://127.0.0.1:8765": "{server}"},
        says=('ftl_mock_requests_total{operation_id="list_jobs",status="200",validation="passed"} 1.0',),
    ),
    # --- ftl-gate ---------------------------------------------------------------------------------------
    "ftl-gate                                                   # the whole contract against the embedded mock": Run(
        env=GATE_SHORT, says=("ftl-gate: passed:",)
    ),
    'ftl-gate --base-url "$PREVIEW_URL" --api-key "$KEY" --bearer "$JWT" --other-api-key "$KEY2" '
    '--other-bearer "$JWT2" --junit-xml reports/gate.xml --report reports/gate.md': Run(
        mock_args=("--time-scale", "0.05"),
        env={
            "PREVIEW_URL": "{mock}",
            "KEY": ALICE_KEY,
            "JWT": ALICE_SESSION_TOKEN,
            "KEY2": BOB_KEY,
            "JWT2": BOB_SESSION_TOKEN,
            "FTL_GATE_TIME_SCALE": "0.05",
            **GATE_SHORT,
        },
        outputs=("reports/gate.xml", "reports/gate.md"),
        says=("ftl-gate: passed:",),
    ),
    "ftl-gate --include predictions --max-examples 20 --seed 7  # one tag (or operationId), repeatable run": Run(
        says=("· seed 7", "ftl-gate: passed:")
    ),
    "ftl-gate --strict                                          # known divergences fail too": Run(
        env=GATE_SHORT, says=("ftl-gate: passed:",)
    ),
    # --- ftl-gate sdk -----------------------------------------------------------------------------------
    'ftl-gate sdk --run "node examples/all.mjs"': Run(
        files={"examples/all.mjs": NODE_EXAMPLE}, says=("ftl-gate sdk: passed:",)
    ),
    'ftl-gate sdk --run "pytest sdk_tests/" --junit-xml reports/sdk.xml --report reports/sdk.md': Run(
        files={"sdk_tests/test_sdk.py": PYTEST_EXAMPLE},
        outputs=("reports/sdk.xml", "reports/sdk.md"),
        says=("ftl-gate sdk: passed:",),
    ),
    "ftl-gate sdk --manifest finetune-lab-0.6.0 --json reports/sdk.json": Run(
        exit=1, outputs=("reports/sdk.json",), says=("result_matches", "ftl-gate sdk: failed:")
    ),
    "ftl-gate sdk --manifest finetunelab-sdk-0.6.0 --runner 'node \"$FTL_SDK_RUNNERS/node.mjs\" dist/index.mjs' "
    "--json reports/ts.json": Run(
        files=TS_SDK_FILES,
        exit=1,
        outputs=("reports/ts.json",),
        says=("trainingPredictions.get -> get_predictions · error_message_kept", "ftl-gate sdk: failed:"),
    ),
    "ftl-gate sdk coverage --manifest finetune-lab-0.6.0 --claims seed-2025-12-17-sse-review-and-sdk-gaps": Run(
        says=("18 of 63",)
    ),
    "ftl-gate sdk coverage --results reports/sdk.json --results reports/ts.json "
    "--claims seed-2025-12-17-sse-review-and-sdk-gaps": Run(
        files=RUN_REPORTS,
        says=(
            "# SDK coverage: finetune-lab 0.6.0 · @finetunelab/sdk 0.6.0",
            "| `training.list_jobs` ✓ | `training.listJobs` ✗ error_message_kept |",
            "the note is wrong: `training.list_jobs` | the note is wrong: `training.listJobs` |",
        ),
    ),
    # --- ftl-gate client --------------------------------------------------------------------------------
    'ftl-gate client --run "python -m contracts.client.adapters.httpx_sse_client"   '
    "# the httpx-sse reference client: every case passes": Run(env=CLIENT_SHORT, says=("ftl-gate client: passed:",)),
    'ftl-gate client --run "node contracts/client/adapters/fetch_client.mjs" '
    "--junit-xml reports/client.xml --report reports/client.md": Run(
        env=CLIENT_SHORT,
        in_copy=True,
        outputs=("reports/client.xml", "reports/client.md"),
        says=("ftl-gate client: passed:",),
    ),
    'ftl-gate client --run "node contracts/client/adapters/naive_hook_client.mjs"    '
    "# the platform's browser hook: fails, exit 1": Run(
        env=CLIENT_SHORT, in_copy=True, exit=1, says=("✗ crlf · events_exact", "ftl-gate client: failed:")
    ),
    'ftl-gate client --run "python my_client.py" --case training-run,data-only         # your client, two cases': Run(
        files={"my_client.py": readme_file("my_client.py")}, says=("ftl-gate client: passed:", "2 cases")
    ),
    # --- ftl-load ---------------------------------------------------------------------------------------
    "ftl-load compare                                   "
    "# 50 jobs x 2 tabs, 30 s polling, 1 prediction/job/min, 1 h at --time-scale 1/60": Run(
        env=LOAD_SHORT,
        outputs=("reports/load-*/compare.json", "reports/load-*/compare.png", "reports/load-*/sse.html"),
        says=("| live-update requests per job-hour |",),
        slow=True,
    ),
    "ftl-load compare --jobs 2 --tabs 2 --duration 10m --time-scale 1/240 --workers 2   "
    "# same thing, small, on a Locust master + 2 workers": Run(
        outputs=("reports/load-*/compare.md",), check=compare_counts, slow=True
    ),
    "ftl-load capacity --workers 2                      "
    "# 50,100,200,400,800 SSE tabs, 20 s each, real-time heartbeats": Run(
        # Two of the five steps (the smallest and the 800 the README shows), each holding its streams 5 s, not 20 s.
        env={"FTL_LOAD_HOLD": "5s", "FTL_LOAD_STEPS": "50,800"},
        outputs=("reports/capacity-*/capacity.json", "reports/capacity-*/step-00800.html"),
        says=("| 800 | 800 | 800 / 800 |",),
        slow=True,
    ),
    "ftl-load compare --designs all                     "
    "# every design of the note's Phase 4 side by side, each against its own mock": Run(
        # Four simulated minutes at 1/960 (a quarter of a second per scenario): the cost is six mocks and runs.
        env={"FTL_LOAD_DURATION": "4m", "FTL_LOAD_TIME_SCALE": "1/960"},
        outputs=("reports/load-*/compare.json", "reports/load-*/compare.png", "reports/load-*/sse-push.html"),
        says=("| figure | polling | SSE | SSE push | SSE batched 2 s | SSE epoch filter | SSE gzip |",),
        slow=True,
    ),
    "ftl-load compare --designs polling,sse,sse-push --rates 0.25,1,2,4 --jobs 10   "
    "# by prediction rate: where each design breaks even": Run(
        # Four simulated minutes (one upload at the lowest rate) at 1/960: a quarter of a second per run.
        env={"FTL_LOAD_DURATION": "4m", "FTL_LOAD_TIME_SCALE": "1/960"},
        outputs=("reports/load-*/compare.png", "reports/load-*/sse-push-r4.html"),
        says=("| live-update requests per job-hour | 0.25/min | 1/min | 2/min | 4/min | costs less than polling |",),
        slow=True,
    ),
    "python -m load compare --help                      # every flag, its default and its FTL_LOAD_* variable": Run(
        says=("FTL_LOAD_WEB_PORT", "--request-timeout")
    ),
    "ftl-load compare --mode sse --web                  "
    "# one mode, watched live in Locust's web UI at http://127.0.0.1:8089/": Run(
        env={"FTL_LOAD_WEB_PORT": "{port}", "FTL_LOAD_WEB_HOLD": "1s", **LOAD_SHORT},
        probe=web_ui_answers,
        outputs=("reports/load-*/compare.json", "reports/load-*/sse.html"),
        says=("| figure | sse |",),
        slow=True,
    ),
}


def readme_commands(text: str) -> list[tuple[str, str]]:
    """(shell, command) of every command in the README's shell blocks (`$ ` lines of console blocks)."""
    commands = []
    for language, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        if language not in SHELLS:
            continue
        for line in body.splitlines():
            if language == "console":
                if line.startswith("$ "):
                    commands.append((SHELLS[language], line[2:].strip()))
            elif line.strip() and not line.strip().startswith("#"):
                commands.append((SHELLS[language], line.strip()))
    return commands


SHELL_OF = {command: shell for shell, command in readme_commands(README.read_text(encoding="utf-8"))}
FOLLOWERS = {command for run in COMMANDS.values() for command in run.then}


def test_every_readme_command_has_an_entry_and_every_entry_a_readme_command() -> None:
    shown = set(SHELL_OF)
    assert not shown - set(COMMANDS), f"README commands this test does not know: {sorted(shown - set(COMMANDS))}"
    assert not set(COMMANDS) - shown, f"entries whose command left the README: {sorted(set(COMMANDS) - shown)}"
    assert set(COMMANDS) >= FOLLOWERS


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command, run in COMMANDS.items():
        if run.by is not None:
            assert command in ci, f"{command!r} is said to run in {run.by}, which does not run it"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def user_env() -> dict[str, str]:
    """A user's shell: the installed commands first on PATH, none of our own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTL_", "GITHUB_", "PYTEST_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def copy_of_repository(target: Path) -> None:
    """The repository's files as a clone has them (tracked and new, not ignored), for commands that install it."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())


def fill(text: str, places: dict[str, str]) -> str:
    for name, value in places.items():
        text = text.replace("{" + name + "}", value)
    return text


@dataclass
class Outcome:
    code: int | None
    output: str
    probed: str | None = None


def execute(command: str, run: Run, folder: Path, places: dict[str, str]) -> Outcome:
    """Run the command as written (after the entry's openly named replacements) in `folder`."""
    for literal, value in run.replace.items():
        command = command.replace(literal, fill(value, places))
    env = user_env() | {name: fill(value, places) for name, value in run.env.items()}
    process = subprocess.Popen(
        [SHELL_OF.get(command, "bash"), "-c", command],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    probed = run.probe(env) if run.probe is not None else None
    try:
        output, _ = process.communicate(timeout=run.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return Outcome(None, output, probed)
    return Outcome(process.returncode, output, probed)


@contextlib.contextmanager
def serving(command: str, run: Run, folder: Path, places: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """Start a server command as written; yield its URL (from its banner) and its output so far."""
    env = user_env() | {name: fill(value, places) for name, value in run.env.items()}
    process = subprocess.Popen(
        # `exec`: the server is the process Ctrl-C reaches, as in a terminal (dash does not exec a lone
        # command itself, and a non-interactive shell dies of the SIGINT its child handles).
        [SHELL_OF[command], "-c", f"exec {command}"],
        cwd=folder,
        env=env | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.strip().startswith("job token:"):
                break
        url = next(line.split("url:", 1)[1].strip() for line in lines if "url:" in line)
        yield url, lines
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def cases() -> Iterator[Any]:
    for command, run in COMMANDS.items():
        if run.by is not None or command in FOLLOWERS:
            continue
        marks = [pytest.mark.slow] if run.slow else []
        yield pytest.param(command, run, id=command.split("#")[0].strip()[:70], marks=marks)


@pytest.mark.parametrize(("command", "run"), list(cases()))
def test_readme_command_runs_as_written(command: str, run: Run, tmp_path: Path, mock_factory: Any) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    if run.in_copy:
        copy_of_repository(folder)
    for name, content in run.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(content), encoding="utf-8")
    places = {"port": str(free_port())}
    if run.mock_args is not None:
        places["mock"] = mock_factory(*run.mock_args).url
    if run.server:
        with serving(command, run, folder, places) as (url, banner):
            for said in run.says:
                assert said in "".join(banner), "".join(banner)
            for follower in run.then:
                outcome = execute(follower, COMMANDS[follower], folder, places | {"server": url})
                assert_outcome(follower, COMMANDS[follower], outcome, folder)
        return
    outcome = execute(command, run, folder, places)
    assert_outcome(command, run, outcome, folder)


def assert_outcome(command: str, run: Run, outcome: Outcome, folder: Path) -> None:
    tail = outcome.output[-4000:]
    assert outcome.code == run.exit, f"{command}\nexit {outcome.code}\n{tail}"
    for said in run.says:
        assert said in outcome.output, f"{command}: no {said!r} in\n{tail}"
    for pattern in run.outputs:
        assert list(folder.glob(pattern)), f"{command}: wrote no {pattern} in its folder\n{tail}"
    if run.probe is not None:
        assert outcome.probed == "200 True", f"{command}: the web UI said {outcome.probed}"
    if run.check is not None:
        run.check(folder)
    assert "Traceback" not in outcome.output, tail


# --- flags tables -----------------------------------------------------------------------------------

# A flags table's rows name variables of one command; the command(s) whose `--help` it documents.
TABLE_COMMANDS = {
    "FTL_MOCK_": (("ftl-mock",),),
    "FTL_GATE_SDK_": (("ftl-gate", "sdk"),),
    "FTL_GATE_CLIENT_": (("ftl-gate", "client"),),
    "FTL_GATE_": (("ftl-gate",),),
    "FTL_LOAD_": (("ftl-load", "compare"), ("ftl-load", "capacity")),
}
OPTION_LINE = re.compile(r"^  (-\S.*?)(?:  +(.*))?$")
HELP_TAIL = re.compile(r"\[(?:default: (.*?); )?env (FTL_\w+)\]")


def help_flags(argv: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Each option of a command's real `--help` (but -h and --version): (its variable, its default text)."""
    env = user_env() | {"COLUMNS": "400"}
    text = subprocess.run(
        [console_script(argv[0]), *argv[1:], "--help"], capture_output=True, text=True, env=env, check=True
    ).stdout
    entries: list[list[str]] = []
    for line in text.split("options:", 1)[1].splitlines():
        found = OPTION_LINE.match(line)
        if found:
            entries.append([found.group(1), found.group(2) or ""])
        elif entries and line.strip():
            entries[-1][1] += " " + line.strip()
    flags = {}
    for invocation, described in entries:
        tail = HELP_TAIL.search(described)
        for option in re.findall(r"--[\w-]+", invocation):
            if option not in ("--help", "--version") and tail:
                flags[option] = (tail.group(2), tail.group(1) or "")
    return flags


def readme_flag_tables() -> list[list[tuple[str, ...]]]:
    """The README's `| flag | env | default | meaning |` tables, as rows of cells."""
    tables, rows = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| flag | env | default |"):
            rows = []
            tables.append(rows)
        elif rows is not None and line.startswith("|"):
            if not line.startswith("|---"):
                rows.append(tuple(cell.strip() for cell in line.strip().strip("|").split("|")))
        else:
            rows = None
    return tables


def documented_command(rows: list[tuple[str, ...]]) -> str:
    """The TABLE_COMMANDS prefix of a table: the longest one its first variable starts with."""
    env = rows[0][1].strip("`")
    return next(prefix for prefix in sorted(TABLE_COMMANDS, key=len, reverse=True) if env.startswith(prefix))


@pytest.mark.parametrize("prefix", list(TABLE_COMMANDS))
def test_each_flags_table_matches_the_commands_help(prefix: str) -> None:
    (table,) = [rows for rows in readme_flag_tables() if documented_command(rows) == prefix]
    helps = [help_flags(argv) for argv in TABLE_COMMANDS[prefix]]
    documented: dict[str, tuple[str, str]] = {}
    for flag_cell, env_cell, default_cell, *_ in table:
        for flag in re.findall(r"`(--[\w-]+)`", flag_cell):
            documented[flag] = (env_cell.strip("`"), default_cell.replace("`", ""))
    offered = {flag: entry for help_ in helps for flag, entry in help_.items()}
    assert set(documented) == set(offered), (
        f"README only: {set(documented) - set(offered)}, --help only: {set(offered) - set(documented)}"
    )
    for flag, (env, default) in documented.items():
        assert env == offered[flag][0], flag
        defaults = [help_[flag][1] for help_ in helps if flag in help_]
        assert any(default in shown for shown in defaults), f"{flag}: README says {default!r}, --help {defaults}"
