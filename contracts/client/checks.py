"""The rules a stream client is held to: one named check function each, registered once with its level
(in the gate's registry, `contracts.checks`, as checks of kind `client`).

A check takes a case's Observation and returns what it found broken (an empty list: it held), or raises
NotApplicable with the reason when the case gave it nothing to judge. A `failure` breaks the WHATWG rules or
the contract; a `warning` is a robustness gap the standard allows (no stall detection, no retry on a 503).
"""

from __future__ import annotations

import difflib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, cast

from contracts.checks import Kind, declare, of_kind
from contracts.client.exchanges import CLIENT_CLOSED, COMPLETE, OPEN
from contracts.client.observation import Attempt, Expected, Observation, known_before
from contracts.client.protocol import ClientLine
from contracts.client.rules import POINTER

# Shown per kind of finding (lost, invented, ...) before "and N more".
SHOWN = 3
# Measuring a gap from the relay's end of a response to the mock's journal time can only make it longer than
# the client's own wait; these cover the journal's millisecond rounding (and the relay noticing a close).
SERVER_END_SLACK_S = 0.005
CLIENT_END_SLACK_S = 0.02
# A stream the client closes this much before the stall bound was not stalled.
STALL_SLACK_S = 0.05
# Backing off means that from the third retry on, each delay is at least this share of the contract's delay.
GROWTH_SHARE = 0.5
GROWTH_FROM = 3


class Level(StrEnum):
    """How bad a broken rule is."""

    FAILURE = "failure"
    WARNING = "warning"


class NotApplicable(Exception):
    """The case gave the check nothing to judge; the message says why."""


Judge = Callable[[Observation], list[str]]


@dataclass(frozen=True)
class Check:
    """One rule: its name, level, what it demands, and the function that judges a case."""

    name: str
    level: Level
    rule: str
    judge: Judge


def check(name: str, level: Level, rule: str) -> Callable[[Judge], Judge]:
    """Register a check function under `name` (a name registered twice is an error)."""

    def register(judge: Judge) -> Judge:
        declare(name, Kind.CLIENT, fails_run=level is Level.FAILURE, function=judge, rule=rule)
        return judge

    return register


# --- helpers ----------------------------------------------------------------------------------


