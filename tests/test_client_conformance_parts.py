"""The parts of `ftl-gate client` on their own: the contract's client rules and their scaling, a scenario's
timeline, HTTP exchanges read back from relayed bytes, the output protocol, the relay, the expected events, and
the reference client's workaround for httpx-sse.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import pytest

import spec
from contracts.client import CHECKS
from contracts.client.adapters.httpx_sse_client import DataMessages
from contracts.client.cases import TAIL_S, timeline
from contracts.client.exchanges import CLIENT_CLOSED, COMPLETE, DROPPED, OPEN, exchanges
from contracts.client.observation import attempts, expected_events, known_before
from contracts.client.protocol import CLOSED, ERROR, EVENT, IGNORED, read_line
from contracts.client.rules import ClientRules
from contracts.client.tap import Connection, Tap
from contracts.errors import GateError
from mockserver.scenarios import Library
from tests.conftest import ROOT

CONTRACT = spec.load()
STREAM = CONTRACT.stream
RULES = ClientRules.of(STREAM)
BOUNDS = RULES.scaled(0.05)
RAW = STREAM.rules["client"]
LIBRARY = Library(STREAM)
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
GET = b"GET /stream HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# --- rules -----------------------------------------------------------------------------------


def test_the_client_rules_come_from_the_contract_and_scale_with_the_run() -> None:
    assert RULES.give_up_statuses == frozenset(RAW["give_up_statuses"])
    assert RULES.retry_statuses == frozenset(RAW["retry_statuses"])
    assert BOUNDS.floor_s == pytest.approx(RAW["reconnect"]["floor_ms"] * 0.05 / 1000)
    assert BOUNDS.stall_s == pytest.approx(RAW["stall_heartbeats"] * STREAM.heartbeat_interval_ms * 0.05 / 1000)
    backoff = RAW["backoff"]
    assert BOUNDS.backoff_s(1) == pytest.approx(backoff["initial_ms"] * 0.05 / 1000)
    assert BOUNDS.backoff_s(2) == pytest.approx(backoff["initial_ms"] * backoff["factor"] * 0.05 / 1000)
    assert BOUNDS.backoff_s(99) == pytest.approx(backoff["max_ms"] * 0.05 / 1000)
    # A server's retry is real milliseconds: never scaled.
    assert BOUNDS.reconnect_within_s(60_000) == 60.0
    env = BOUNDS.environment()
    assert env["FTL_TIME_SCALE"] == "0.05"
    assert float(env["FTL_STALL_MS"]) == pytest.approx(BOUNDS.stall_s * 1000)
    assert env["FTL_GIVE_UP_STATUSES"] == ",".join(map(str, sorted(RAW["give_up_statuses"])))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({}, "has no x-stream-contract.client section"),
        ({"client": {**RAW, "reconnect": {**RAW["reconnect"], "floor_ms": "soon"}}}, "reconnect.floor_ms: is required"),
        ({"client": {**RAW, "give_up_statuses": [200]}}, "give_up_statuses: must be a list of HTTP error statuses"),
    ],
)
def test_missing_or_bad_client_rules_are_named(rules: dict[str, Any], message: str) -> None:
    others = {key: value for key, value in STREAM.rules.items() if key != "client"}
    with pytest.raises(GateError, match=message):
        ClientRules.of(dataclasses.replace(STREAM, rules={**others, **rules}))


# --- timelines -------------------------------------------------------------------------------


def test_a_timeline_adds_up_waits_rates_and_repeats_at_the_time_scale() -> None:
    scenario = LIBRARY.inline(
        {
            "steps": [
                {"emit": "connected"},
                {"wait": 1000},
                {"repeat": {"times": 3, "steps": [{"insert": {"count": 5, "rate": 2}}, {"stall": 500}]}},
            ]
        }
    )
    found = timeline(scenario, BOUNDS)
    # 1 s, then three times (4 gaps at 2/s = 2 s, and 0.5 s), all x 0.05.
    assert found.play_s == pytest.approx((1 + 3 * (2 + 0.5)) * 0.05)
    assert found.longest_stall_s == pytest.approx(0.025)
    assert found.ends is None and found.status is None
    assert found.window_s(BOUNDS) == pytest.approx(found.play_s + TAIL_S)


def test_a_stream_that_ends_is_watched_for_a_reconnect_and_a_second_play() -> None:
    scenario = LIBRARY.inline({"steps": [{"emit": "connected"}, {"retry": 300}, {"wait": 2000}, {"close": None}]})
    found = timeline(scenario, BOUNDS)
    assert (found.ends, found.retry_ms) == ("close", 300)
    within = BOUNDS.reconnect_within_s(300)
    assert found.window_s(BOUNDS) == pytest.approx(2 * 0.1 + within + BOUNDS.slack(within) + TAIL_S)
    dropped = timeline(LIBRARY.inline({"steps": [{"emit": "connected"}, {"drop": None}, {"wait": 9000}]}), BOUNDS)
    assert dropped.ends == "drop"
    assert dropped.play_s == 0


def test_an_error_answer_is_watched_for_the_longest_allowed_retry_wait() -> None:
    found = timeline(LIBRARY.inline({"steps": [{"http_error": {"status": 503}}]}), BOUNDS)
    assert found.status == 503
    within = BOUNDS.backoff_max_s
    assert found.window_s(BOUNDS) == pytest.approx(within + BOUNDS.slack(within) + TAIL_S)


# --- exchanges -------------------------------------------------------------------------------


def relayed(sent: list[bytes], received: list[bytes], **ends: Any) -> Connection:
    connection = Connection(0, 100.0)
    connection.sent = [(100.0 + i, data) for i, data in enumerate(sent)]
    connection.received = [(110.0 + i, data) for i, data in enumerate(received)]
    for name, value in ends.items():
        setattr(connection, name, value)
    return connection


def test_a_keep_alive_connection_holds_an_error_answer_then_a_stream() -> None:
    error = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\ndown"
    stream = HEAD + chunk(b"event: connected\n") + chunk(b"data: {}\n\n") + b"0\r\n\r\n"
    first, second = exchanges(relayed([GET, GET], [error, stream]))
    assert (first.status, first.end, first.is_stream) == (503, COMPLETE, False)
    assert (second.status, second.end, second.is_stream) == (200, COMPLETE, True)
    assert b"".join(data for _, data in second.body) == b"event: connected\ndata: {}\n\n"
    assert second.headers["accept"] == "text/event-stream"
    assert second.requested_at == 101.0


def test_a_chunked_body_cut_by_the_server_is_dropped() -> None:
    connection = relayed([GET], [HEAD + chunk(b"event: heartbeat\nda")], server_closed_at=120.0)
    (found,) = exchanges(connection)
    assert (found.end, found.ended_at) == (DROPPED, 120.0)
    assert found.last_byte_at == 110.0


def test_a_stream_the_client_closed_first_and_one_still_open() -> None:
    closed = relayed([GET], [HEAD + chunk(b": hi\n")], client_closed_at=115.0, server_closed_at=115.5)
    assert exchanges(closed)[0].end == CLIENT_CLOSED
    assert exchanges(relayed([GET], [HEAD + chunk(b": hi\n")]))[0].end == OPEN


def test_a_body_that_runs_until_the_connection_closes_ends_cleanly() -> None:
    head = b"HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
    (found,) = exchanges(relayed([GET], [head + b"event: x\ndata: 1\n\n"], server_closed_at=120.0))
    assert found.end == COMPLETE


# --- the output protocol ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind", "why"),
    [
        ('{"type": "event", "event": "heartbeat", "data": "{}"}', EVENT, None),
        ('{"type": "event", "event": "heartbeat", "json": {"a": 1}}', EVENT, None),
        ('{"type": "error", "message": "HTTP 401"}', ERROR, None),
        ('{"type": "closed"}', CLOSED, None),
        ("connected!", IGNORED, "not JSON"),
        ('{"type": "event", "data": "{}"}', IGNORED, 'needs "event"'),
        ('{"type": "event", "event": "x", "data": "1", "json": 1}', IGNORED, "not both"),
        ('{"type": "debug"}', IGNORED, "no type event"),
    ],
)
def test_protocol_lines(line: str, kind: str, why: str | None) -> None:
    read = read_line(line + "\n", 1.0)
    assert read.kind == kind
    assert (why is None and read.why is None) or (why is not None and why in str(read.why))


def test_a_parsed_event_keeps_its_value() -> None:
    read = read_line('{"type": "event", "event": "e", "json": {"n": 1.0}}', 1.0)
    assert read.parsed and read.value == {"n": 1.0} and read.data is None


# --- the relay -------------------------------------------------------------------------------


async def _relay_once() -> tuple[Connection, bytes]:
    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    tap = Tap("127.0.0.1", server.sockets[0].getsockname()[1])
    port = await tap.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(GET)
    answer = await reader.read()
    writer.close()
    await tap.close()
    server.close()
    return tap.connections[0], answer


def test_the_relay_passes_bytes_unchanged_and_records_both_ways() -> None:
    connection, answer = asyncio.run(_relay_once())
    assert answer == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    assert b"".join(data for _, data in connection.sent) == GET
    assert b"".join(data for _, data in connection.received) == answer
    assert connection.server_closed_at is not None


# --- expected events -------------------------------------------------------------------------


def test_expected_events_are_what_a_whatwg_parser_dispatches_per_connection() -> None:
    first = HEAD + chunk(b"id: 7\nevent: a\ndata: 1\ndata: 2\n\nevent: only\n\nretry: 300\n\ndata: tail")
    second = HEAD + chunk(b"data: x\r\n\r\n")
    exchanges_ = [*exchanges(relayed([GET], [first], server_closed_at=120.0)), *exchanges(relayed([GET], [second]))]
    exchanges_[1].requested_at = 130.0
    entries = [
        {"time": "2026-11-30T12:00:00.000Z", "headers": {"Accept": "text/event-stream"}, "status": 200},
        {"time": "2026-11-30T12:00:01.000Z", "headers": {"Last-Event-ID": "7"}, "status": 200},
    ]
    found, unpaired = attempts(entries, exchanges_)
    assert unpaired == 0
    assert [(e.event, e.data, e.attempt) for e in expected_events(found)] == [("a", "1\n2", 0), ("message", "x", 1)]
    # The second attempt is made knowing the id and the retry the first connection sent.
    assert (found[1].last_event_id, found[1].retry_ms) == ("7", 300)
    assert found[1].headers["last-event-id"] == "7"
    assert known_before(found, 2) == ("7", 300)


# --- the reference client's workaround for httpx-sse -----------------------------------------


def test_the_workaround_ends_a_line_at_a_trailing_cr_at_once() -> None:
    messages = DataMessages()
    assert messages.feed("event: a\rdata: 1\r\r") == "event: a\ndata: 1\n\n"
    # The LF of a CRLF split over two chunks is not a second line ending.
    assert messages.feed("\ndata: 2\r") == ""
    assert messages.feed("\n\r\n") == "data: 2\n\n"


def test_the_workaround_hands_over_only_messages_with_data_and_keeps_id_and_retry() -> None:
    messages = DataMessages(last_id="3")
    out = messages.feed("event: only\n\nretry: 250\n\n\n\nid: 9\n: note\n\nid: 10\ndata: x\n\n")
    assert out == "id: 10\ndata: x\n\n"
    assert (messages.last_id, messages.retry_ms) == ("10", 250)
    assert messages.feed("data: half") == ""


# --- the README's checks table ---------------------------------------------------------------


def test_the_readme_lists_every_check_with_its_level() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## SSE client conformance", 1)[1]
    rows = re.findall(r"^\| `(\w+)` \| (failure|warning) \|", text, re.MULTILINE)
    assert dict(rows) == {name: check.level.value for name, check in CHECKS.items()}
