"""Scripted streams: scenario files rejected with file, step and rule; every shipped scenario's exact
bytes over a real ftl-mock; binding through the admin API and `--scenario`.

Timestamps are the only free values in a stream, so they are compared as `<ts>`; prediction rows
are compared with the rows the REST API lists for the job.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DEMO_JOB, ROOT, MockProcess
from test_sse_live import (
    CONTRACT,
    FRESH_JOB,
    STREAM,
    TIME_SCALE,
    RawStream,
    auth,
    fresh_mock,
    stream_url,
)

from mockserver.scenarios import Library, PredictionFeed, ScenarioError
from mockserver.settings import DEMO_DATA
from mockserver.store import Store
from spec import pointers

__all__ = ["fresh_mock"]

TIMESTAMP = re.compile(rb'"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')
CONNECTED = STREAM.first_event
HEARTBEAT = STREAM.heartbeat_event
PREDICTION = str(STREAM.trigger["event"])
ERROR = STREAM.error_event
LIST_PREDICTIONS = CONTRACT.operation(str(STREAM.counter["rest"]["operation_id"]))
LIBRARY = Library(STREAM)


def canon(body: bytes) -> bytes:
    """The body with every event timestamp replaced by `<ts>`."""
    return TIMESTAMP.sub(b'"timestamp":"<ts>"', body)


def frame(event: str, data: str, end: str = "\n") -> bytes:
    return f"event: {event}{end}data: {data}{end}{end}".encode()


def connected(end: str = "\n") -> bytes:
    return frame(CONNECTED, f'{{"jobId":"{FRESH_JOB}","timestamp":"<ts>"}}', end)


def heartbeat(end: str = "\n") -> bytes:
    return frame(HEARTBEAT, '{"timestamp":"<ts>"}', end)


def listed_rows(mock: MockProcess) -> list[dict[str, Any]]:
    url = mock.url + LIST_PREDICTIONS.path_for(jobId=FRESH_JOB)
    body = httpx.get(url, headers=auth(), params={"limit": 1000}, timeout=10).json()
    return list(pointers.get(body, str(LIST_PREDICTIONS.pagination["items"])))  # type: ignore[index]


def prediction(row: dict[str, Any], total: int, end: str = "\n") -> bytes:
    text = json.dumps(row, separators=(",", ":"), ensure_ascii=False)
    return frame(PREDICTION, f'{{"prediction":{text},"total_count":{total},"timestamp":"<ts>"}}', end)


def bind(mock: MockProcess, scenario: Any) -> httpx.Response:
    return httpx.put(f"{mock.admin}/streams/{FRESH_JOB}", json={"scenario": scenario}, timeout=10)


def play(mock: MockProcess, name: str) -> RawStream:
    assert bind(mock, name).status_code == 200
    raw = RawStream.open(stream_url(mock, FRESH_JOB), auth())
    assert raw.status == 200
    return raw


# --- loading ----------------------------------------------------------------------------------


SHIPPED = ["training-run", "subscription-error", "flaky", "chunk-split", "crlf", "slow-start"]


def test_the_library_ships_the_promised_scenarios() -> None:
    assert set(SHIPPED) <= set(LIBRARY.names())


@pytest.mark.parametrize("name", Library(STREAM).names())
def test_every_shipped_scenario_is_valid(name: str) -> None:
    scenario = LIBRARY.get(name)
    assert scenario.name == name
    assert scenario.description


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"steps": [{"wait": -1}]}, "steps[0].wait: must be >= 0 [Minimum]"),
        ({"steps": [{"emit": "nope"}]}, "steps[0].emit.event: 'nope' is not a declared event"),
        (
            {"steps": [{"emit": {"event": ERROR, "data": {"status": "LOST"}}}]},
            "steps[0].emit.data.status: must be one of",
        ),
        ({"steps": [{"emit": CONNECTED}, {"http_error": {"status": 500}}]}, "steps[1]: http_error is only allowed"),
        ({"steps": [{"repeat": {"times": 2, "steps": [{"fly": 1}]}}]}, "steps[0].repeat.steps[0]: unknown step 'fly'"),
        ({"steps": [{"wait": 1, "emit": CONNECTED}]}, "steps[0]: a step is a mapping with exactly one key"),
        ({"steps": []}, "steps: must have at least 1 items [MinItems]"),
        ({"step": []}, "scenario: unexpected properties: step"),
        ({"steps": [{"malformed": "odd"}]}, "steps[0].malformed: must be one of"),
        ({"steps": [{"insert": {"count": 0}}]}, "steps[0].insert.count: must be >= 1 [Minimum]"),
        ({"steps": [{"split": {"parts": 1}}]}, "steps[0].split.parts: must be >= 2 [Minimum]"),
        ({"steps": [{"line_endings": "lfcr"}]}, "steps[0].line_endings: must be one of"),
        ({"steps": [{"emit": {"event": HEARTBEAT, "data": {}, "raw_data": "{}"}}]}, "steps[0].emit"),
    ],
)
def test_a_broken_scenario_is_rejected_naming_step_and_rule(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        LIBRARY.inline(document)
    assert message in str(caught.value)


def test_a_broken_scenario_file_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("steps:\n  - emit: connected\n  - wait: soon\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        LIBRARY.get(str(path))
    assert str(caught.value).startswith(f"{path}: steps[1].wait:")


def test_an_unknown_scenario_name_lists_the_available_ones() -> None:
    with pytest.raises(ScenarioError) as caught:
        LIBRARY.get("no-such-scenario")
    assert "training-run" in str(caught.value)


# --- shipped scenarios over HTTP --------------------------------------------------------------


def test_training_run_streams_epochs_of_stored_predictions_with_heartbeats(fresh_mock: MockProcess) -> None:
    raw = play(fresh_mock, "training-run")
    try:
        body = raw.read_messages(1 + 3 * 7)
    finally:
        raw.close()
    rows = listed_rows(fresh_mock)
    assert len(rows) == 18
    assert [r["epoch"] for r in rows] == [1] * 6 + [2] * 6 + [3] * 6
    expected = connected()
    for epoch in range(3):
        for i in range(6):
            expected += prediction(rows[epoch * 6 + i], epoch * 6 + i + 1)
        expected += heartbeat()
    assert canon(body) == expected


def test_subscription_error_is_reported_and_the_stream_goes_on(fresh_mock: MockProcess) -> None:
    raw = play(fresh_mock, "subscription-error")
    try:
        body = raw.read_messages(6)
    finally:
        raw.close()
    (row,) = listed_rows(fresh_mock)
    error = frame(ERROR, '{"error":"Subscription failed","status":"CHANNEL_ERROR","timestamp":"<ts>"}')
    assert canon(body) == connected() + error + prediction(row, 1) + heartbeat() * 3


def test_flaky_ends_each_connection_after_three_predictions(fresh_mock: MockProcess) -> None:
    bodies = []
    for _ in range(2):
        raw = play(fresh_mock, "flaky")
        try:
            bodies.append(raw.read_until(lambda _: False))
            assert raw.ended
        finally:
            raw.close()
    rows = listed_rows(fresh_mock)
    assert len(rows) == 6
    for n, body in enumerate(bodies):
        expected = connected() + b"".join(prediction(rows[3 * n + i], 3 * n + i + 1) for i in range(3))
        assert canon(body) == expected


def test_chunk_split_sends_events_over_several_chunks(fresh_mock: MockProcess) -> None:
    raw = play(fresh_mock, "chunk-split")
    try:
        body = raw.read_messages(4)
    finally:
        raw.close()
    (row,) = listed_rows(fresh_mock)
    assert canon(body) == connected() + heartbeat() + prediction(row, 1) + heartbeat()
    sizes = [chunk.count(b"\n\n") for chunk in raw.chunks]
    # connected whole, heartbeat in two chunks, the prediction in three, the last heartbeat whole.
    assert len(raw.chunks) == 7
    assert sizes == [1, 0, 1, 0, 0, 1, 1]


def test_every_byte_split_writes_one_message_a_byte_per_chunk(fresh_mock: MockProcess) -> None:
    raw = play(fresh_mock, "every-byte-split")
    try:
        body = raw.read_messages(3)
    finally:
        raw.close()
    assert canon(body) == connected() + heartbeat() + heartbeat()
    split = body[len(raw.chunks[0]) : -len(raw.chunks[-1])]
    assert len(raw.chunks) == 2 + len(split)
    assert all(len(chunk) == 1 for chunk in raw.chunks[1:-1])


def test_drop_cuts_the_connection_without_ending_the_body(fresh_mock: MockProcess) -> None:
    half = f'event: {HEARTBEAT}\ndata: {{"times'
    inline = {"steps": [{"emit": CONNECTED}, {"raw": half}, {"drop": None}]}
    assert bind(fresh_mock, inline).status_code == 200
    received = bytearray()

    def read_all(response: httpx.Response) -> None:
        for chunk in response.iter_raw():
            received.extend(chunk)

    with (
        httpx.stream("GET", stream_url(fresh_mock, FRESH_JOB), headers=auth(), timeout=10) as response,
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
    ):
        read_all(response)
    assert canon(bytes(received)) == connected() + half.encode()


def test_crlf_ends_every_line_with_crlf(fresh_mock: MockProcess) -> None:
    raw = play(fresh_mock, "crlf")
    try:
        body = raw.read_messages(4, end=b"\r\n\r\n")
    finally:
        raw.close()
    (row,) = listed_rows(fresh_mock)
    crlf = "\r\n"
    expected = connected(crlf) + heartbeat(crlf) + prediction(row, 1, crlf) + heartbeat(crlf)
    assert canon(body) == expected
    assert body.count(b"\n") == body.count(b"\r\n")


def test_slow_start_sends_the_head_then_waits_before_connected(fresh_mock: MockProcess) -> None:
    stall_s = LIBRARY.get("slow-start").steps[0].value * TIME_SCALE / 1000
    raw = play(fresh_mock, "slow-start")
    opened = time.monotonic()
    try:
        body = raw.read_messages(2)
        waited = time.monotonic() - opened
    finally:
        raw.close()
    assert canon(body) == connected() + heartbeat()
    assert canon(raw.chunks[0]) == connected()
    # Nothing can arrive before the stall ends; the bound is loose for a busy machine.
    assert waited >= stall_s * 0.5


def test_odd_frames_sends_what_the_platform_never_does(fresh_mock: MockProcess) -> None:
    raw = play(fresh_mock, "odd-frames")
    try:
        body = raw.read_until(lambda b: b.count(b"\n\n") >= 10 and canon(b).endswith(heartbeat()))
    finally:
        raw.close()
    beat = '{"timestamp":"<ts>"}'
    half = len('{"timestamp":"2025-01-01T00:00:00.000Z"}') // 2
    text = canon(body).decode()
    expected = (
        connected().decode()
        + ": ftl-mock odd frames\n"
        + "retry: 3000\n\n"
        + f"event: {HEARTBEAT}\ndata: {beat}\nid: 1\n\n"
        + f"data: {beat}\n\n"
        + f"event: {HEARTBEAT}\n\n"
        + f"event: unknown-0\ndata: {beat}\n\n"
    )
    assert text.startswith(expected)
    rest = text[len(expected) :]
    truncated, rest = rest.split("\n\n", 1)
    assert truncated.startswith(f"event: {HEARTBEAT}\ndata: ") and len(truncated.split("data: ")[1]) == half
    assert rest.startswith(f"event: {HEARTBEAT}\ndata: {{}}\n\n")
    rest = rest[len(f"event: {HEARTBEAT}\ndata: {{}}\n\n") :]
    multiline, rest = rest.split("\n\n", 1)
    first, second = multiline.split("\n")[1:]
    assert first.startswith("data: ") and second.startswith("data: ")
    assert json.loads(first[6:] + second[6:])
    assert rest == f"event:{HEARTBEAT}\ndata:{beat}\n\n" + heartbeat().decode()


def test_server_error_answers_plain_text_instead_of_a_stream(fresh_mock: MockProcess) -> None:
    assert bind(fresh_mock, "server-error").status_code == 200
    response = httpx.get(stream_url(fresh_mock, FRESH_JOB), headers=auth(), timeout=10)
    assert response.status_code == 500
    declared = STREAM.operation.response(500)
    assert declared is not None
    assert response.text == declared.media("text/plain").example  # type: ignore[union-attr]
    assert response.headers["content-type"].startswith("text/plain")


# --- binding ----------------------------------------------------------------------------------


def test_inline_scenario_binds_and_unbinding_restores_the_live_stream(fresh_mock: MockProcess) -> None:
    inline = {"steps": [{"emit": CONNECTED}, {"emit": {"event": HEARTBEAT, "id": "7"}}, {"close": None}]}
    assert bind(fresh_mock, inline).status_code == 200
    raw = RawStream.open(stream_url(fresh_mock, FRESH_JOB), auth())
    try:
        body = raw.read_until(lambda _: False)
    finally:
        raw.close()
    assert canon(body) == connected() + f'event: {HEARTBEAT}\ndata: {{"timestamp":"<ts>"}}\nid: 7\n\n'.encode()
    assert httpx.delete(f"{fresh_mock.admin}/streams/{FRESH_JOB}", timeout=10).json()["removed"] is True
    raw = RawStream.open(stream_url(fresh_mock, FRESH_JOB), auth())
    try:
        assert canon(raw.read_messages(2)) == connected() + heartbeat()
        assert not raw.ended
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("scenario", "needle"),
    [("no-such-scenario", "unknown scenario"), ({"steps": [{"wait": -5}]}, "steps[0].wait"), (7, "scenario")],
)
def test_binding_a_bad_scenario_is_a_400_naming_the_problem(
    fresh_mock: MockProcess, scenario: Any, needle: str
) -> None:
    response = bind(fresh_mock, scenario)
    assert response.status_code == 400
    assert needle in response.json()["error"]


def test_scenario_flag_applies_to_every_job_without_its_own_binding(mock_factory: Any) -> None:
    handle: MockProcess = mock_factory("--time-scale", str(TIME_SCALE), "--scenario", "server-error")
    response = httpx.get(stream_url(handle, "job_demo_001"), headers=auth(), timeout=10)
    assert response.status_code == 500
    assert httpx.put(f"{handle.admin}/streams/job_demo_001", json={"scenario": "flaky"}, timeout=10).status_code == 200
    raw = RawStream.open(stream_url(handle, "job_demo_001"), auth())
    try:
        raw.read_until(lambda _: False)
        assert raw.status == 200 and raw.ended
    finally:
        raw.close()


def test_an_unknown_scenario_flag_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "--port", "0", "--scenario", "no-such-scenario"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no-such-scenario" in done.stderr and "Traceback" not in done.stderr


def test_reset_forgets_scenario_bindings(mock: MockProcess) -> None:
    bound = httpx.put(f"{mock.admin}/streams/job_demo_001", json={"scenario": "flaky"}, timeout=10)
    assert bound.status_code == 200
    assert "job_demo_001" in httpx.get(f"{mock.admin}/streams", timeout=10).json()["bindings"]
    mock.reset()
    assert httpx.get(f"{mock.admin}/streams", timeout=10).json()["bindings"] == {}


# --- generated predictions --------------------------------------------------------------------


def test_generated_predictions_are_the_spec_examples_with_job_owner_epoch_and_index() -> None:
    store = Store.from_file(DEMO_DATA, CONTRACT)
    job = store.jobs.get(DEMO_JOB)
    assert job is not None
    trigger = CONTRACT.operation(str(STREAM.trigger["operation_id"]))
    media = trigger.request_body.content["application/json"]
    (example,) = pointers.get(media.example, str(STREAM.trigger["items"]))
    latest = max(row["epoch"] for row in store.predictions.rows(DEMO_JOB))
    stored = PredictionFeed(CONTRACT, store).insert(DEMO_JOB, 3, "next")
    rows = [row for row, _ in stored]
    assert [total for _, total in stored] == [store.predictions.count(DEMO_JOB) - 2 + i for i in range(3)]
    assert [(row["epoch"], row["sample_index"]) for row in rows] == [(latest + 1, i) for i in range(3)]
    assert {(row["job_id"], row["user_id"]) for row in rows} == {(DEMO_JOB, job["user_id"])}
    assert {row["prompt"] for row in rows} == {example["prompt"]}
    assert {row["exact_match"] for row in rows} == {example["exact_match"]}
