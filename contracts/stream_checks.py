"""The stream's rules over time, one plain function per rule, each read from the spec's stream contract.

A rule takes a `StreamCapture`, the `StreamContract` and the `Timing` of the target and returns its
violations as messages (empty when it holds) or raises `Skip` when the capture cannot decide it.
All rules are registered in `STREAM_CHECKS`. The rules a design adds (`batch`, `filter`, `wire.content_coding`)
skip on a contract without them; the counter and subject rules read a batch's items.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Any, cast

from contracts.checks import Kind, check, of_kind
from contracts.sse_reader import Frame
from contracts.stream_capture import StreamCapture
from spec import Schema, StreamContract, pointers

# Extra room for scheduling and network delay on top of the relative heartbeat tolerance.
HEARTBEAT_FLOOR_S = 0.25


class Skip(Exception):  # a verdict, not an error: the rule could not be decided
    """The capture cannot decide the rule; the message says why."""


@dataclass(frozen=True)
class Timing:
    """How the target's clock relates to the spec's intervals, and how much slack a rule allows."""

    time_scale: float = 1.0
    tolerance: float = 0.5

    def heartbeat_interval(self, stream: StreamContract) -> float:
        """Seconds between heartbeats on this target."""
        return stream.heartbeat_interval_ms / 1000 * self.time_scale

    def heartbeat_allowed(self, stream: StreamContract) -> float:
        """The longest gap between heartbeats that still passes."""
        return self.heartbeat_interval(stream) * (1 + self.tolerance) + HEARTBEAT_FLOOR_S

    def read_timeout(self, stream: StreamContract, request_timeout: float) -> float:
        """How long one read of an open stream may wait: a whole allowed heartbeat gap, plus the request timeout.

        A healthy stream is silent for up to one heartbeat interval; no read may give up before that.
        """
        return self.heartbeat_allowed(stream) + request_timeout


Rule = Callable[[StreamCapture, StreamContract, Timing], list[str]]


def _opened(capture: StreamCapture) -> None:
    if capture.error and not capture.status:
        raise Skip(f"the stream did not open: {capture.error}")
    if not 200 <= capture.status < 300:
        raise Skip(f"the stream did not open: HTTP {capture.status}")


def _messages(capture: StreamCapture) -> list[Frame]:
    _opened(capture)
    return [frame for frame in capture.frames if frame.dispatched]


def _some_messages(capture: StreamCapture) -> list[Frame]:
    """The dispatched messages; Skip when there is none to judge."""
    messages = _messages(capture)
    if not messages:
        raise Skip(f"no message arrived in {capture.window:.2f} s")
    return messages


def _decoded(frame: Frame) -> Any:
    try:
        return json.loads(frame.data)
    except ValueError:
        return pointers.MISSING


def _show(frame: Frame, limit: int = 200) -> str:
    text = frame.raw.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


# --- the response ----------------------------------------------------------------------------


@check(Kind.STREAM)
def stream_status(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """The stream opens with the operation's success status."""
    if capture.error and not capture.status:
        return [f"no response: {capture.error}"]
    expected = stream.operation.success_status
    return [] if capture.status == expected else [f"expected HTTP {expected}, got HTTP {capture.status}"]


