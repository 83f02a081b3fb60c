"""The gate's SSE parser: WHATWG dispatch rules plus the framing it records (endings, chunks, leftovers)."""

from __future__ import annotations

from contracts.sse_reader import SSEReader


def feed_all(*chunks: bytes) -> tuple[SSEReader, list]:
    reader = SSEReader()
    frames = []
    for index, chunk in enumerate(chunks):
        frames += reader.feed(chunk, float(index))
    return reader, frames


def test_named_event_split_across_chunks_is_dispatched_once_with_its_chunk_span() -> None:
    reader, frames = feed_all(b"event: conn", b'ected\ndata: {"a":1}\n', b"\n")
    assert [(f.event, f.data) for f in frames] == [("connected", '{"a":1}')]
    assert (frames[0].first_chunk, frames[0].last_chunk) == (0, 2)
    assert frames[0].received_at == 2.0
    assert reader.unterminated == b""


def test_several_messages_in_one_chunk_keep_their_order_and_raw_bytes() -> None:
    _, frames = feed_all(b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n")
    assert [f.event for f in frames] == ["a", "b"]
    assert frames[1].raw == b"event: b\ndata: 2\n\n"
    assert frames[0].field_names == ["event", "data"]


def test_crlf_whose_lf_arrives_in_the_next_chunk_counts_as_crlf() -> None:
    reader, frames = feed_all(b"event: x\r", b"\ndata: 1\r\n\r", b"\n")
    assert [(f.event, f.data) for f in frames] == [("x", "1")]
    assert {k: v for k, v in reader.line_endings.items() if v} == {"\r\n": 3}
    assert frames[0].raw == b"event: x\r\ndata: 1\r\n\r\n"


def test_lone_cr_and_lf_are_both_line_endings() -> None:
    reader, frames = feed_all(b"data: a\rdata: b\n\n")
    assert frames[0].data == "a\nb"
    assert {k: v for k, v in reader.line_endings.items() if v} == {"\r": 1, "\n": 2}


def test_message_without_data_is_not_dispatched_and_data_only_is_message() -> None:
    _, frames = feed_all(b"event: ping\n\ndata: hi\n\n")
    assert [(f.event, f.dispatched) for f in frames] == [("ping", False), ("message", True)]


def test_comments_ids_retries_and_unknown_fields_are_recorded() -> None:
    _, frames = feed_all(b": keep-alive\nid: 7\nretry: 300\nfoo: bar\ndata: x\n\n")
    frame = frames[0]
    assert frame.comments == [" keep-alive"]
    assert (frame.id, frame.retry) == ("7", 300)
    assert frame.unknown_fields == ["foo"]


def test_unterminated_message_and_stray_blank_lines_are_kept() -> None:
    reader, frames = feed_all(b"\n\nevent: a\ndata: 1\n\nevent: b\ndata: 2\n")
    assert [f.event for f in frames] == ["a"]
    assert reader.stray_blank_lines == 2
    assert reader.unterminated == b"event: b\ndata: 2\n"


def test_leading_bom_split_across_chunks_is_removed() -> None:
    _, frames = feed_all(b"\xef", b"\xbb\xbfdata: 1\n\n")
    assert [f.data for f in frames] == ["1"]


def test_invalid_utf8_is_flagged() -> None:
    _, frames = feed_all(b"data: \xff\xfe\n\n")
    assert frames[0].invalid_utf8
