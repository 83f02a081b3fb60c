"""The SDK runner protocol, harness side: JSON lines to a runner that calls the SDK in its own language.

The harness sends `hello`, then one message per client to build and per method to call; the runner answers
each with `{"id", "result"}` or `{"id", "error": {type, status, message, fields}}` (README: "Runner protocol").
A runner that exits, hangs or prints something else breaks the call it was on and is started again.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from contracts.errors import GateError

PROTOCOL_VERSION = 1
# Error types a runner reports for its own trouble rather than the SDK's.
NO_SUCH_METHOD = "runner:NoSuchMethod"
RUNNER_PREFIX = "runner:"
STDERR_KEPT = 40
SHOWN = 160
CLOSE_GRACE_S = 5.0


class RunnerBroke(Exception):
    """The runner did not answer a message: it exited, did not answer in time or wrote something else."""


class RunnerSetupError(GateError):
    """A runner that cannot be started, refuses `hello` or cannot build a client (exit 2)."""


@dataclass(frozen=True)
class RemoteError:
    """What the SDK raised, as the runner reports it."""

    type: str
    message: str
    status: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    matches: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> RemoteError:
        """The `error` member of a reply (anything malformed becomes a readable placeholder)."""
        if not isinstance(data, Mapping):
            return cls("runner:BadError", f"the runner's error is not an object: {_short(data)}")
        status = data.get("status")
        fields = data.get("fields")
        matches = data.get("matches")
        return cls(
            type=str(data.get("type") or "unknown"),
            message=str(data.get("message") if data.get("message") is not None else ""),
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            fields=dict(fields) if isinstance(fields, Mapping) else {},
            matches=tuple(str(m) for m in matches) if isinstance(matches, list) else (),
        )

    @property
    def from_runner(self) -> bool:
        """True when the runner reports its own trouble (`runner:` types), not an SDK error."""
        return self.type.startswith(RUNNER_PREFIX)

    def describe(self) -> str:
        """`FinetuneLabError: HTTP 404: Not Found` (shortened)."""
        return _short_text(f"{self.type}: {self.message}" if self.message else self.type)


@dataclass(frozen=True)
class Reply:
    """The runner's answer to one call: a result, an error, or why there was no answer."""

    result: Any = None
    error: RemoteError | None = None
    broken: str | None = None

    @property
    def returned(self) -> bool:
        """True when the call returned a value."""
        return self.error is None and self.broken is None


class Transport(Protocol):
    """One running runner: send a message, get its answer."""

    def exchange(self, message: Mapping[str, Any], timeout: float) -> Mapping[str, Any]:
        """Send one message and return the answer with the same id; RunnerBroke when there is none."""

    def close(self, grace: float = ...) -> None:
        """Stop the runner (waiting up to `grace` seconds for it to exit by itself)."""


