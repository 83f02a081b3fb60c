"""Each stream rule of the gate holds on a well-formed capture and names the defect it is fed.

Captures are built from raw chunks with arrival times, as `StreamSession` would record them.
"""

from __future__ import annotations

import json

import httpx
import pytest

import spec
from contracts.sse_reader import SSEReader
from contracts.stream_capture import StreamCapture
from contracts.stream_checks import STREAM_CHECKS, Skip, Timing, evaluate

STREAM = spec.load().stream
JOB = "job_gate_1"
HEADERS = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    "connection": "keep-alive",
    "x-accel-buffering": "no",
}
# Heartbeats every 0.15 s: the spec's interval at time scale 0.01.
TIMING = Timing(time_scale=0.01, tolerance=0.5)
BEAT = STREAM.heartbeat_interval_ms / 1000 * TIMING.time_scale


def message(event: str, data: dict, ending: str = "\n") -> bytes:
    text = f"event: {event}{ending}data: {json.dumps(data, separators=(',', ':'))}{ending}{ending}"
    return text.encode()


def connected() -> bytes:
    return message("connected", {"jobId": JOB, "timestamp": "2026-01-01T00:00:00.000Z"})


def heartbeat() -> bytes:
    return message("heartbeat", {"timestamp": "2026-01-01T00:00:15.000Z"})


def prediction(total: int, job: str = JOB) -> bytes:
    row = {
        "id": "3f9c2a4e-8b1d-4c7a-9e2f-5a6b7c8d9e01",
        "job_id": job,
        "user_id": "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60",
        "epoch": 1,
        "step": 10,
        "sample_index": 0,
        "prompt": "p",
        "prediction": "q",
        "created_at": "2026-01-01T00:00:01.000Z",
    }
    return message("prediction", {"prediction": row, "total_count": total, "timestamp": "2026-01-01T00:00:01.000Z"})


def capture(
    chunks: list[tuple[float, bytes]],
    *,
    window: float = 0.4,
    status: int = 200,
    headers: dict[str, str] | None = None,
    ended_by: str = "time",
    baseline: int | None = None,
) -> StreamCapture:
    reader = SSEReader()
    frames = []
    for at, chunk in chunks:
        frames += reader.feed(chunk, at)
    return StreamCapture(
        url="http://127.0.0.1/stream",
        path_params={"jobId": JOB},
        time_scale=TIMING.time_scale,
        curl="curl",
        status=status,
        headers=httpx.Headers(HEADERS if headers is None else headers),
        reader=reader,
        frames=frames,
        opened_at=0.0,
        closed_at=window,
        ended_by=ended_by,
        counter_baseline=baseline,
    )


def clean() -> list[tuple[float, bytes]]:
    return [
        (0.0, connected()),
        (0.05, prediction(1)),
        (0.1, prediction(2)),
        (BEAT, heartbeat()),
        (2 * BEAT, heartbeat()),
    ]


def outcomes(cap: StreamCapture) -> dict[str, list[str] | Skip]:
    return dict(evaluate(cap, STREAM, TIMING))


def failed(cap: StreamCapture) -> set[str]:
    return {name for name, result in outcomes(cap).items() if isinstance(result, list) and result}


# The rules of a design's additions (tests/test_gate_design_checks.py); the base contract has none of them.
DESIGN_RULES = {"stream_batch_window", "stream_content_coding", "stream_filter"}


def test_well_formed_stream_passes_every_rule() -> None:
    results = outcomes(capture(clean()))
    assert set(results) == set(STREAM_CHECKS)
    assert {name: result for name, result in results.items() if result and name not in DESIGN_RULES} == {}
    assert all(isinstance(results[name], Skip) for name in DESIGN_RULES)


@pytest.mark.parametrize(
    ("chunks", "kwargs", "rule"),
    [
        ([(0.0, heartbeat())], {"window": 0.2}, "stream_first_event"),
        ([(0.0, connected()), (0.1, message("ping", {"timestamp": "x"}))], {}, "stream_event_declared"),
        ([(0.0, message("connected", {"jobId": 5}))], {}, "stream_event_data"),
        ([(0.0, message("connected", {"jobId": "other", "timestamp": "t"}))], {}, "stream_subject"),
        ([(0.0, connected()), (0.05, prediction(1, job="job_other"))], {}, "stream_subject"),
        ([(0.0, connected())], {"window": 1.0}, "stream_heartbeat"),
        ([(0.0, connected()), (0.05, prediction(3)), (0.1, prediction(3))], {}, "stream_counter"),
        ([(0.0, connected()), (0.05, prediction(3)), (0.1, prediction(2))], {}, "stream_counter"),
        ([(0.0, connected()), (0.05, prediction(5))], {"baseline": 0}, "stream_counter"),
        ([(0.0, message("connected", {"jobId": JOB, "timestamp": "t"}, ending="\r\n"))], {}, "stream_line_endings"),
        ([(0.0, b"id: 1\n" + connected())], {}, "stream_fields"),
        ([(0.0, b": hi\n" + connected())], {}, "stream_fields"),
        ([(0.0, b'event: connected\ndata: {"jobId": "job_gate_1"}\n\n')], {}, "stream_data_encoding"),
        ([(0.0, connected() + b"event: heartbeat\n")], {}, "stream_frames_terminated"),
        ([(0.0, connected()[:10]), (0.01, connected()[10:])], {}, "stream_single_chunk"),
        ([(0.0, connected())], {"ended_by": "server"}, "stream_never_ends"),
        ([(0.0, connected())], {"headers": {**HEADERS, "content-type": "text/plain"}}, "stream_content_type"),
        ([(0.0, connected())], {"headers": {"content-type": "text/event-stream"}}, "stream_headers"),
        ([], {"status": 201}, "stream_status"),
    ],
)
def test_rule_names_the_defect_it_is_fed(chunks: list[tuple[float, bytes]], kwargs: dict, rule: str) -> None:
    assert rule in failed(capture(chunks, **kwargs))


def test_heartbeat_rule_skips_a_read_shorter_than_one_interval() -> None:
    result = outcomes(capture([(0.0, connected())], window=0.05))["stream_heartbeat"]
    assert isinstance(result, Skip)


def test_rules_skip_when_the_stream_did_not_open() -> None:
    results = outcomes(capture([], status=401, headers={"content-type": "text/plain"}))
    assert results["stream_status"]
    assert all(isinstance(results[name], Skip) for name in STREAM_CHECKS if name != "stream_status")


def test_counter_with_one_event_and_no_baseline_is_skipped() -> None:
    result = outcomes(capture([(0.0, connected()), (0.05, prediction(4))]))["stream_counter"]
    assert isinstance(result, Skip)
