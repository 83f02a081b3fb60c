"""Every command answers a user's mistake with one line on stderr, `prog: error: …`, and exit 2: a table of them.

Each row runs the installed console script as a user would, from a fresh folder, and names the words the
line must contain. Placeholders in the arguments stand for things the test sets up: `{refused}` a URL
where nothing listens, `{silent}` a server that accepts connections and never answers, `{busy}` a port in
use, `{broken}` a YAML file with a syntax error on line 4, `{folder}` a folder, `{file}` a plain file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import console_script

BROKEN_YAML = "users:\n  - id: a\n    name: [unclosed\n  - id: b\n"


@dataclass(frozen=True)
class Mistake:
    """A command line with one mistake, and words its one error line must contain."""

    argv: tuple[str, ...]
    says: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def prog(self) -> str:
        return "ftl-gate sdk" if self.argv[:2] == ("ftl-gate", "sdk") else self.argv[0]

    def __str__(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"{env} {' '.join(self.argv)}".strip()


def m(*argv: str, says: str, env: dict[str, str] | None = None) -> Mistake:
    return Mistake(tuple(argv), says, env or {})


MISTAKES = [
    # ftl-mock
    m("ftl-mock", "--port", "eighty", says="--port: must be a port from 0 (any free port) to 65535, got 'eighty'"),
    m("ftl-mock", "--port", "70000", says="--port: must be a port from 0"),
    m("ftl-mock", "--time-scale", "0", says="--time-scale: must be a number > 0 or a fraction such as 1/240"),
    m("ftl-mock", env={"FTL_MOCK_TIME_SCALE": "fast"}, says="FTL_MOCK_TIME_SCALE: must be a number > 0 or a fraction"),
    m("ftl-mock", "--rate-limit", "many", says="--rate-limit: must be a rate such as 100/60s"),
    m("ftl-mock", "--body-limit", "big", says="--body-limit: must be a size such as 1048576, 512KiB or 10MiB"),
    m("ftl-mock", "--journal-size", "-1", says="--journal-size: must be a whole number >= 0, got '-1'"),
    m("ftl-mock", "--log-level", "loud", says="--log-level: must be one of critical, error, warning"),
    m("ftl-mock", "--spec", "/nonexistent/openapi.yaml", says="--spec: must be an existing file"),
    m("ftl-mock", "--spec", "{broken}", says="broken.yaml is not valid YAML at line 4, column 7"),
    m("ftl-mock", "--data", "/nonexistent/seed.yaml", says="--data: must be an existing file"),
    m("ftl-mock", "--data", "{broken}", says="broken.yaml is not valid YAML: line 4, column 7: expected ','"),
    m("ftl-mock", "--scenario", "no-such-scenario", says="--scenario"),
    m("ftl-mock", "--scenario", "{broken}", says="not valid YAML: line 4, column 7"),
    m("ftl-mock", "--port", "{busy}", says="cannot listen on 127.0.0.1:"),
    m("ftl-mock", env={"FTL_MOCK_CORS": "maybe"}, says="FTL_MOCK_CORS: must be one of 1, true, yes, on, 0"),
    m("ftl-mock", "--no-such-flag", says="unrecognized arguments: --no-such-flag"),
    # ftl-gate
    m("ftl-gate", "--max-examples", "0", says="--max-examples: must be a whole number >= 1, got '0'"),
    m("ftl-gate", env={"FTL_GATE_STRICT": "maybe"}, says="FTL_GATE_STRICT: must be one of 1, true"),
    m("ftl-gate", "--base-url", "ftp://x", says="--base-url: must be an http:// or https:// URL, got 'ftp://x'"),
    m("ftl-gate", "--include", "no_such_operation", says="'no_such_operation' is neither an operationId nor a tag"),
    m("ftl-gate", "--base-url", "{refused}", "--api-key", "k", says=": connection refused"),
    m(
        "ftl-gate",
        "--base-url",
        "{silent}",
        "--api-key",
        "k",
        "--request-timeout",
        "1",
        says="did not answer within 1 s",
    ),
    m("ftl-gate", "--report", "{folder}", says="--report: must be a file path"),
    m("ftl-gate", "--junit-xml", "{file}/gate.xml", says="--junit-xml: must be a file path"),
    m("ftl-gate", "--known-divergences", "{broken}", says="not valid YAML: line 4, column 7"),
    m("ftl-gate", "--time-scale", "fast", says="--time-scale: must be a number > 0 or a fraction such as 1/240"),
    m("ftl-gate", "--seed", "x", says="--seed: must be a whole number, got 'x'"),
    m("ftl-gate", "--heartbeat-tolerance", "11", says="--heartbeat-tolerance: must be a number from 0 to 10"),
    m("ftl-gate", "--request-timeout", "0", says="--request-timeout: must be a number > 0"),
    m("ftl-gate", "--spec", "/nonexistent/openapi.yaml", says="--spec: must be an existing file"),
    # ftl-gate sdk
    m("ftl-gate", "sdk", says="give --run COMMAND, --manifest FILE, or both"),
    m("ftl-gate", "sdk", "--run", "sleep 30", "--timeout", "1", says="--run: the command timed out after 1 s"),
    m("ftl-gate", "sdk", "--run", "true", says="--run: the command sent no request to the mock"),
    m("ftl-gate", "sdk", "--run", "no-such-command-ftl --version", says="could not be started"),
    m("ftl-gate", "sdk", "--manifest", "no-such-manifest.yaml", says="cannot read manifest"),
    m("ftl-gate", "sdk", "--manifest", "{broken}", says="not valid YAML: line 4, column 7"),
    m("ftl-gate", "sdk", "--timeout", "soon", "--run", "true", says="--timeout: must be a number > 0, got 'soon'"),
    m("ftl-gate", "sdk", "--time-scale", "1/0", "--run", "true", says="--time-scale: must be a number > 0"),
    m("ftl-gate", "sdk", "--run", "true", "--json", "{folder}", says="--json: must be a file path"),
    m("ftl-gate", "sdk", "coverage", says="coverage needs --manifest FILE"),
    m("ftl-gate", "sdk", "coverage", "--manifest", "finetune-lab-0.6.0", "--claims", "nope", says="--claims: must be"),
    # ftl-load
    m("ftl-load", says="choose a command: compare or capacity"),
    m("ftl-load", "compare", "--jobs", "many", says="--jobs: must be a whole number >= 1, got 'many'"),
    m("ftl-load", "compare", "--time-scale", "0", says="--time-scale: must be a number > 0 or a fraction"),
    m("ftl-load", "compare", "--duration", "forever", says="--duration: must be a duration such as 90s"),
    m("ftl-load", "compare", "--target", "localhost:80", says="--target: must be an http:// or https:// URL"),
    m("ftl-load", "compare", "--bogus", says="unrecognized arguments: --bogus"),
    m("ftl-load", "compare", env={"FTL_LOAD_TABS": "-1"}, says="FTL_LOAD_TABS: must be a whole number >= 1"),
    m("ftl-load", "capacity", "--steps", "10,x", says="--steps: must be whole numbers >= 1 separated by commas"),
    m("ftl-load", "compare", "--duration", "10s", says="shorter than one poll interval"),
    m("ftl-load", "compare", "--mode", "all", says="--mode: must be one of both, polling, sse"),
    m("ftl-load", "compare", "--web", says="--web watches one mode at a time"),
    m("ftl-load", "compare", "--out", "{file}", says="--out: must be a folder path"),
    m("ftl-load", "capacity", "--target-pid", "5", says="--target-pid needs --target"),
    m("ftl-load", "compare", "--target", "{refused}", says="--target needs --api-key and --session"),
    m("ftl-load", "compare", "--target", "{refused}", "--api-key", "k", "--session", "s", says=": connection refused"),
    m(
        "ftl-load",
        *("compare", "--target", "{silent}", "--api-key", "k", "--session", "s", "--request-timeout", "1"),
        says="did not answer within 1 s",
    ),
    # ftl-spec
    m("ftl-spec", "--spec", "/nonexistent/openapi.yaml", says="--spec: must be an existing file"),
    m("ftl-spec", env={"FTL_SPEC_SPEC": "/nonexistent/openapi.yaml"}, says="FTL_SPEC_SPEC: must be an existing file"),
    m("ftl-spec", "--spec", "{broken}", says="not valid YAML at line 4, column 7"),
    m("ftl-spec", "--spec", "{file}", says="openapi"),
    m("ftl-spec", "--bogus", says="unrecognized arguments: --bogus"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def silent_url() -> Iterator[str]:
    """A server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield int(busy.getsockname()[1])


