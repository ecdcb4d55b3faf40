"""Incremental byte-level decoders for response bodies: content encodings, UTF-8,
server-sent events and NDJSON.

Every stage has the same two methods, ``feed(chunk)`` and ``flush()``, and keeps only its
unfinished tail, bounded by a size given at construction. Errors raise
:class:`~leakguard.exceptions.FramingError` with byte offsets, never body text.
"""

from __future__ import annotations

import codecs
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from leakguard.audit.fields import recorded_coding
from leakguard.exceptions import FramingError

__all__ = [
    "Decompressor",
    "NDJSONDecoder",
    "SSEDecoder",
    "SSEEvent",
    "TextDecoder",
    "encode_sse",
    "make_decompressor",
]

# Largest piece one ``Decompressor.feed`` step inflates to: a tiny compressed chunk cannot
# balloon into one huge allocation (the callers' own bounds then apply piece by piece).
INFLATE_PIECE = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class TextDecoder:
    """Bytes to text with an incremental UTF-8 decoder: a character cut between two chunks
    is held until its last byte arrives; invalid UTF-8 is an error, never replaced."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._offset = 0  # bytes fed before the current chunk, for error messages

    def feed(self, chunk: bytes) -> str:
        try:
            text: str = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise FramingError(
                f"invalid UTF-8 at byte {self._offset + exc.start} of the body", kind="encoding"
            ) from None
        self._offset += len(chunk)
        return text

    def flush(self) -> str:
        try:
            text: str = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FramingError(
                f"the body ends inside a UTF-8 character (byte {self._offset})", kind="encoding"
            ) from None
        return text


_LINE_END = re.compile(r"\r\n|\r|\n")


class _Lines:
    """Splits text into lines ending in CRLF, LF or CR (a CR at a chunk's end may still
    be followed by LF); keeps the unfinished line, bounded by ``limit`` characters."""

    def __init__(self, *, limit: int, what: str) -> None:
        self._tail_parts: list[str] = []
        self._tail_len = 0
        self._limit = limit
        self._what = what
        self._after_cr = False

    def feed(self, text: str) -> list[str]:
        if not text:
            return []
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = False
        # Only CR and LF end lines (str.splitlines would also split on U+2028 and others,
        # which may appear raw inside JSON strings).
        if "\n" not in text and "\r" not in text:  # the common 1-token chunk: no re-split
            self._tail_parts.append(text)
            self._tail_len += len(text)
            self._check(self._tail_len)
            return []
        parts = _LINE_END.split(self.tail + text)
        tail = parts.pop()
        self._tail_parts, self._tail_len = [tail], len(tail)
        self._check(len(tail))
        if parts and text.endswith("\r"):
            self._after_cr = True
        return parts

    def _check(self, size: int) -> None:
        if size > self._limit:
            raise FramingError(
                f"{self._what} longer than {self._limit} characters", kind="oversize"
            )

    @property
    def tail(self) -> str:
        return "".join(self._tail_parts)


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event. ``data`` is ``None`` when the event had no data field;
    ``comments`` are the comment lines (``: keep-alive``) that came with it."""

    data: str | None = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: tuple[str, ...] = field(default=())


