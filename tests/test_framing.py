from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard.exceptions import FramingError
from leakguard.online.framing import (
    NDJSONDecoder,
    SSEDecoder,
    SSEEvent,
    TextDecoder,
    encode_sse,
    make_decompressor,
)


def events(*chunks: bytes, limit: int = 10_000) -> list[SSEEvent]:
    decoder = SSEDecoder(max_event_chars=limit)
    out = [e for chunk in chunks for e in decoder.feed(chunk)]
    return out + decoder.flush()


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"data: hi\n\n", [SSEEvent(data="hi")]),
        (b"data:hi\r\n\r\n", [SSEEvent(data="hi")]),
        (b"data:  two spaces\r\r", [SSEEvent(data=" two spaces")]),
        (b"data: a\ndata: b\n\n", [SSEEvent(data="a\nb")]),
        (b"event: delta\nid: 7\nretry: 300\ndata: x\n\n", [SSEEvent("x", "delta", "7", 300)]),
        (b": keep-alive\n\n", [SSEEvent(comments=("keep-alive",))]),
        (b"data\n\n", [SSEEvent(data="")]),
        (b"\xef\xbb\xbfdata: bom\n\n", [SSEEvent(data="bom")]),
        (b"unknown: x\ndata: y\n\n", [SSEEvent(data="y")]),
        (b"retry: soon\ndata: y\n\n", [SSEEvent(data="y")]),
        (b"\n\n\ndata: y\n\n", [SSEEvent(data="y")]),
    ],
)
def test_sse_lines_follow_the_whatwg_event_stream_rules(
    wire: bytes, expected: list[SSEEvent]
) -> None:
    assert events(wire) == expected


def test_line_separators_inside_json_strings_do_not_split_sse_lines() -> None:
    wire = 'data: {"t": "a\u2028b\u0085c"}\n\n'.encode()
    assert events(wire) == [SSEEvent(data='{"t": "a\u2028b\u0085c"}')]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert events(b"data: a\r", b"\ndata: b\r\n\r\n") == [SSEEvent(data="a\nb")]


def test_event_without_its_blank_line_is_dropped_and_marked_truncated() -> None:
    decoder = SSEDecoder(max_event_chars=100)
    assert decoder.feed(b"data: one\n\ndata: half") == [SSEEvent(data="one")]
    assert decoder.flush() == []
    assert decoder.truncated


def test_oversize_sse_event_is_an_error_not_a_buffer_that_grows() -> None:
    decoder = SSEDecoder(max_event_chars=1024)
    for _ in range(10):
        decoder.feed(b"data: " + b"x" * 100 + b"\n")
    with pytest.raises(FramingError, match="longer than 1024") as info:
        decoder.feed(b"data: " + b"x" * 100 + b"\n")
    assert info.value.kind == "oversize"


def test_oversize_line_without_newline_is_an_error() -> None:
    decoder = SSEDecoder(max_event_chars=1024)
    for _ in range(10):
        decoder.feed(b"x" * 100)
    with pytest.raises(FramingError, match="SSE line longer than 1024"):
        decoder.feed(b"x" * 100)


def test_invalid_utf8_is_an_error_with_its_byte_offset_and_no_text() -> None:
    decoder = SSEDecoder(max_event_chars=100)
    decoder.feed(b"data: secret\n\n")
    with pytest.raises(FramingError, match="invalid UTF-8 at byte 20") as info:
        decoder.feed(b"data: \xff")
    assert "secret" not in str(info.value)
    assert info.value.kind == "encoding"


def test_body_ending_inside_a_utf8_character_is_an_error() -> None:
    decoder = TextDecoder()
    assert decoder.feed("é".encode()[:1]) == ""
    with pytest.raises(FramingError, match="ends inside a UTF-8 character"):
        decoder.flush()


@given(st.text(max_size=60), st.lists(st.integers(1, 7), max_size=40))
def test_utf8_decoding_is_the_same_for_any_chunking(text: str, sizes: list[int]) -> None:
    data = text.encode()
    decoder, out, at = TextDecoder(), [], 0
    for size in sizes:
        out.append(decoder.feed(data[at : at + size]))
        at += size
    out.append(decoder.feed(data[at:]))
    assert "".join(out) + decoder.flush() == text