@check(Kind.STREAM)
def stream_content_type(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """The success response has the declared stream media type."""
    _opened(capture)
    declared = list(stream.operation.success.content)
    if capture.content_type in declared:
        return []
    return [f"Content-Type {capture.headers.get('content-type')!r} is not the declared {' or '.join(declared)}"]


@check(Kind.STREAM)
def stream_headers(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Every required response header is sent and every declared header matches its schema."""
    _opened(capture)
    found = []
    for name, header in stream.operation.success.headers.items():
        value = capture.headers.get(name)
        if value is None:
            if header.get("required"):
                found.append(f"required header {name} is missing")
            continue
        found.extend(f"header {v}" for v in Schema(header.get("schema", {})).violations(value, name))
    return found


@check(Kind.STREAM)
def stream_never_ends(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """A stream the contract says never ends stays open for the whole read."""
    _opened(capture)
    if stream.rules.get("ends") != "never":
        raise Skip("the contract lets the stream end")
    if capture.ended_by == "server":
        return [f"the server ended the stream after {capture.window:.2f} s ({len(capture.frames)} messages)"]
    if capture.ended_by == "error":
        return [f"the stream broke after {capture.window:.2f} s: {capture.error}"]
    return []


# --- the messages ----------------------------------------------------------------------------


@check(Kind.STREAM)
def stream_first_event(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """The first message is the contract's `first_event`."""
    messages = _messages(capture)
    if not messages:
        return [f"no message arrived in {capture.window:.2f} s; expected {stream.first_event!r} first"]
    first = messages[0]
    return [] if first.event == stream.first_event else [f"first event is {first.event!r}, not {stream.first_event!r}"]


@check(Kind.STREAM)
def stream_event_declared(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Every message names an event the stream's itemSchema declares."""
    declared = stream.event_names
    return [
        f"event {frame.event!r} is not declared (declared: {', '.join(declared)}): {_show(frame)}"
        for frame in _some_messages(capture)
        if frame.event not in declared
    ]


@check(Kind.STREAM)
def stream_event_data(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """The data of every declared event validates against its schema."""
    found: list[str] = []
    judged = [frame for frame in _messages(capture) if frame.event in stream.events]
    if not judged:
        raise Skip("no message of a declared event arrived")
    for frame in judged:
        found.extend(f"{violation} in {_show(frame)}" for violation in stream.check_event_data(frame.event, frame.data))
    return found


@check(Kind.STREAM)
def stream_subject(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Events that name their subject name the job of the stream's path."""
    messages = _messages(capture)
    if not stream.subjects:
        raise Skip("the contract names no subject")
    found, checked = [], 0
    for rule in stream.subjects:
        expected = capture.path_params.get(str(rule["path_parameter"]))
        for frame in (f for f in messages if f.event == rule["event"]):
            checked += 1
            # `*` names every item of a list (a batch's rows each name the job).
            for where, value in pointers.expand(_decoded(frame), str(rule["pointer"])):
                if value != expected:
                    shown = "nothing" if value is pointers.MISSING else repr(value)
                    found.append(f"{frame.event} {where} is {shown}, not the path's {expected!r}")
    if not checked:
        raise Skip(f"no {' or '.join(str(r['event']) for r in stream.subjects)} event arrived")
    return found


@check(Kind.STREAM)
def stream_heartbeat(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Heartbeats come at the contract's interval (scaled to the target) plus a tolerance."""
    messages = _messages(capture)
    allowed = timing.heartbeat_allowed(stream)
    name = stream.heartbeat_event
    beats = [frame.received_at for frame in messages if frame.event == name]
    if capture.window < allowed and not beats:
        raise Skip(f"the read lasted {capture.window:.2f} s, less than one heartbeat interval ({allowed:.2f} s)")
    found = []
    previous, previous_label = capture.opened_at, "the stream opened"
    for index, at in enumerate(beats, start=1):
        if at - previous > allowed:
            found.append(f"{name} #{index} came {at - previous:.2f} s after {previous_label} (allowed {allowed:.2f} s)")
        previous, previous_label = at, f"{name} #{index}"
    if capture.ended_by != "server" and capture.closed_at - previous > allowed:
        found.append(
            f"no {name} for {capture.closed_at - previous:.2f} s after {previous_label} "
            f"(allowed {allowed:.2f} s; interval {timing.heartbeat_interval(stream):.2f} s)"
        )
    return found


@check(Kind.STREAM)
def stream_counter(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """The counter never decreases and rises by the contract's increment with every counted event."""
    rule = stream.counter
    messages = [frame for frame in _messages(capture) if frame.event == rule["event"]]
    if not messages:
        raise Skip(f"no {rule['event']} event arrived")
    increment = int(rule.get("increment", 1))
    # On a filtered stream the counter still counts every item of the job, the ones not sent too.
    filtered = _filter_value(capture, stream) is not pointers.MISSING
    found = []
    previous = capture.counter_baseline
    for frame in messages:
        decoded = _decoded(frame)
        value = pointers.get(decoded, str(rule["pointer"]))
        if not isinstance(value, int) or isinstance(value, bool):
            found.append(f"{rule['event']} {rule['pointer']} is not an integer: {_show(frame)}")
            continue
        # Per stored item: a batch's count rises by its rows.
        rise = increment * (max(1, len(stream.items_of(decoded))) if stream.batch is not None else 1)
        if previous is not None and value != previous + rise and not (filtered and value > previous + rise):
            if value < previous:
                found.append(f"{rule['pointer']} decreased: {previous} -> {value}")
            elif value == previous:
                found.append(f"{rule['pointer']} did not rise: {previous} -> {value}")
            else:
                found.append(f"{rule['pointer']} rose by {value - previous}, not {rise}: {previous} -> {value}")
        previous = value
    if not found and len(messages) < 2 and capture.counter_baseline is None:
        raise Skip(f"one {rule['event']} event and no known count before it")
    return found


# --- the wire --------------------------------------------------------------------------------


@check(Kind.STREAM)
def stream_line_endings(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Every line ends with the contract's line ending (so one convention throughout)."""
    _opened(capture)
    expected = str(stream.wire.get("line_ending", "\n"))
    used = {ending: count for ending, count in capture.reader.line_endings.items() if count > 0}
    if not used:
        raise Skip("no line arrived")
    wrong = {ending: count for ending, count in used.items() if ending != expected}
    if not wrong:
        return []
    shown = ", ".join(f"{count} x {ending!r}" for ending, count in wrong.items())
    return [f"lines end with {shown}; the contract says {expected!r} only"]


@check(Kind.STREAM)
def stream_fields(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Each message has exactly the contract's fields in order: no ids, retries, comments or extra lines."""
    messages = [frame for frame in capture.frames if frame.fields or frame.comments]
    _opened(capture)
    if not messages:
        raise Skip(f"no message arrived in {capture.window:.2f} s")
    expected = [str(name) for name in stream.wire.get("fields", ())]
    found = []
    for frame in messages:
        if frame.comments:
            found.append(f"comment line in {_show(frame)}")
        if expected and frame.field_names != expected:
            found.append(f"fields {frame.field_names} instead of {expected} in {_show(frame)}")
        if not expected and frame.unknown_fields:
            found.append(f"unknown field {frame.unknown_fields[0]!r} in {_show(frame)}")
    return found


@check(Kind.STREAM)
def stream_data_encoding(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Data is encoded as the contract says (compact JSON: valid, no insignificant whitespace)."""
    messages = _some_messages(capture)
    encoding = stream.wire.get("data")
    if encoding != "compact-json":
        raise Skip(f"no rule for data encoding {encoding!r}")
    found = []
    for frame in messages:
        if _decoded(frame) is pointers.MISSING:
            found.append(f"data is not JSON: {_show(frame)}")
        elif not _is_compact(frame.data):
            found.append(f"data has whitespace outside strings: {_show(frame)}")
    return found


@check(Kind.STREAM)
def stream_frames_terminated(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Every message ends with a blank line and nothing stray surrounds them."""
    _opened(capture)
    if not capture.reader.chunks:
        raise Skip(f"nothing arrived in {capture.window:.2f} s")
    found = []
    if capture.reader.unterminated:
        found.append(f"unterminated message when the read stopped: {capture.reader.unterminated[:200]!r}")
    if capture.reader.stray_blank_lines:
        found.append(f"{capture.reader.stray_blank_lines} blank line(s) outside any message")
    found.extend(f"invalid UTF-8 in {_show(frame)}" for frame in capture.frames if frame.invalid_utf8)
    return found


@check(Kind.STREAM)
def stream_single_chunk(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """Each message arrives in one chunk when the contract says so (split messages are lost by some clients)."""
    messages = _some_messages(capture)
    if not stream.wire.get("one_chunk_per_message"):
        raise Skip("the contract allows messages split across chunks")
    return [
        f"message split over chunks {frame.first_chunk}..{frame.last_chunk}: {_show(frame)}"
        for frame in messages
        if frame.first_chunk != frame.last_chunk
    ]


# --- the rules of a design ----------------------------------------------------------------------


@check(Kind.STREAM)
def stream_content_coding(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """A stream the contract codes (`wire.content_coding`) is sent so to a client that accepts it, and decodes."""
    _opened(capture)
    coding = stream.content_coding
    if coding is None:
        raise Skip("the contract sets no content coding for the stream")
    sent = capture.headers.get("content-encoding", "").strip().lower()
    accepted = coding in capture.accept_encoding.lower()
    if accepted and sent != coding:
        return [f"Content-Encoding is {sent or 'absent'}, not {coding}, though the request accepted it"]
    if not accepted and sent:
        return [f"Content-Encoding {sent} was sent to a request that did not accept it"]
    if capture.decode_error is not None:
        return [capture.decode_error]
    return []


@check(Kind.STREAM)
def stream_batch_window(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """A batching stream sends at most one trigger event per window (scaled to the target, less the tolerance)."""
    batch = stream.batch
    if batch is None:
        raise Skip("the contract does not batch the stream's items")
    arrivals = [frame.received_at for frame in _messages(capture) if frame.event == stream.trigger_event]
    if len(arrivals) < 2:
        raise Skip(f"fewer than two {stream.trigger_event} events arrived")
    window = int(batch["window_ms"]) / 1000 * timing.time_scale
    allowed = window * (1 - min(timing.tolerance, 1.0))
    return [
        f"{stream.trigger_event} #{index + 1} came {later - earlier:.3f} s after the one before "
        f"(the window is {window:.3f} s; at least {allowed:.3f} s allowed)"
        for index, (earlier, later) in enumerate(pairwise(arrivals), start=1)
        if later - earlier < allowed
    ]


@check(Kind.STREAM)
def stream_filter(capture: StreamCapture, stream: StreamContract, timing: Timing) -> list[str]:
    """A stream opened with the `filter` parameter carries only items with that value."""
    rule = stream.filter
    if rule is None:
        raise Skip("the contract has no stream filter")
    wanted = _filter_value(capture, stream)
    if wanted is pointers.MISSING:
        raise Skip(f"the stream was opened without ?{rule['parameter']}=")
    items = [
        (frame, item)
        for frame in _messages(capture)
        if frame.event == stream.trigger_event
        for item in stream.items_of(_decoded(frame))
    ]
    if not items and not capture.filtered_out:
        raise Skip(f"no {stream.trigger_event} item arrived and none outside the filter was stored")
    pointer = str(rule["item_pointer"])
    return [
        f"{frame.event} carries an item with {pointer} {pointers.get(item, pointer)!r} on a stream opened with "
        f"?{rule['parameter']}={wanted!r}: {_show(frame)}"
        for frame, item in items
        if pointers.get(item, pointer) != wanted
    ]


def _filter_value(capture: StreamCapture, stream: StreamContract) -> Any:
    rule = stream.filter
    if rule is None:
        return pointers.MISSING
    return capture.query.get(str(rule["parameter"]), pointers.MISSING)


def _is_compact(text: str) -> bool:
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in " \t\r\n":
            return False
    return True


STREAM_CHECKS: Mapping[str, Rule] = MappingProxyType({c.name: cast(Rule, c.function) for c in of_kind(Kind.STREAM)})


def evaluate(capture: StreamCapture, stream: StreamContract, timing: Timing) -> Iterator[tuple[str, list[str] | Skip]]:
    """Run every stream rule on a capture: (name, violations) or (name, Skip)."""
    for name, rule in STREAM_CHECKS.items():
        try:
            yield name, rule(capture, stream, timing)
        except Skip as skip:
            yield name, skip
