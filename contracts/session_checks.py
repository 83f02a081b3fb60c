"""The checks of the live stream session: the failures before a stream opens and the live cross-check with REST.

`contracts.live_check` runs the session and gathers what it saw into the observations below (a `Refusal`, a
`LimitTrial`, a `LiveSession`); each rule is a plain function over one of them, registered here with `@check`,
that returns its violations (empty when it holds) or raises `Skip` when the session saw nothing to judge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from contracts.checks import Kind, check
from contracts.sse_reader import Frame
from contracts.stream_capture import StreamCapture
from contracts.stream_checks import Skip
from spec import StreamContract
from spec.pointers import MISSING

NOT_THAT_FAR = "the live check did not get that far"


class Finding(NamedTuple):
    """One violation of a live rule, with the request that shows it and the start of its answer."""

    message: str
    curl: str | None = None
    response: str | None = None


# --- before the stream opens -------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A stream request that must be refused before the stream opens (`what` it lacked), and its capture."""

    stream: StreamContract
    what: str
    declared: tuple[str, ...]
    capture: StreamCapture


@dataclass(frozen=True)
class Answer:
    """A stream request's status (None: no answer) and media type."""

    status: int | None
    media: str = ""


@dataclass(frozen=True)
class LimitTrial:
    """A design's per-user `limit` tried: the allowed streams opened, one more, and one more after closing one.

    `admitted` ends at the first stream refused; `extra` and `reopened` are None when not tried that far.
    """

    stream: StreamContract
    allowed: int
    status: str
    admitted: tuple[Answer, ...]
    extra: Answer | None = None
    reopened: Answer | None = None


def _refused(refusal: Refusal) -> list[str]:
    capture, what, declared = refusal.capture, refusal.what, refusal.declared
    if str(capture.status) not in declared:
        return [f"request {what} got HTTP {capture.status or capture.error}, not {' or '.join(declared)}"]
    stream = refusal.stream
    response = stream.operation.responses[str(capture.status)]
    media = list(response.content) or [str(stream.rules.get("pre_stream_errors", {}).get("media_type"))]
    if capture.content_type not in media:
        return [f"HTTP {capture.status} {what} is {capture.content_type or 'untyped'}, not {' or '.join(media)}"]
    return []


@check(Kind.PRE_STREAM)
def stream_rejects_no_credentials(refusal: Refusal) -> list[str]:
    """A stream request without credentials is refused with a declared 401 or 403 of the declared media type."""
    return _refused(refusal)


@check(Kind.PRE_STREAM)
def stream_unknown_job(refusal: Refusal) -> list[str]:
    """A stream request for an unknown job is refused with the declared 404."""
    return _refused(refusal)


@check(Kind.PRE_STREAM)
def stream_foreign_job(refusal: Refusal) -> list[str]:
    """A stream request for another user's job is refused as an unknown job is."""
    return _refused(refusal)


@check(Kind.PRE_STREAM)
def stream_user_limit(trial: LimitTrial) -> list[str]:
    """A design's `limit`: that many streams of one user open, one more is refused, closing one makes room."""
    allowed, status = trial.allowed, trial.status
    for index, answer in enumerate(trial.admitted):
        if answer.status != 200:
            return [f"stream {index + 1} of the {allowed} allowed per user got {_status(answer.status)}"]
    found = []
    extra = trial.extra
    if extra is not None:
        declared = list(trial.stream.operation.responses[status].content)
        if str(extra.status) != status:
            found.append(f"stream {allowed + 1} of one user got {_status(extra.status)}, not HTTP {status}")
        elif declared and extra.media not in declared:
            found.append(
                f"HTTP {status} for stream {allowed + 1} is {extra.media or 'untyped'}, not {' or '.join(declared)}"
            )
    reopened = trial.reopened
    if reopened is not None and reopened.status != 200:
        found.append(f"with one of {allowed} streams closed, another still got {_status(reopened.status)}")
    return found


# --- the live stream ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A request of the live session (`command`, for a curl) and its answer (status None: no answer)."""

    operation: str
    command: str
    status: int | None
    excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Delivery:
    """Upload number `number` while the stream was open, its items, and the items its events brought.

    `excluded` items carried a value outside the stream's `filter`: none was awaited.
    """

    number: int
    upload: Sent
    items: tuple[dict[str, Any], ...]
    delivered: tuple[tuple[Frame, Any], ...] = ()
    arrived: bool = False
    excluded: bool = False

    @property
    def awaited(self) -> bool:
        return self.upload.ok and not self.excluded


@dataclass(frozen=True)
class Pushed:
    """What an event pushed at the design's `push` pointer, and what its operation answered over REST then."""

    event: str
    operation: str
    value: Any
    answered: Any
    status: int | None


@dataclass(frozen=True)
class Counted:
    """The stream's last counter and the count REST gave (None: none) right after the uploads."""

    streamed: Any
    rest: int | None