class SSEDecoder:
    """Server-sent events, parsed as the WHATWG event-stream rules say
    (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
    lines end in CRLF, LF or CR; a blank line dispatches; ``:`` starts a comment; one space
    after the colon is dropped; unknown fields are ignored; a leading BOM is skipped.

    Comment-only blocks are kept as events (``data=None``) so a proxy can forward keep-alives.
    ``max_event_chars`` bounds one event; at the end, an event without its blank line is
    dropped (as the spec says) and :attr:`truncated` is set.
    """

    def __init__(self, *, max_event_chars: int) -> None:
        self._text = TextDecoder()
        self._lines = _Lines(limit=max_event_chars, what="an SSE line")
        self._limit = max_event_chars
        self._started = False
        self._reset()
        self.truncated = False

    def _reset(self) -> None:
        self._data: list[str] = []
        self._size = 0
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._comments: list[str] = []
        self._pending = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._text.feed(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        return self._take(self._lines.feed(text))

    def flush(self) -> list[SSEEvent]:
        events = self._take(self._lines.feed(self._text.flush()))
        if self._lines.tail or self._pending:
            self.truncated = True
        self._reset()
        return events

    def _take(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._pending:
                    events.append(self._dispatch())
                continue
            self._pending = True
            name, sep, value = line.partition(":")
            if not sep:
                value = ""
            elif value.startswith(" "):
                value = value[1:]
            self._field(name, value, line)
        return events

    def _field(self, name: str, value: str, line: str) -> None:
        if name == "":  # a comment line
            self._comments.append(line[1:].removeprefix(" "))
        elif name == "data":
            self._size += len(value) + 1
            if self._size > self._limit:
                raise FramingError(
                    f"an SSE event longer than {self._limit} characters", kind="oversize"
                )
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self) -> SSEEvent:
        event = SSEEvent(
            data="\n".join(self._data) if self._data else None,
            event=self._event,
            id=self._id,
            retry=self._retry,
            comments=tuple(self._comments),
        )
        self._reset()
        return event


def encode_sse(event: SSEEvent) -> bytes:
    """One event in wire form (LF line ends), fields in a fixed order."""
    lines = [f": {c}" if c else ":" for c in event.comments]
    if event.event is not None:
        lines.append(f"event: {event.event}")
    if event.id is not None:
        lines.append(f"id: {event.id}")
    if event.retry is not None:
        lines.append(f"retry: {event.retry}")
    if event.data is not None:
        lines.extend(f"data: {line}" for line in event.data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


class NDJSONDecoder:
    """Newline-delimited JSON (``application/x-ndjson``) split into lines; blank lines are
    skipped, a last line without its newline is still returned by :meth:`flush`.
    JSON parsing is left to the caller."""

    def __init__(self, *, max_line_chars: int) -> None:
        self._text = TextDecoder()
        self._lines = _Lines(limit=max_line_chars, what="an NDJSON line")

    def feed(self, chunk: bytes) -> list[str]:
        return [line for line in self._lines.feed(self._text.feed(chunk)) if line.strip()]

    def flush(self) -> list[str]:
        lines = self._lines.feed(self._text.flush())
        tail = self._lines.tail
        return [line for line in [*lines, tail] if line.strip()]


class Decompressor:
    """Inflates one ``Content-Encoding`` incrementally, in bounded pieces."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: Any = None
        self._brotli: Any = None
        self._head = b""
        self._member_head = b""  # the start of what may be a next gzip member
        self._fed = 0
        self._zlib_gzip = encoding in ("gzip", "x-gzip")
        if self._zlib_gzip:
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "br":
            import brotli

            self._brotli = brotli.Decompressor()
        elif encoding != "deflate":
            raise FramingError(
                f"unsupported content-encoding {recorded_coding(encoding)!r}", kind="encoding"
            )

    def feed(self, chunk: bytes) -> list[bytes]:
        try:
            return self._feed(chunk)
        except FramingError:
            raise
        except Exception as exc:  # zlib.error, brotli.error: corrupt data
            raise FramingError(
                f"corrupt {self.encoding} data near byte {self._fed} ({type(exc).__name__})",
                kind="encoding",
            ) from None

    def _feed(self, chunk: bytes) -> list[bytes]:
        self._fed += len(chunk)
        if self._brotli is not None:
            return self._inflate_brotli(chunk)
        if self._zlib is None:  # deflate: zlib-wrapped per RFC 9110, raw from some servers
            self._head += chunk
            if len(self._head) < 2:
                return []
            chunk, self._head = self._head, b""
            wrapped = chunk[0] & 0x0F == 8 and int.from_bytes(chunk[:2], "big") % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return self._inflate_zlib(chunk)

    def _inflate_zlib(self, data: bytes) -> list[bytes]:
        pieces = []
        while data:
            if self._zlib.eof:  # bytes after the end of a stream: the next gzip member
                data = self._next_member(data)
                if not data:
                    break
            piece = self._zlib.decompress(data, INFLATE_PIECE)
            if piece:
                pieces.append(piece)
            data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
        return pieces

    def _next_member(self, data: bytes) -> bytes:
        """A gzip body may hold several members, one after the other (RFC 1952 §2.2):
        what follows a member must be the next one; anything else is trailing data."""
        at = self._fed - len(data)  # where ``data`` starts in the encoded body
        if self._zlib_gzip:
            head = self._member_head + data
            if len(head) < len(_GZIP_MAGIC):
                self._member_head = head
                return b""
            self._member_head = b""
            if head.startswith(_GZIP_MAGIC):
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                return head
            at -= len(head) - len(data)
        raise _trailing(self.encoding, at)

    def _inflate_brotli(self, data: bytes) -> list[bytes]:
        if self._brotli.is_finished():
            raise _trailing(self.encoding, self._fed - len(data))
        pieces = [self._brotli.process(data, output_buffer_limit=INFLATE_PIECE)]
        while not self._brotli.can_accept_more_data():
            pieces.append(self._brotli.process(b"", output_buffer_limit=INFLATE_PIECE))
        return [p for p in pieces if p]

    def flush(self) -> list[bytes]:
        if self._zlib is None and self._brotli is None:
            if self._head:
                raise FramingError("deflate body shorter than its header", kind="encoding")
            return []
        if self._brotli is not None:
            if not self._brotli.is_finished():
                raise FramingError(f"{self.encoding} body is truncated", kind="encoding")
            return []
        if self._member_head:
            raise _trailing(self.encoding, self._fed - len(self._member_head))
        tail: bytes = self._zlib.flush()
        if not self._zlib.eof:
            raise FramingError(f"{self.encoding} body is truncated", kind="encoding")
        return [tail] if tail else []


def _trailing(encoding: str, at: int) -> FramingError:
    return FramingError(
        f"trailing data after the end of the {encoding} body, at byte {at}", kind="encoding"
    )


def make_decompressor(content_encoding: str | None) -> Decompressor | None:
    """A decompressor for a ``Content-Encoding`` header value (``None`` for identity).
    Stacked encodings (``gzip, br``) and unknown ones raise :class:`FramingError`."""
    if content_encoding is None:
        return None
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise FramingError(
            f"stacked content-encodings {recorded_coding(content_encoding)!r} are not supported",
            kind="encoding",
        )
    return Decompressor(codings[0])
