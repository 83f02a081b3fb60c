"""The stream rules a design adds hold on a capture that keeps them and name the defect they are fed.

Captures are built from raw chunks with arrival times (as in tests/test_gate_stream_checks.py), judged against the
stream contract of each design: batches (window, counter per row, every row's job), filters, content coding.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_gate_stream_checks import HEADERS, JOB, TIMING, capture, connected, message

import spec
from contracts.stream_capture import StreamCapture
from contracts.stream_checks import Skip, Timing, evaluate

BATCHED = spec.load(design="sse-batched-2s").stream
FILTERED = spec.load(design="sse-epoch-filter").stream
CODED = spec.load(design="sse-gzip").stream
# The 2 s window at time scale 0.01 is 20 ms; with the tolerance of 0.5, batches may come 10 ms apart.
WINDOW = 2.0 * TIMING.time_scale


def row(index: int, epoch: int = 1, job: str = JOB) -> dict[str, Any]:
    return {
        "id": f"3f9c2a4e-8b1d-4c7a-9e2f-5a6b7c8d9e{index:02d}",
        "job_id": job,
        "user_id": "8a7c2f1e-4b3d-4c5e-9f6a-1b2c3d4e5f60",
        "epoch": epoch,
        "step": 10,
        "sample_index": index,
        "prompt": "p",
        "prediction": "q",
        "created_at": "2026-01-01T00:00:01.000Z",
    }


def batch(total: int, *rows: dict[str, Any]) -> bytes:
    return message(
        "predictions", {"predictions": list(rows), "total_count": total, "timestamp": "2026-01-01T00:00:01.000Z"}
    )


def prediction(total: int, epoch: int) -> bytes:
    return message(
        "prediction", {"prediction": row(total, epoch), "total_count": total, "timestamp": "2026-01-01T00:00:01.000Z"}
    )


def outcome(cap: StreamCapture, stream: spec.StreamContract, rule: str, timing: Timing = TIMING) -> list[str] | Skip:
    return dict(evaluate(cap, stream, timing))[rule]


def test_batches_a_window_apart_pass_and_closer_ones_fail() -> None:
    spaced = capture([(0.0, connected()), (0.05, batch(1, row(0))), (0.05 + WINDOW, batch(2, row(1)))], baseline=0)
    assert outcome(spaced, BATCHED, "stream_batch_window") == []
    close = capture([(0.0, connected()), (0.05, batch(1, row(0))), (0.052, batch(2, row(1)))], baseline=0)
    (found,) = outcome(close, BATCHED, "stream_batch_window")
    assert found == "predictions #2 came 0.002 s after the one before (the window is 0.020 s; at least 0.010 s allowed)"


def test_one_batch_cannot_judge_the_window() -> None:
    single = capture([(0.0, connected()), (0.05, batch(1, row(0)))], baseline=0)
    assert isinstance(outcome(single, BATCHED, "stream_batch_window"), Skip)


def test_the_counter_of_a_batch_rises_by_its_rows() -> None:
    rising = capture(
        [(0.0, connected()), (0.05, batch(3, row(0), row(1), row(2))), (0.1, batch(5, row(3), row(4)))], baseline=0
    )
    assert outcome(rising, BATCHED, "stream_counter") == []
    short = capture(
        [(0.0, connected()), (0.05, batch(3, row(0), row(1), row(2))), (0.1, batch(4, row(3), row(4)))], baseline=0
    )
    assert outcome(short, BATCHED, "stream_counter") == ["/total_count rose by 1, not 2: 3 -> 4"]


def test_every_row_of_a_batch_names_the_streams_job() -> None:
    mixed = capture([(0.0, connected()), (0.05, batch(2, row(0), row(1, job="job_other")))], baseline=0)
    assert outcome(mixed, BATCHED, "stream_subject") == [
        f"predictions /predictions/1/job_id is 'job_other', not the path's {JOB!r}"
    ]


def test_the_one_row_event_is_not_declared_in_the_batched_design() -> None:
    old = capture([(0.0, connected()), (0.05, prediction(1, 1))], baseline=0)
    (found,) = outcome(old, BATCHED, "stream_event_declared")
    assert found.startswith("event 'prediction' is not declared (declared: connected, heartbeat, error, predictions)")


def filtered(*chunks: tuple[float, bytes], query: dict[str, Any] | None = None, excluded: int = 0) -> StreamCapture:
    cap = capture([(0.0, connected()), *chunks], baseline=0)
    cap.query = query if query is not None else {"epoch": 7}
    cap.filtered_out = excluded
    return cap


def test_a_filtered_stream_carries_only_its_epoch() -> None:
    assert outcome(filtered((0.05, prediction(2, 7)), excluded=1), FILTERED, "stream_filter") == []
    (found,) = outcome(filtered((0.05, prediction(1, 8)), (0.06, prediction(2, 7))), FILTERED, "stream_filter")
    assert found.startswith("prediction carries an item with /epoch 8 on a stream opened with ?epoch=7:")


def test_the_filter_rule_needs_a_filtered_stream_and_something_to_judge() -> None:
    assert isinstance(outcome(filtered((0.05, prediction(1, 8)), query={}), FILTERED, "stream_filter"), Skip)
    assert isinstance(outcome(filtered(), FILTERED, "stream_filter"), Skip)


def test_a_filtered_streams_counter_counts_the_items_it_did_not_send() -> None:
    cap = filtered((0.05, prediction(2, 7)), (0.06, prediction(4, 7)), excluded=2)
    assert outcome(cap, FILTERED, "stream_counter") == []


def coded(accept: str, headers: dict[str, str], decode_error: str | None = None) -> StreamCapture:
    cap = capture([(0.0, connected())], headers={**HEADERS, **headers})
    cap.accept_encoding = accept
    cap.decode_error = decode_error
    return cap


@pytest.mark.parametrize(
    ("accept", "headers", "error", "found"),
    [
        ("gzip, deflate", {"content-encoding": "gzip"}, None, []),
        ("identity", {}, None, []),
        ("gzip, deflate", {}, None, ["Content-Encoding is absent, not gzip, though the request accepted it"]),
        (
            "identity",
            {"content-encoding": "gzip"},
            None,
            ["Content-Encoding gzip was sent to a request that did not accept it"],
        ),
        (
            "gzip",
            {"content-encoding": "gzip"},
            "gzip body does not decode: bad header",
            ["gzip body does not decode: bad header"],
        ),
    ],
)
def test_a_coded_stream_is_coded_for_clients_that_accept_it_and_decodes(
    accept: str, headers: dict[str, str], error: str | None, found: list[str]
) -> None:
    assert outcome(coded(accept, headers, error), CODED, "stream_content_coding") == found


def test_the_base_contract_codes_nothing() -> None:
    assert isinstance(outcome(coded("gzip", {}), spec.load().stream, "stream_content_coding"), Skip)


def test_the_vary_header_is_required_of_a_coded_stream() -> None:
    (found,) = outcome(coded("gzip", {"content-encoding": "gzip"}), CODED, "stream_headers")
    assert found == "required header Vary is missing"
    with_vary = coded("gzip", {"content-encoding": "gzip", "vary": "Accept-Encoding"})
    assert outcome(with_vary, CODED, "stream_headers") == []