def test_the_table_covers_every_command_with_at_least_thirty_mistakes() -> None:
    progs = {mistake.prog for mistake in MISTAKES}
    assert progs == {"ftl-mock", "ftl-gate", "ftl-gate sdk", "ftl-load", "ftl-spec"}
    assert len(MISTAKES) >= 30
    assert len({str(mistake) for mistake in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_a_mistake_gets_one_line_and_exit_2(mistake: Mistake, tmp_path: Path, silent_url: str, busy_port: int) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_YAML, encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("openapi: is not a document\n", encoding="utf-8")
    places = {
        "{refused}": f"http://127.0.0.1:{free_port()}",
        "{silent}": silent_url,
        "{busy}": str(busy_port),
        "{broken}": str(broken),
        "{folder}": str(tmp_path / "folder"),
        "{file}": str(tmp_path / "file"),
    }
    argv = [console_script(mistake.argv[0])]
    for arg in mistake.argv[1:]:
        for placeholder, value in places.items():
            arg = arg.replace(placeholder, value)
        argv.append(arg)
    # A user's shell: no FTL_* settings of ours leak in, the run starts in an empty folder of its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTL_")} | mistake.env
    if "--port" not in mistake.argv:
        env.setdefault("FTL_MOCK_PORT", "0")
    run_dir = tmp_path / "cwd"
    run_dir.mkdir()
    done = subprocess.run(argv, cwd=run_dir, env=env, capture_output=True, text=True, timeout=60, check=False)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{mistake.prog}: error: "), lines[0]
    assert mistake.says in lines[0], lines[0]
    assert "Traceback" not in done.stdout + done.stderr
