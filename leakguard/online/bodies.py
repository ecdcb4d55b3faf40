"""One handler per kind of response body, chosen at ``http.response.start``.

Each handler gets the (inflated) body in pieces through ``feed`` and is told of each
message's end through ``done``; it queues re-encoded, guarded output on its
:class:`~leakguard.online.responder.Responder`, which sends it. The handlers:

- :class:`PassBody` — the raw bytes go on as they are (empty bodies; explicit passes);
- :class:`ForwardBody` — the decoded bytes go on unscanned (a pass decided mid-body);
- :class:`JSONBody` — one JSON document, buffered up to ``online.max_body_bytes``;
- :class:`TextBody` — ``text/plain``, streamed as one channel;
- :class:`SSEBody` and :class:`NDJSONBody` — streams of JSON objects (or text events).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from leakguard.exceptions import FramingError
from leakguard.online.framing import NDJSONDecoder, SSEDecoder, SSEEvent, TextDecoder, encode_sse
from leakguard.online.shapes import ERROR, Frame, Shape, error_body
from leakguard.online.streaming import Channel
from leakguard.online.values import ValueGuard

if TYPE_CHECKING:
    from leakguard.online.responder import Responder

__all__ = [
    "Body",
    "ForwardBody",
    "JSONBody",
    "NDJSONBody",
    "PassBody",
    "SSEBody",
    "TextBody",
    "dumps",
    "for_content_type",
    "loads",
]

Encode = Callable[[Any], bytes]
# SSE event names, ids and comments kept unscanned: lower-case words joined by dots,
# hyphens and underscores ("message", "response.output_text.delta", "keep-alive"), which
# hold no number or address.
_STRUCTURAL = re.compile(r"^[a-z_.-]{0,64}$")
_MAX_FIELDS = 1024  # distinct id/event/comment values remembered per stream
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class Body:
    """The base: a body that goes on as it came."""

    kind: ClassVar[str] = "pass"
    raw: ClassVar[bool] = False  # the undecoded bytes go on as they are
    framed: ClassVar[bool] = True  # a block after the first bytes ends it with an error tail

    def __init__(self, r: Responder) -> None:
        self.r = r

    async def feed(self, data: bytes) -> None:
        """One inflated piece of the body."""

    async def done(self, *, more: bool) -> None:
        """The end of one ``http.response.body`` message (``more``: not the last)."""

    def buffered(self) -> bytes:
        """What the handler holds unsent and unscanned (for a pass decided now)."""
        return b""

    def error_tail(self, message: str, *, kind: str, code: str | None) -> bytes:
        """The one error object that ends a stream, in the stream's own framing."""
        return ("\n" + message + "\n").encode()


class PassBody(Body):
    raw = True
    framed = False


class ForwardBody(Body):
    def __init__(self, r: Responder, buffered: bytes) -> None:
        super().__init__(r)
        r.out = [buffered] if buffered else []

    async def feed(self, data: bytes) -> None:
        self.r.out.append(data)
        await self.r.flush()

    async def done(self, *, more: bool) -> None:
        await self.r.flush(more=more)
        if not more:
            self.r.finished = True
            await self.r.audit(final=True)