class ProcessTransport:
    """A runner command under `sh -c`: messages on its stdin, answers on its stdout, its stderr kept."""

    def __init__(self, command: str, env: Mapping[str, str]) -> None:
        self.command = command
        try:
            self._process = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env),
                start_new_session=True,
            )
        except OSError as exc:
            raise RunnerSetupError(f"--runner: cannot start /bin/sh: {exc.strerror}") from None
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=STDERR_KEPT)
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(self._process.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self._process.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            text = line.decode("utf-8", errors="replace").rstrip()
            if text.strip():
                self._stderr.append(text)

    @property
    def stderr_tail(self) -> list[str]:
        """The last lines the runner wrote to stderr."""
        return list(self._stderr)

    def _exited(self) -> str:
        try:
            code = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        for thread in self._threads[1:]:
            thread.join(timeout=1)
        said = f": {_short_text(self._stderr[-1])}" if self._stderr else ""
        status = f"exited with status {code}" if code is not None else "closed its stdout"
        unread = self._unread()
        if unread:
            said = f" after writing a line that is not a protocol answer: {_short(unread)}{said}"
        return f"the runner {status}{said}"

    def _unread(self) -> str | None:
        """The first line the runner wrote that nobody read (a runner that wrote and exited before it was asked)."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return None
            if line is None:
                return None
            if line.strip():
                return line.decode("utf-8", errors="replace").strip()

    def exchange(self, message: Mapping[str, Any], timeout: float) -> Mapping[str, Any]:
        """Write one line, read one line back (RunnerBroke on exit, timeout or a line that is not an answer)."""
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise RunnerBroke(self._exited()) from None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RunnerBroke(f"the runner did not answer within {timeout:g} s (--call-timeout)") from None
        if line is None:
            raise RunnerBroke(self._exited())
        return answer_of(line, message.get("id"))

    def close(self, grace: float = CLOSE_GRACE_S) -> None:
        """Close its stdin (a runner exits then), and kill its process group if it lingers."""
        with contextlib.suppress(OSError):
            if self._process.stdin:
                self._process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        for stream in (self._process.stdout, self._process.stderr):
            with contextlib.suppress(OSError):
                if stream:
                    stream.close()


class InProcessTransport:
    """A runner object in this process (`handle(message) -> answer`), messages round-tripped through JSON."""

    def __init__(self, handler: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> None:
        self._handler = handler

    def exchange(self, message: Mapping[str, Any], timeout: float) -> Mapping[str, Any]:
        """Hand the message over as the wire would carry it, and the answer back the same way."""
        answer = self._handler(json.loads(json.dumps(message)))
        return answer_of(json.dumps(answer).encode(), message.get("id"))

    def close(self, grace: float = 0.0) -> None:
        """Nothing to stop."""


def answer_of(line: bytes, expected_id: Any) -> Mapping[str, Any]:
    """The answer a runner wrote, checked: JSON, an object, the id asked, a result or an error."""
    text = line.decode("utf-8", errors="replace").strip()
    try:
        answer = json.loads(text)
    except ValueError:
        raise RunnerBroke(f"the runner wrote a line that is not a protocol answer: {_short(text)}") from None
    if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
        raise RunnerBroke(f"the runner wrote a line that is not a protocol answer: {_short(text)}")
    if answer.get("id") != expected_id:
        raise RunnerBroke(f"the runner answered id {answer.get('id')!r} to message {expected_id!r}")
    return answer


@dataclass(frozen=True)
class ClientBuild:
    """One client the runner must build: name, factory (in the SDK's language) and arguments."""

    name: str
    factory: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hello:
    """What the harness tells a runner first, and what the runner says about itself."""

    sdk: str
    version: str
    package: str | None
    errors: Mapping[str, Mapping[str, Any]]

    def message(self) -> dict[str, Any]:
        """The `hello` body."""
        return {
            "protocol": PROTOCOL_VERSION,
            "sdk": self.sdk,
            "version": self.version,
            "package": self.package,
            "errors": {name: dict(spec) for name, spec in self.errors.items()},
        }


@dataclass(frozen=True)
class RunnerInfo:
    """The runner's answer to hello: which runner, and which SDK it loaded from where."""

    runner: str | None
    sdk_version: str | None
    location: str | None

    @classmethod
    def from_json(cls, data: Any) -> RunnerInfo:
        """From the hello result (missing members are None)."""
        info: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        found = info.get("sdk")
        sdk: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        return cls(
            runner=_text_or_none(info.get("runner")),
            sdk_version=_text_or_none(sdk.get("version")),
            location=_text_or_none(sdk.get("location")),
        )


class RunnerSession:
    """Speaks the protocol with one runner at a time; a runner that broke is replaced before the next call."""

    def __init__(
        self,
        start: Callable[[], Transport],
        hello: Hello,
        clients: Sequence[ClientBuild],
        call_timeout: float,
        what: str = "--runner",
    ) -> None:
        self._start = start
        self._hello = hello
        self._clients = tuple(clients)
        self.call_timeout = call_timeout
        self.what = what
        self._transport: Transport | None = None
        self._next_id = 0
        self.info: RunnerInfo | None = None
        self.restarts = 0

    def __enter__(self) -> RunnerSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> RunnerInfo:
        """Start the runner, say hello and build every client; RunnerSetupError (one line) when that fails."""
        transport = self._start()
        self._transport = transport
        try:
            self.info = RunnerInfo.from_json(self._setup({"hello": self._hello.message()}, "hello"))
            for client in self._clients:
                self._setup(
                    {"client": client.name, "factory": client.factory, "args": client.args, "kwargs": client.kwargs},
                    f"client {client.name!r} ({client.factory})",
                )
        except BaseException:
            self.close(grace=0.0)
            raise
        return self.info

    def _setup(self, body: Mapping[str, Any], step: str) -> Any:
        assert self._transport is not None
        try:
            answer = self._transport.exchange(self._message(body), self.call_timeout)
        except RunnerBroke as exc:
            raise RunnerSetupError(f"{self.what}: {step}: {exc}{self._hint()}") from None
        if "error" in answer:
            error = RemoteError.from_json(answer["error"])
            raise RunnerSetupError(f"{self.what}: {step} failed: {error.describe()}")
        return answer.get("result")

    def _hint(self) -> str:
        tail = getattr(self._transport, "stderr_tail", [])
        return "" if tail else " (is it an ftl-gate SDK runner? README: Runner protocol)"

    def _message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        return {"id": self._next_id, **body}

    def call(self, client: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Reply:
        """Call one SDK method; a runner that breaks gives a `broken` reply and is replaced for the next call."""
        if self._transport is None:
            self.restarts += 1
            self.open()
        assert self._transport is not None
        message = self._message({"client": client, "method": method, "args": list(args), "kwargs": dict(kwargs)})
        try:
            answer = self._transport.exchange(message, self.call_timeout)
        except RunnerBroke as exc:
            self.close(grace=0.0)
            return Reply(broken=str(exc))
        if "error" in answer:
            return Reply(error=RemoteError.from_json(answer["error"]))
        return Reply(result=answer.get("result"))

    def close(self, grace: float = CLOSE_GRACE_S) -> None:
        """Stop the current runner, if any."""
        if self._transport is not None:
            transport, self._transport = self._transport, None
            transport.close(grace)


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _short(value: Any) -> str:
    return _short_text(repr(value))


def _short_text(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