_FIELD_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=12
)


@settings(max_examples=60)
@given(
    st.lists(
        st.builds(
            SSEEvent,
            data=_FIELD_TEXT,
            event=st.none() | _FIELD_TEXT.filter(lambda s: s.strip() == s and s != ""),
            id=st.none() | _FIELD_TEXT.filter(lambda s: not s.startswith(" ")),
        ),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.integers(1, 5), max_size=80),
)
def test_sse_round_trips_through_any_chunking(sse_events: list[SSEEvent], sizes: list[int]) -> None:
    """Encoding then decoding gives the same events, whatever the byte chunks."""
    wire = b"".join(encode_sse(e) for e in sse_events)
    chunks, at = [], 0
    for size in sizes:
        chunks.append(wire[at : at + size])
        at += size
    chunks.append(wire[at:])
    assert events(*chunks) == sse_events


def test_ndjson_lines_skip_blanks_and_keep_a_last_line_without_newline() -> None:
    decoder = NDJSONDecoder(max_line_chars=100)
    assert decoder.feed(b'{"a": 1}\r\n\n{"b"') == ['{"a": 1}']
    assert decoder.feed(b": 2}\n{") == ['{"b": 2}']
    assert decoder.flush() == ["{"]


def test_ndjson_line_over_the_bound_is_an_error() -> None:
    decoder = NDJSONDecoder(max_line_chars=1024)
    with pytest.raises(FramingError, match="NDJSON line longer than 1024"):
        decoder.feed(b"1" * 2000)


def _inflate(encoding: str, data: bytes, step: int = 3) -> bytes:
    decompressor = make_decompressor(encoding)
    assert decompressor is not None
    out = [p for i in range(0, len(data), step) for p in decompressor.feed(data[i : i + step])]
    return b"".join(out + decompressor.flush())


PLAIN = b"data: hello jane@corp.io\n\n" * 50


@pytest.mark.parametrize(
    ("encoding", "compressed"),
    [
        ("gzip", gzip.compress(PLAIN)),
        ("x-gzip", gzip.compress(PLAIN)),
        ("deflate", zlib.compress(PLAIN)),
        ("deflate", zlib.compress(PLAIN)[2:-4]),  # raw deflate, as some servers send it
        ("br", brotli.compress(PLAIN)),
        ("GZip", gzip.compress(PLAIN)),
    ],
)
def test_compressed_bodies_are_inflated_incrementally(encoding: str, compressed: bytes) -> None:
    assert _inflate(encoding, compressed) == PLAIN


def test_a_compression_bomb_comes_out_in_bounded_pieces() -> None:
    decompressor = make_decompressor("gzip")
    assert decompressor is not None
    pieces = decompressor.feed(gzip.compress(b"\0" * 5_000_000))
    assert max(len(p) for p in pieces) <= 64 * 1024
    assert sum(len(p) for p in pieces) == 5_000_000


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
def test_truncated_compressed_body_is_an_error(encoding: str) -> None:
    full = {"gzip": gzip.compress, "br": brotli.compress, "deflate": zlib.compress}[encoding]
    with pytest.raises(FramingError, match="truncated"):
        _inflate(encoding, full(PLAIN)[:-10])


def test_corrupt_compressed_body_is_an_error() -> None:
    with pytest.raises(FramingError, match="corrupt gzip data"):
        _inflate("gzip", b"\x1f\x8b\x08\x00garbage-garbage-garbage")


@pytest.mark.parametrize(
    ("header", "message"),
    [("zstd", "unsupported content-encoding 'zstd'"), ("gzip, br", "stacked")],
)
def test_unknown_or_stacked_encodings_are_errors(header: str, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        make_decompressor(header)


def test_identity_needs_no_decompressor() -> None:
    assert make_decompressor(None) is None
    assert make_decompressor("identity") is None