class JSONBody(Body):
    kind = "json"
    framed = False

    def __init__(self, r: Responder) -> None:
        super().__init__(r)
        self.body: list[bytes] = []
        self.size = 0
        self.values = ValueGuard(r.scans)

    async def feed(self, data: bytes) -> None:
        self.body.append(data)
        self.size += len(data)
        if self.size > self.r.online.max_body_bytes:
            await self.r.unscannable("oversize", detail="body over online.max_body_bytes")

    def buffered(self) -> bytes:
        body, self.body = b"".join(self.body), []
        return body

    async def done(self, *, more: bool) -> None:
        if more:
            return
        r, raw = self.r, b"".join(self.body)
        if not raw.strip():
            await r.finish_plain(raw)
            return
        decoder = TextDecoder()
        obj = loads(decoder.feed(raw) + decoder.flush())
        shape = r.detect(obj)
        frame = shape.frame(obj) if shape is not None else None
        if shape is None or frame is None:
            await r.unscannable("unknown_schema", detail="no shape matches the JSON body")
            return
        r.model = frame.model
        for piece in frame.pieces:  # each text field is complete: one scan each
            piece.set(await r.scans.whole(piece.channel, piece.text))
            if r.rg.blocked:
                break
        if not r.rg.blocked:  # every other value and key (leakguard.online.values)
            shape.scrub(obj)
            await self.values.guard(obj, shape=shape, frame=frame, size=len(raw))
        if r.rg.blocked:
            await r.block_response()
            return
        await r.finish_plain(dumps(obj))


class StreamBody(Body):
    """A streamed body: output goes out as it is released; the end closes the channels."""

    def __init__(self, r: Responder) -> None:
        super().__init__(r)
        self.ended_cleanly = False  # the stream's own end marker was seen ([DONE], done: true)
        self.shape: Shape | None = None

    async def done(self, *, more: bool) -> None:
        r = self.r
        if not more:
            await self.end()
        elif r.out and not self.ended_cleanly:
            # After the stream's end marker, the rest waits for the audit record, so a
            # sink that refuses it can still withhold the last text.
            await r.flush()

    async def end(self) -> None:
        await self.finish(truncated=False)

    async def finish(self, *, truncated: bool) -> None:
        """The body is complete: close channels, mark a truncation, audit, send the rest."""
        r = self.r
        if r.finished:
            return
        await self.close_channels()
        if r.rg.blocked:
            await r.block_stream()
            return
        marks_end = self.shape is not None and self.shape.marks_end
        if truncated or r.broke_off or (marks_end and not self.ended_cleanly):
            r.reason = "truncated"
            message = r.message("leakguard_truncated")
            r.out.append(self.error_tail(message, kind="leakguard_truncated", code="truncated"))
        if not await r.audit():
            return
        await r.flush(more=False)
        r.finished = True

    async def close_channels(self) -> None:
        """Close the open channels, queueing what they still held."""
        r = self.r
        for channel in list(r.rg.open_channels()):
            rest = await r.scans.close(channel)
            if rest and not r.rg.blocked:
                r.out.extend(self.encode_rest(channel, rest))

    def encode_rest(self, channel: Channel, rest: str) -> list[bytes]:
        """The last text of a channel, closed at the end of the stream."""
        return [rest.encode()]


class TextBody(StreamBody):
    kind = "text"

    def __init__(self, r: Responder) -> None:
        super().__init__(r)
        self.decoder = TextDecoder()

    async def feed(self, data: bytes) -> None:
        text = self.decoder.feed(data)
        if text:
            self.r.out.append((await self.r.scans.stream(("text",), text)).encode())

    async def end(self) -> None:
        text = self.decoder.flush()
        if text:
            self.r.out.append((await self.r.scans.stream(("text",), text)).encode())
        await self.finish(truncated=False)


