"""Runs a client command once per case against one mock, and judges each case with every registered check.

Per case: a job of its own with the case's scenario bound, a recording relay in front of the mock, the command
started with the protocol's variables, stopped (SIGTERM, then SIGKILL) when the case's time is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from contracts.client.cases import Case
from contracts.client.checks import CHECKS, Check, Level, NotApplicable
from contracts.client.exchanges import Exchange, exchanges
from contracts.client.mock import CaseMock
from contracts.client.observation import Observation, attempts, expected_events
from contracts.client.protocol import API_KEY, API_URL, EVENT, JOB_ID, STREAM_URL, ClientLine, read_line
from contracts.client.rules import Bounds
from contracts.client.tap import Tap
from contracts.errors import GateError
from contracts.sse_reader import SSEReader

# Exit statuses of `sh -c` for a command it could not find or execute.
NOT_STARTED = (126, 127)
LINE_LIMIT = 1024 * 1024
STDERR_LINES = 20
# After a case's time is up: how long the client may take to hand over what it was given, then a last look.
SETTLE_S = 1.5
QUIET_S = 0.1
POLL_S = 0.02

PASSED, FAILED, WARNED, SKIPPED = "passed", "failed", "warned", "skipped"


@dataclass(frozen=True)
class Outcome:
    """One check on one case: its verdict and what it found (or why it was skipped)."""

    check: Check
    verdict: str
    messages: tuple[str, ...] = ()


@dataclass
class CaseResult:
    """A case, what it observed and every check's outcome."""

    case: Case
    observation: Observation
    outcomes: list[Outcome] = field(default_factory=list)

    def verdicts(self, verdict: str) -> list[Outcome]:
        """The outcomes with one verdict."""
        return [o for o in self.outcomes if o.verdict == verdict]


def judge(observation: Observation, checks: Mapping[str, Check] = CHECKS) -> list[Outcome]:
    """Every check's outcome on one case."""
    outcomes = []
    for check in checks.values():
        try:
            problems = check.judge(observation)
        except NotApplicable as reason:
            outcomes.append(Outcome(check, SKIPPED, (str(reason),)))
            continue
        if not problems:
            outcomes.append(Outcome(check, PASSED))
        else:
            outcomes.append(Outcome(check, FAILED if check.level == Level.FAILURE else WARNED, tuple(problems)))
    return outcomes