def _at(obs: Observation, moment: float) -> str:
    """A moment as seconds after the client's first attempt."""
    origin = obs.attempts[0].at if obs.attempts else obs.started_at
    return f"+{moment - origin:.2f} s"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _some(items: list[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = "; ".join(items[:SHOWN])
    return shown + (f"; and {total - SHOWN} more" if total > SHOWN else "")


def _streams(obs: Observation) -> list[Attempt]:
    return [a for a in obs.attempts if a.is_stream]


def _next(obs: Observation, attempt: Attempt) -> Attempt | None:
    return obs.attempts[attempt.index + 1] if attempt.index + 1 < len(obs.attempts) else None


def _how(attempt: Attempt) -> str:
    if attempt.status is not None and not attempt.is_stream:
        return f"answered HTTP {attempt.status}"
    return {CLIENT_CLOSED: "closed by the client", COMPLETE: "ended cleanly by the server"}.get(
        attempt.end, "cut by the server in the middle of its body"
    )


def _canonical(value: Any) -> Any:
    """JSON values compared as JSON: 1 equals 1.0, object keys unordered."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _key_of_line(line: ClientLine) -> tuple[str, str]:
    if line.parsed:
        return str(line.event), json.dumps(_canonical(line.value), sort_keys=True)
    return str(line.event), str(line.data)


def _key_of_expected(event: Expected, parsed: bool) -> tuple[str, str] | None:
    if not parsed:
        return event.event, event.data
    try:
        return event.event, json.dumps(_canonical(event.value), sort_keys=True)
    except ValueError:
        return None


# --- connecting -------------------------------------------------------------------------------


@check("connects", Level.FAILURE, "requests the stream at FTL_STREAM_URL with credentials the API accepts")
def connects(obs: Observation) -> list[str]:
    if not obs.attempts:
        return ["the client never requested the stream (does it read FTL_STREAM_URL?)"]
    scripted = obs.case.timeline.status or 200
    wrong = [
        f"connection {a.index + 1} was answered HTTP {a.status}, the scenario plays {scripted}"
        for a in obs.attempts
        if a.status is not None and a.status != scripted
    ]
    if wrong:
        wrong.append("the mock refused the request itself: are FINETUNE_LAB_API_KEY and FTL_STREAM_URL sent as given?")
    return wrong


@check("accept_header", Level.WARNING, "asks for the stream's media type (Accept: text/event-stream)")
def accept_header(obs: Observation) -> list[str]:
    if not obs.attempts:
        raise NotApplicable("no request")
    media = obs.bounds.rules.accept
    missing = [
        f"connection {a.index + 1} sent Accept: {a.headers.get('accept', '(none)')}"
        for a in obs.attempts
        if media not in [part.split(";")[0].strip() for part in a.headers.get("accept", "").split(",")]
    ]
    return [f"{_some(missing, len(missing))} ({POINTER}.accept is {media})"] if missing else []


# --- events -----------------------------------------------------------------------------------


@check(
    "events_exact",
    Level.FAILURE,
    "hands its user every event a WHATWG parser dispatches from the bytes sent, name and data, in order, "
    "none lost, duplicated or invented",
)
def events_exact(obs: Observation) -> list[str]:
    parsed = obs.parsed_events
    expected = [(e, k) for e in obs.expected if (k := _key_of_expected(e, parsed)) is not None]
    actual = obs.events
    if not expected and not actual:
        raise NotApplicable("no event was sent and the client handed none over")
    want = [key for _, key in expected]
    got = [_key_of_line(line) for line in actual]
    lost: list[str] = []
    invented: list[str] = []
    seen = set()
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            seen.update(want[i1:i2])
            continue
        lost += [expected[i][0].shown() for i in range(i1, i2)]
        for j in range(j1, j2):
            label = "duplicated" if got[j] in seen or got[j] in want[:i1] else "invented"
            invented.append(f"{label}: {actual[j].shown()}")
    problems = []
    if lost:
        problems.append(f"lost {len(lost)} of {len(want)} events: {_some(lost)}")
    if invented:
        problems.append(f"{len(invented)} event(s) the server did not send, as the client gave them: {_some(invented)}")
    return problems


@check(
    "undeliverable_data_reported",
    Level.WARNING,
    "a client that hands over parsed JSON reports an event whose data is not JSON instead of dropping it silently",
)
def undeliverable_data_reported(obs: Observation) -> list[str]:
    if not obs.parsed_events:
        raise NotApplicable("the client hands over the data text (any data can be delivered)")
    dropped = [e for e in obs.expected if _key_of_expected(e, True) is None]
    if not dropped:
        raise NotApplicable("every event's data was JSON")
    if obs.errors:
        return []
    return [
        f"{len(dropped)} event(s) with data that is not JSON vanished without an error line: "
        f"{_some([e.shown() for e in dropped])}"
    ]


@check(
    "error_event_keeps_stream",
    Level.FAILURE,
    "the contract's error event is an event like any other: the stream goes on after it "
    "(x-stream-contract.error_event)",
)
def error_event_keeps_stream(obs: Observation) -> list[str]:
    name = obs.bounds.rules.error_event
    errors = [e for e in obs.expected if e.event == name]
    if not errors:
        raise NotApplicable(f"the server sent no {name!r} event")
    first = min(e.at for e in errors)
    problems = []
    closed = obs.closed
    if closed is not None and closed.at >= first:
        problems.append(f"the client gave up for good ({_at(obs, closed.at)}) after the {name!r} event")
    for attempt in _streams(obs):
        ended = attempt.ended_at
        stalled = ended is not None and attempt.silence_at(ended) >= obs.bounds.stall_s - STALL_SLACK_S
        if attempt.end == CLIENT_CLOSED and ended is not None and ended >= first and not stalled:
            problems.append(f"the client closed connection {attempt.index + 1} after the {name!r} event")
    return problems


# --- reconnecting -----------------------------------------------------------------------------


def _ended_streams(obs: Observation) -> Iterator[tuple[Attempt, float]]:
    """Streams that ended before the case stopped, with when."""
    for attempt in _streams(obs):
        if attempt.ended_at is not None and attempt.end != OPEN:
            yield attempt, attempt.ended_at


@check(
    "reconnects_after_end",
    Level.FAILURE,
    "reconnects after the stream ends (a clean end or a dropped connection): the stream never ends on its own",
)
def reconnects_after_end(obs: Observation) -> list[str]:
    bounds = obs.bounds
    if not bounds.rules.reconnect_after_end:
        raise NotApplicable(f"{POINTER}.reconnect.after_end is false")
    ended = list(_ended_streams(obs))
    if not ended:
        raise NotApplicable("no stream ended")
    problems, judged = [], 0
    for attempt, at in ended:
        _, retry = known_before(obs.attempts, attempt.index + 1)
        within = bounds.reconnect_within_s(retry)
        deadline = at + within + bounds.slack(within)
        if deadline > obs.frozen_at and obs.exit_code is None:
            continue
        judged += 1
        following = _next(obs, attempt)
        if following is None or following.at > deadline:
            later = f"reconnected only at {_at(obs, following.at)}" if following is not None else "never reconnected"
            if following is None and obs.exit_code is not None:
                later += f" (it exited with status {obs.exit_code})"
            problems.append(
                f"connection {attempt.index + 1} was {_how(attempt)} at {_at(obs, at)} and the client {later} "
                f"(allowed: within {within:.2f} s)"
            )
    if not judged:
        raise NotApplicable("the case stopped before a reconnect was due")
    return problems


@check(
    "reconnect_pacing",
    Level.FAILURE,
    "waits at least the contract's floor (or the server's last retry) after a connection ends: never a tight loop",
)
def reconnect_pacing(obs: Observation) -> list[str]:
    bounds = obs.bounds
    problems, judged = [], 0
    for previous, attempt in zip(obs.attempts, obs.attempts[1:], strict=False):
        ended = previous.ended_at
        if ended is None or ended > attempt.at:
            continue
        judged += 1
        _, retry = known_before(obs.attempts, attempt.index)
        required = retry / 1000.0 if retry is not None else bounds.floor_s
        slack = CLIENT_END_SLACK_S if previous.end == CLIENT_CLOSED else SERVER_END_SLACK_S
        gap = attempt.at - ended
        if gap < required - slack:
            source = (
                f"the server's retry: {retry}"
                if retry is not None
                else f"{POINTER}.reconnect.floor_ms {bounds.rules.floor_ms} x time scale {bounds.time_scale:g}"
            )
            problems.append(
                f"connection {attempt.index + 1} came {_ms(gap)} after connection {previous.index + 1} was "
                f"{_how(previous)}; wait at least {_ms(required)} ({source})"
            )
    if not judged:
        raise NotApplicable("no reconnect")
    return [f"{len(problems)} reconnect(s) too soon: {_some(problems)}"] if problems else []


@check(
    "last_event_id_sent",
    Level.FAILURE,
    "sends Last-Event-ID with the last event id it received when it reconnects (WHATWG)",
)
def last_event_id_sent(obs: Observation) -> list[str]:
    if not obs.bounds.rules.last_event_id:
        raise NotApplicable(f"{POINTER}.reconnect.last_event_id is false")
    reconnects = obs.attempts[1:]
    if not reconnects:
        raise NotApplicable("no reconnect")
    if not any(frame.id is not None for a in obs.attempts for frame in a.frames):
        raise NotApplicable("no message carried an id")
    problems = []
    for attempt in reconnects:
        want = attempt.last_event_id
        got = attempt.headers.get("last-event-id")
        if want and got != want:
            problems.append(f"connection {attempt.index + 1} sent Last-Event-ID {got!r}, the last id sent was {want!r}")
        elif not want and got:
            problems.append(f"connection {attempt.index + 1} sent Last-Event-ID {got!r} though no id is in force")
    return problems


# --- error answers ----------------------------------------------------------------------------


def _answered(obs: Observation, statuses: frozenset[int]) -> list[Attempt]:
    return [a for a in obs.attempts if a.status in statuses]


@check(
    "no_retry_on_give_up_status",
    Level.FAILURE,
    "does not ask again after an answer that asking again cannot change (x-stream-contract.client.give_up_statuses)",
)
def no_retry_on_give_up_status(obs: Observation) -> list[str]:
    final = _answered(obs, obs.bounds.rules.give_up_statuses)
    if not final:
        raise NotApplicable("no give-up status was answered")
    first = final[0]
    again = obs.attempts[first.index + 1 :]
    if not again:
        return []
    return [
        f"after HTTP {first.status} the client asked {len(again)} more time(s), the last at {_at(obs, again[-1].at)}: "
        f"{first.status} is in {POINTER}.give_up_statuses, report it and stop"
    ]


@check(
    "reports_give_up",
    Level.FAILURE,
    'tells its user when it gives up on a give-up status: an "error" line, then "closed"',
)
def reports_give_up(obs: Observation) -> list[str]:
    final = _answered(obs, obs.bounds.rules.give_up_statuses)
    if not final:
        raise NotApplicable("no give-up status was answered")
    problems = []
    if not any(line.at >= final[0].at for line in obs.errors):
        problems.append(f"no error line after HTTP {final[0].status}")
    if obs.closed is None:
        problems.append(f'no "closed" line after HTTP {final[0].status} (the client never said it stopped)')
    return problems


@check(
    "retries_transient_status",
    Level.WARNING,
    "retries an answer from a server in trouble (x-stream-contract.client.retry_statuses)",
)
def retries_transient_status(obs: Observation) -> list[str]:
    bounds = obs.bounds
    transient = [a for a in _answered(obs, bounds.rules.retry_statuses) if a.ended_at is not None]
    if not transient:
        raise NotApplicable("no retry status was answered")
    first = transient[0]
    within = bounds.backoff_max_s
    deadline = float(first.ended_at or first.at) + within + bounds.slack(within)
    if deadline > obs.frozen_at and obs.exit_code is None:
        raise NotApplicable("the case stopped before a retry was due")
    following = _next(obs, first)
    if following is not None and following.at <= deadline:
        return []
    return [
        f"the client did not ask again within {within:.2f} s of HTTP {first.status} (a server in trouble recovers; "
        "a standard EventSource gives up on any non-200 answer, so this is allowed, but fragile)"
    ]


@check(
    "backs_off",
    Level.WARNING,
    "retries with a growing delay, never longer than the contract's longest (x-stream-contract.client.backoff)",
)
def backs_off(obs: Observation) -> list[str]:
    bounds = obs.bounds
    statuses = bounds.rules.retry_statuses
    delays = [
        following.at - float(attempt.ended_at)
        for attempt, following in zip(obs.attempts, obs.attempts[1:], strict=False)
        if attempt.status in statuses and attempt.ended_at is not None
    ]
    if len(delays) < GROWTH_FROM:
        raise NotApplicable(f"{len(delays)} retry delay(s) after retry statuses, fewer than {GROWTH_FROM} to judge")
    shown = ", ".join(_ms(d) for d in delays)
    contract = ", ".join(_ms(bounds.backoff_s(n)) for n in range(1, len(delays) + 1))
    problems = []
    short = [n for n, d in enumerate(delays, 1) if n >= GROWTH_FROM and d < GROWTH_SHARE * bounds.backoff_s(n)]
    if short:
        problems.append(f"the delays do not grow ({shown}); the contract's backoff waits {contract}")
    longest = bounds.backoff_max_s
    if max(delays) > longest + bounds.slack(longest):
        problems.append(f"a delay passes the contract's longest, {_ms(longest)} ({shown})")
    return problems


# --- silence ----------------------------------------------------------------------------------


def _gaps(obs: Observation, attempt: Attempt) -> Iterator[tuple[float, float]]:
    """(start, end) of each silence on a stream while the client held it open."""
    exchange = attempt.exchange
    if exchange is None or exchange.responded_at is None:
        return
    moments = [exchange.responded_at, *(at for at, _ in exchange.body)]
    end = attempt.ended_at if attempt.ended_at is not None else obs.frozen_at
    moments.append(min(end, obs.frozen_at))
    yield from itertools.pairwise(moments)


@check(
    "detects_stall",
    Level.WARNING,
    "closes and reconnects a stream that sent no byte for x-stream-contract.client.stall_heartbeats heartbeat "
    "intervals (WHATWG EventSource has no read timeout, so this is robustness, not conformance)",
)
def detects_stall(obs: Observation) -> list[str]:
    bound = obs.bounds.stall_s
    limit = bound + obs.bounds.slack(bound)
    judged, problems = False, []
    for attempt in _streams(obs):
        for start, end in _gaps(obs, attempt):
            if end - start >= bound - STALL_SLACK_S:
                judged = True
            if end - start > limit:
                problems.append(
                    f"connection {attempt.index + 1} stayed open through {end - start:.2f} s of silence "
                    f"({_at(obs, start)} to {_at(obs, end)}); {bound:.2f} s without a byte is a dead connection"
                )
    if not judged:
        raise NotApplicable(f"no stream went {bound:.2f} s without a byte")
    return problems


@check(
    "keeps_live_stream",
    Level.FAILURE,
    "never closes a stream that is not stalled: events sent after the close are lost for good (no replay)",
)
def keeps_live_stream(obs: Observation) -> list[str]:
    streams = _streams(obs)
    if not streams:
        raise NotApplicable("no stream was opened")
    bound = obs.bounds.stall_s
    problems = []
    for attempt in streams:
        ended = attempt.ended_at
        if attempt.end == CLIENT_CLOSED and ended is not None:
            silence = attempt.silence_at(ended)
            if silence < bound - STALL_SLACK_S:
                problems.append(
                    f"the client closed connection {attempt.index + 1} at {_at(obs, ended)} after {silence:.2f} s "
                    f"of silence (a stream is dead only after {bound:.2f} s)"
                )
    return problems


# Every client check, as the client run reads them (registered above, in the order they are defined).
CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        c.name: Check(c.name, Level.FAILURE if c.fails_run else Level.WARNING, c.rule, cast(Judge, c.function))
        for c in of_kind(Kind.CLIENT)
    }
)