class ObjectStream(StreamBody):
    """A stream of JSON objects (SSE data, NDJSON lines) of one recognised shape."""

    def __init__(self, r: Responder) -> None:
        super().__init__(r)
        self.templates: dict[Channel, dict[str, Any]] = {}
        self.values = ValueGuard(r.scans)

    def encode_object(self, obj: Any) -> bytes:
        raise NotImplementedError

    def encode_rest(self, channel: Channel, rest: str) -> list[bytes]:
        template = self.templates.get(channel)
        if self.shape is None or template is None:
            return []
        return [self.encode_object(self.shape.synthesize(template, channel, rest))]

    async def on_object(self, obj: Any, encode: Encode, *, size: int) -> None:
        r = self.r
        if self.shape is None:
            self.shape = r.detect(obj)
            if self.shape is None:
                await r.unscannable("unknown_schema", detail="no shape matches the stream")
                return
            r.rg.keep_text = self.shape.repeats_text
        shape, frame = self.shape, self.shape.frame(obj)
        if frame is None:  # an error object ends a stream of any shape
            shape, frame = ERROR, ERROR.frame(obj)
        if frame is None:
            await r.unscannable("malformed", detail="a stream object of another schema")
            return
        r.model = r.model or frame.model
        self.ended_cleanly = self.ended_cleanly or self.shape.is_last(obj)
        # Every value and key outside the pieces first, so that the templates of
        # synthesized objects carry only scanned values.
        shape.scrub(obj)
        await self.values.guard(obj, shape=shape, frame=frame, size=size)
        if r.rg.blocked:
            await r.block_stream()
            return
        await self.apply(frame, obj, encode)

    async def apply(self, frame: Frame, obj: Any, encode: Encode) -> None:
        """Guard one streamed object's pieces, close the channels it ends, queue it."""
        assert self.shape is not None
        r = self.r
        for piece in frame.pieces:
            if piece.kind == "delta":
                self.templates[piece.channel] = obj
                piece.set(await r.scans.stream(piece.channel, piece.text))
        # Only objects that end something look at the open channels: per-object work
        # does not grow with the number of channels.
        ending = self._ending(frame)
        own = {p.channel: p for p in frame.pieces if p.kind == "delta"}
        for channel in ending:
            rest = await r.scans.close(channel)
            if not rest:
                continue
            if channel in own:  # this object carries the channel's last delta: append
                own[channel].set(own[channel].text + rest)
            else:
                template = self.templates.get(channel, obj)
                r.out.append(encode(self.shape.synthesize(template, channel, rest)))
        for piece in frame.pieces:
            if piece.kind == "final":
                kept = r.rg.released_text(piece.channel)
                if kept is None:
                    kept = await r.scans.whole(piece.channel, piece.text)
                piece.set(kept)
            elif piece.kind == "whole":
                piece.set(await r.scans.whole(("whole", *piece.channel), piece.text))
        if r.rg.blocked:
            await r.block_stream()
            return
        r.out.append(encode(obj))

    def _ending(self, frame: Frame) -> list[Channel]:
        if not frame.ends and not any(p.kind == "final" for p in frame.pieces):
            return []
        return [c for c in self.r.rg.open_channels() if _ended(c, frame)]