@dataclass
class _Client:
    """The command under test, running for one case: its lines as they come and its stderr's tail."""

    process: asyncio.subprocess.Process
    lines: list[ClientLine] = field(default_factory=list)
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_LINES))
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    stopped: bool = False
    exited: int | None = None

    async def read_stdout(self) -> None:
        assert self.process.stdout is not None
        with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
            async for raw in self.process.stdout:
                self.lines.append(read_line(raw.decode("utf-8", errors="replace"), time.time()))

    async def read_stderr(self) -> None:
        assert self.process.stderr is not None
        with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
            async for raw in self.process.stderr:
                self.stderr.append(raw.decode("utf-8", errors="replace").rstrip())

    @property
    def event_lines(self) -> list[ClientLine]:
        return [line for line in self.lines if line.kind == EVENT]

    async def stop(self, grace_s: float) -> int | None:
        """SIGTERM the command's process group, SIGKILL after `grace_s`; its exit status if it had exited first."""
        if self.stopped:
            return self.exited
        self.stopped = True
        exited = self.exited = self.process.returncode
        if exited is None:
            _signal(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_s)
            except TimeoutError:
                _signal(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        else:
            # The command is gone; anything it left behind in its group goes too.
            _signal(self.process.pid, signal.SIGKILL)
        for reader in self.readers:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return exited


def _signal(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, number)


class ClientRunner:
    """Runs one command through every case against one mock."""

    def __init__(
        self,
        command: str,
        cases: Sequence[Case],
        bounds: Bounds,
        environ: Mapping[str, str],
        *,
        parallel: int = 1,
        connect_timeout: float = 10.0,
        grace: float = 1.0,
    ) -> None:
        self.command = command
        self.cases = list(cases)
        self.bounds = bounds
        self.environ = dict(environ)
        self.parallel = max(1, parallel)
        self.connect_timeout = connect_timeout
        self.grace = grace

    async def run(self, mock: CaseMock) -> list[CaseResult]:
        """Every case, `parallel` at a time; results in case order."""
        jobs = await mock.add_jobs([case.name for case in self.cases])
        gate = asyncio.Semaphore(self.parallel)

        async def one(case: Case) -> CaseResult:
            async with gate:
                return await self._case(case, jobs[case.name], mock)

        try:
            # A task group: when one case fails to run, the others are stopped (and so are their clients).
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(case)) for case in self.cases]
        except* GateError as failed:
            raise failed.exceptions[0] from None
        results = [task.result() for task in tasks]
        if not any(result.observation.attempts for result in results):
            raise GateError(
                f"--run: the command never requested the stream in {len(results)} case(s); does it read {STREAM_URL}?"
            )
        return list(results)

    def _environment(self, tap_port: int, job_id: str, mock: CaseMock) -> dict[str, str]:
        base = f"http://127.0.0.1:{tap_port}"
        return {
            **self.environ,
            **self.bounds.environment(),
            STREAM_URL: base + mock.path(job_id),
            API_URL: base,
            API_KEY: mock.api_key,
            JOB_ID: job_id,
            # Python buffers a pipe's output in blocks: without this a stopped Python client's events never arrive.
            "PYTHONUNBUFFERED": "1",
        }

    async def _case(self, case: Case, job_id: str, mock: CaseMock) -> CaseResult:
        await mock.bind(job_id, case.document)
        target = urlsplit(mock.url)
        tap = Tap(target.hostname or "127.0.0.1", int(target.port or 80))
        port = await tap.start()
        path = mock.path(job_id)
        client: _Client | None = None
        try:
            client = await self._start(self._environment(port, job_id, mock))
            started = time.time()
            await self._play(case, tap, client)
            frozen = tap.freeze()
            await self._settle(client, tap, path)
        finally:
            exit_code = await client.stop(self.grace) if client is not None else None
            await tap.close()
        if exit_code in NOT_STARTED and not tap.connections:
            last = client.stderr[-1] if client.stderr else f"exit status {exit_code}"
            raise GateError(f"--run: the command could not be started: {last}")
        entries = await mock.journal(path)
        relayed = _stream_exchanges(tap, path)
        found, unpaired = attempts(entries, relayed)
        observation = Observation(
            case, self.bounds, found, client.lines, started, frozen, exit_code, "\n".join(client.stderr)
        )
        observation.expected = expected_events(found)
        observation.unpaired = unpaired
        return CaseResult(case, observation, judge(observation))

    async def _start(self, env: Mapping[str, str]) -> _Client:
        try:
            process = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(env),
                start_new_session=True,
                limit=LINE_LIMIT,
            )
        except OSError as exc:
            raise GateError(f"--run: cannot start /bin/sh: {exc.strerror}") from None
        client = _Client(process)
        client.readers = [asyncio.ensure_future(client.read_stdout()), asyncio.ensure_future(client.read_stderr())]
        return client

    async def _play(self, case: Case, tap: Tap, client: _Client) -> None:
        """Until the case's window after the first connection has passed, or the command has exited."""
        exited = asyncio.ensure_future(client.process.wait())
        try:
            deadline = time.monotonic() + self.connect_timeout
            while not tap.connections and not exited.done() and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
            if not tap.connections:
                return
            window = case.timeline.window_s(self.bounds)
            remaining = tap.connections[0].opened_at + window - time.time()
            if remaining > 0:
                await asyncio.wait([exited], timeout=remaining)
        finally:
            if not exited.done():
                exited.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await exited

    async def _settle(self, client: _Client, tap: Tap, path: str) -> None:
        """Give the client time to hand over every event it was given (it knows nothing new is coming)."""
        everything, as_json = _dispatchable(_stream_exchanges(tap, path))
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline and client.process.returncode is None:
            events = client.event_lines
            wanted = as_json if events and all(line.parsed for line in events) else everything
            if len(events) >= wanted:
                break
            await asyncio.sleep(POLL_S)
        await asyncio.sleep(QUIET_S)


def _stream_exchanges(tap: Tap, path: str) -> list[Exchange]:
    return [e for connection in tap.connections for e in exchanges(connection) if e.path == path]


def _dispatchable(relayed: list[Exchange]) -> tuple[int, int]:
    """How many events the relayed streams dispatch: all of them, and those whose data is JSON."""
    everything = as_json = 0
    for exchange in relayed:
        if not exchange.is_stream:
            continue
        reader = SSEReader()
        for at, chunk in exchange.body:
            for frame in reader.feed(chunk, at):
                if frame.dispatched:
                    everything += 1
                    as_json += _is_json(frame.data)
    return everything, as_json


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