@dataclass
class LiveSession:
    """What the live session saw: the job created, each upload, each push compared, the counter compared.

    `skips` holds why the session saw nothing for a rule (the first reason wins).
    """

    stream: StreamContract
    delivery_bound: float
    created: Sent | None = None
    job_pointer: str = ""
    job_named: bool = False
    uploads: list[Delivery] = field(default_factory=list)
    pushes: list[Pushed] = field(default_factory=list)
    counted: Counted | None = None
    skips: dict[str, str] = field(default_factory=dict)

    def skip(self, name: str) -> Skip:
        return Skip(self.skips.get(name, NOT_THAT_FAR))


@check(Kind.LIVE)
def live_setup(seen: LiveSession) -> list[Finding]:
    """The operation that creates a job does so with its spec example, and the job's uploads are accepted."""
    found = []
    created = seen.created
    if created is not None and not created.ok:
        found.append(
            Finding(
                f"{created.operation} with its spec example answered {_status(created.status)}",
                created.command,
                created.excerpt,
            )
        )
    elif created is not None and not seen.job_named:
        found.append(Finding(f"{created.operation} response has no job id at {seen.job_pointer}"))
    for delivery in seen.uploads:
        upload = delivery.upload
        if not upload.ok:
            message = f"{upload.operation} with the job's token answered {_status(upload.status)}"
            found.append(Finding(message, upload.command, upload.excerpt))
    if not found and created is None:
        raise seen.skip("live_setup")
    return found


@check(Kind.LIVE)
def live_prediction_delivery(seen: LiveSession) -> list[Finding]:
    """Every upload while the stream is open arrives as its events within the delivery bound."""
    event = str(seen.stream.trigger["event"])
    awaited = [delivery for delivery in seen.uploads if delivery.awaited]
    found = [
        Finding(
            f"upload #{d.number} of {len(d.items)} item(s) produced {len(d.delivered)} {event} event(s) "
            f"within {seen.delivery_bound:g} s",
            d.upload.command,
        )
        for d in awaited
        if not d.arrived
    ]
    if not found and not awaited:
        raise seen.skip("live_prediction_delivery")
    return found


@check(Kind.LIVE)
def live_event_matches_upload(seen: LiveSession) -> list[Finding]:
    """Each item an event brings is the row that was uploaded."""
    stream = seen.stream
    pointer = stream.item_pointer or str((stream.batch or {}).get("items", ""))
    found = []
    compared = False
    for delivery in seen.uploads:
        if not delivery.awaited:
            continue
        command = delivery.upload.command
        for item, (frame, row) in zip(delivery.items, delivery.delivered, strict=False):
            compared = True
            if not isinstance(row, dict):
                found.append(Finding(f"{frame.event} has no stored row at {pointer}", command))
                continue
            wrong = [key for key, value in item.items() if row.get(key) != value]
            if wrong:
                shown = ", ".join(f"{key}={row.get(key)!r} (sent {item[key]!r})" for key in wrong[:3])
                found.append(Finding(f"{frame.event} row differs from the upload: {shown}", command))
    if not found and not compared:
        raise seen.skip("live_event_matches_upload")
    return found


@check(Kind.LIVE)
def live_counter_rest(seen: LiveSession) -> list[Finding]:
    """The stream's last counter equals the count its REST operation gives."""
    counted = seen.counted
    if counted is None:
        raise seen.skip("live_counter_rest")
    counter = seen.stream.counter
    rest = counter.get("rest") or {}
    if counted.rest is None:
        return [Finding(f"{rest.get('operation_id')} gave no count at {rest.get('pointer')}")]
    if counted.streamed != counted.rest:
        return [
            Finding(
                f"REST {rest.get('operation_id')} {rest.get('pointer')} is {counted.rest}, "
                f"the stream's last {counter['pointer']} is {counted.streamed!r}"
            )
        ]
    return []


@check(Kind.LIVE)
def live_push_matches_rest(seen: LiveSession) -> list[Finding]:
    """A design's `push`: what the event carries equals what its operation answers over REST at that moment."""
    if not seen.pushes:
        raise seen.skip("live_push_matches_rest")
    pointer = (seen.stream.push or {}).get("pointer")
    found = []
    for pushed in seen.pushes:
        if pushed.answered is MISSING:
            found.append(Finding(f"{pushed.operation} answered {_status(pushed.status)} to compare with the stream"))
        elif not _same(pushed.value, pushed.answered):
            found.append(
                Finding(
                    f"{pushed.event} {pointer} differs from {pushed.operation}'s answer: "
                    f"{_short(pushed.value)} != {_short(pushed.answered)}"
                )
            )
    return found


def _same(left: Any, right: Any) -> bool:
    """JSON values equal, numbers within a relative 1e-9 (the same average computed in another order)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    numbers = (int, float)
    if (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    ):
        return abs(left - right) <= 1e-9 * max(1.0, abs(left), abs(right))
    return bool(left == right) and type(left) is type(right)


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, separators=(",", ":")) if value is not MISSING else "nothing"
    return text if len(text) <= limit else text[:limit] + "…"


def _status(status: int | None) -> str:
    return f"HTTP {status}" if status is not None else "no response"