class SSEBody(ObjectStream):
    """``text/event-stream``: JSON events of one shape, or text events (one channel per
    event name), decided by the first event with data."""

    kind = "sse"

    def __init__(self, r: Responder) -> None:
        super().__init__(r)
        self.decoder = SSEDecoder(max_event_chars=r.online.max_frame_bytes)
        self.json_data: bool | None = None  # whether the data is JSON (the first event decides)
        self.fields: dict[str, str] = {}  # id and event values, scanned

    async def feed(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            await self.on_event(event)

    async def end(self) -> None:
        for event in self.decoder.flush():
            await self.on_event(event)
        await self.finish(truncated=self.decoder.truncated)

    async def on_event(self, event: SSEEvent) -> None:
        r = self.r
        event = await self._fields(event)
        if r.rg.blocked:
            await r.block_stream()
            return
        if event.data is None:  # comments, retry, id only
            r.out.append(encode_sse(event))
            return
        if event.data.strip() == "[DONE]":
            self.ended_cleanly = True
            await self.close_channels()
            if r.rg.blocked:
                await r.block_stream()
                return
            r.out.append(encode_sse(event))
            return
        if self.json_data is None:
            if event.data.strip() in ("", "null"):  # says nothing: decide on the next one
                r.out.append(encode_sse(event))
                return
            self.json_data = _is_json(event.data)
        if not self.json_data:  # a text event stream: one channel per event name
            text = await r.scans.stream(("sse", event.event or "message"), event.data)
            r.out.append(encode_sse(_with_data(event, text)))
            return
        encode = lambda o: encode_sse(_with_data(event, o))  # noqa: E731
        await self.on_object(loads(event.data), encode, size=len(event.data))

    async def _fields(self, event: SSEEvent) -> SSEEvent:
        """Comments, ids and event names are scanned, each distinct value once per
        response, unless they are structural names."""
        comments = tuple([await self._field(c) or "" for c in event.comments])
        name, id_ = await self._field(event.event), await self._field(event.id)
        if (comments, name, id_) == (event.comments, event.event, event.id):
            return event
        return dataclasses.replace(event, comments=comments, event=name, id=id_)

    async def _field(self, value: str | None) -> str | None:
        if value is None or _STRUCTURAL.match(value):
            return value
        scanned = self.fields.get(value)
        if scanned is None:
            if len(self.fields) >= _MAX_FIELDS:
                self.fields.clear()
            scanned = await self.r.scans.whole(("sse-field",), value)
            self.fields[value] = scanned
        return scanned

    def encode_object(self, obj: Any) -> bytes:
        return encode_sse(SSEEvent(data=dumps(obj).decode()))

    def encode_rest(self, channel: Channel, rest: str) -> list[bytes]:
        if self.shape is not None:
            return super().encode_rest(channel, rest)
        name = str(channel[1])  # a text event stream
        return [encode_sse(SSEEvent(data=rest, event=None if name == "message" else name))]

    def error_tail(self, message: str, *, kind: str, code: str | None) -> bytes:
        error = dumps(error_body(message, kind=kind, code=code)).decode()
        return encode_sse(SSEEvent(data=error)) + encode_sse(SSEEvent(data="[DONE]"))


class NDJSONBody(ObjectStream):
    kind = "ndjson"

    def __init__(self, r: Responder) -> None:
        super().__init__(r)
        self.decoder = NDJSONDecoder(max_line_chars=r.online.max_frame_bytes)

    async def feed(self, data: bytes) -> None:
        for line in self.decoder.feed(data):
            await self.on_object(loads(line), self.encode_object, size=len(line))

    async def end(self) -> None:
        lines = self.decoder.flush()
        for line in lines[:-1] if self.r.broke_off else lines:  # a cut-off last line: dropped
            await self.on_object(loads(line), self.encode_object, size=len(line))
        await self.finish(truncated=False)

    def encode_object(self, obj: Any) -> bytes:
        return dumps(obj) + b"\n"

    def error_tail(self, message: str, *, kind: str, code: str | None) -> bytes:
        return dumps({"error": message, "type": kind, "code": code}) + b"\n"


def for_content_type(ctype: str) -> type[Body] | None:
    """The handler of a (lower-case, parameter-free) content type; ``None``: unscannable."""
    if ctype == "text/event-stream":
        return SSEBody
    if ctype in NDJSON_TYPES:
        return NDJSONBody
    if ctype == "application/json" or ctype.endswith("+json"):
        return JSONBody
    if ctype == "text/plain":
        return TextBody
    return None


def _ended(channel: Channel, frame: Frame) -> bool:
    if any(channel[: len(prefix)] == prefix for prefix in frame.ends):
        return True
    return any(p.kind == "final" and p.channel == channel for p in frame.pieces)


def _is_json(data: str) -> bool:
    return data.lstrip()[:1] in ("{", "[")


def loads(text: str) -> Any:
    """Parse one JSON frame; a :class:`FramingError` (no body text) when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError as exc:
        position = getattr(exc, "pos", "?")
        raise FramingError(f"invalid JSON at character {position} of a frame") from None


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _with_data(event: SSEEvent, data: Any) -> SSEEvent:
    text = data if isinstance(data, str) else dumps(data).decode()
    return SSEEvent(
        data=text, event=event.event, id=event.id, retry=event.retry, comments=event.comments
    )
