"""The runner protocol on its own: answers read strictly, errors reported by type, runners that misbehave.

Runners here are small scripts written by the test (Python, so no Node is needed) and the Python runner itself.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import textwrap
from pathlib import Path

import pytest

from contracts.sdk.protocol import (
    ClientBuild,
    Hello,
    InProcessTransport,
    ProcessTransport,
    RemoteError,
    RunnerBroke,
    RunnerSession,
    RunnerSetupError,
    answer_of,
)
from contracts.sdk.runners.python import PythonRunner, to_json

HELLO = Hello("demo-sdk", "1.0", None, {"ValueError": {"type": "ValueError", "status": None}})


@pytest.mark.parametrize(
    ("line", "said"),
    [
        (b"hello\n", "not a protocol answer: 'hello'"),
        (b"[1, 2]\n", "not a protocol answer: '[1, 2]'"),
        (b'{"id": 1}\n', "not a protocol answer"),
        (b'{"id": 2, "result": null}\n', "the runner answered id 2 to message 1"),
    ],
)
def test_a_line_that_is_not_the_answer_asked_for_breaks_the_exchange(line: bytes, said: str) -> None:
    with pytest.raises(RunnerBroke) as caught:
        answer_of(line, 1)
    assert said in str(caught.value)


def test_an_answer_is_read_with_its_result_or_error() -> None:
    assert answer_of(b'{"id": 1, "result": {"a": 1}}', 1) == {"id": 1, "result": {"a": 1}}
    error = RemoteError.from_json({"type": "E", "status": True, "message": None, "matches": ["E", "Base"]})
    assert (error.type, error.status, error.message, error.matches) == ("E", None, "", ("E", "Base"))
    assert RemoteError.from_json("oops").type == "runner:BadError"


@dataclasses.dataclass
class Point:
    x: int
    tags: tuple[str, ...]


class NotFound(LookupError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def test_the_python_runner_reports_the_most_specific_declared_error_with_its_status() -> None:
    runner = PythonRunner()
    errors = {"LookupError": {"type": "LookupError"}, "NotFound": {"type": f"{__name__}:NotFound", "status": "code"}}
    assert "result" in runner.handle({"id": 1, "hello": {"protocol": 1, "sdk": "", "errors": errors}})
    described = runner.describe(NotFound("gone", 404))
    assert described["type"] == "NotFound" and described["matches"] == ["NotFound", "LookupError"]
    assert (described["status"], described["message"], described["fields"]) == (404, "gone", {"code": 404})
    assert runner.describe(KeyError("k"))["type"] == "LookupError"
    assert runner.describe(TypeError("t"))["type"] == "TypeError"


def test_the_python_runner_answers_its_own_trouble_with_runner_types() -> None:
    runner = PythonRunner()
    bad = runner.handle({"id": 1, "hello": {"protocol": 1, "errors": {"X": {"type": "no_such_module:X"}}}})
    assert bad["error"]["type"] == "runner:CannotImport"
    runner.handle({"id": 2, "hello": {"protocol": 1, "errors": {}}})
    assert runner.handle({"id": 3, "client": "c", "method": "m"})["error"]["type"] == "runner:NoSuchClient"
    runner.handle({"id": 4, "client": "c", "factory": "pathlib:PurePosixPath", "args": ["/a/b"]})
    assert runner.handle({"id": 5, "client": "c", "method": "nope"})["error"]["type"] == "runner:NoSuchMethod"
    assert runner.handle({"id": 6, "client": "c", "method": "as_posix"}) == {"id": 6, "result": "/a/b"}
    assert to_json(Point(1, ("a",))) == {"x": 1, "tags": ["a"]}


def script_runner(tmp_path: Path, body: str) -> str:
    """A runner command: a Python script that answers hello and client messages, then does `body` for calls."""
    script = tmp_path / "runner.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys, time
            for line in sys.stdin:
                message = json.loads(line)
                if "method" not in message:
                    print(json.dumps({"id": message["id"], "result": None}), flush=True)
                    continue
            """
        )
        + textwrap.indent(textwrap.dedent(body), " " * 4),
        encoding="utf-8",
    )
    return shlex.join([sys.executable, str(script)])


def session(command: str, timeout: float = 5) -> RunnerSession:
    return RunnerSession(lambda: ProcessTransport(command, {}), HELLO, [ClientBuild("c", "C")], timeout)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            'print("progress: 10%", flush=True)',
            "the runner wrote a line that is not a protocol answer: 'progress: 10%'",
        ),
        ('sys.stderr.write("boom\\n"); sys.exit(4)', "the runner exited with status 4: boom"),
        ("time.sleep(30)", "the runner did not answer within 1 s (--call-timeout)"),
    ],
)
def test_a_call_the_runner_does_not_answer_is_broken_and_the_runner_is_started_again(
    tmp_path: Path, body: str, said: str
) -> None:
    with session(script_runner(tmp_path, body), timeout=1) as runner:
        first = runner.call("c", "m", [], {})
        second = runner.call("c", "m", [], {})
    assert first.broken == said and second.broken == said
    assert runner.restarts == 1


def test_a_runner_that_answers_calls_gives_results_and_errors(tmp_path: Path) -> None:
    body = """
    if message["method"] == "ok":
        print(json.dumps({"id": message["id"], "result": message["args"]}), flush=True)
    else:
        error = {"type": "ValueError", "status": 418, "message": "teapot", "fields": {"code": 418}}
        print(json.dumps({"id": message["id"], "error": error}), flush=True)
    """
    with session(script_runner(tmp_path, body)) as runner:
        ok = runner.call("c", "ok", [1, "two"], {})
        bad = runner.call("c", "bad", [], {})
    assert ok.returned and ok.result == [1, "two"]
    assert bad.error is not None and (bad.error.type, bad.error.status, bad.error.message) == (
        "ValueError",
        418,
        "teapot",
    )


def test_a_runner_that_refuses_a_client_is_a_setup_error() -> None:
    runner = RunnerSession(
        lambda: InProcessTransport(PythonRunner().handle), HELLO, [ClientBuild("c", "no_such_module:Client")], 5
    )
    with pytest.raises(RunnerSetupError) as caught:
        runner.open()
    assert str(caught.value).startswith(
        "--runner: client 'c' (no_such_module:Client) failed: runner:CannotImport: cannot import 'no_such_module'"
    )
