"""``LeakGuardMiddleware``: pure ASGI middleware that guards every response body.

The middleware object is read-only after start-up; each HTTP request gets a
:class:`_Responder` that holds all per-response state (decoders, channels, held-back
text) and wraps ``send``::

    http.response.start → classify: SSE | NDJSON | JSON | text | unscannable
    body chunks         → inflate → frames → text per channel → StreamGuard (in a thread)
                        → re-encode what is safe → send
    end of body         → close channels → final text → one ScanEvent → send the rest

Blocks before any byte left become a JSON error with ``online.block_status``; a block in
the middle of a stream ends it with one error object (then ``[DONE]`` on SSE). What
cannot be scanned gets ``online.on_unscannable`` (default block), never a silent pass.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread

from leakguard.config import LeakGuardConfig
from leakguard.events import EventSink, ScanEvent
from leakguard.exceptions import FramingError
from leakguard.guard import Guard
from leakguard.online.framing import (
    Decompressor,
    NDJSONDecoder,
    SSEDecoder,
    SSEEvent,
    TextDecoder,
    encode_sse,
    make_decompressor,
)
from leakguard.online.metrics import Metrics, reason_kind
from leakguard.online.scan_threads import ScanThreads, ScanTimedOut, running_asyncio_loop
from leakguard.online.shapes import ERROR, LEAVES, Frame, Shape, detect_shape, error_body
from leakguard.online.streaming import Channel, ResponseGuard
from leakguard.routes import header_fingerprinter as _header_fingerprinter
from leakguard.routes import route_headers as _route_headers

__all__ = ["LeakGuardMiddleware"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# pass: the raw body goes on as it is; forward: the decoded body goes on unscanned
# (a pass decided mid-body); the others are scanned.
Mode = Literal["sse", "ndjson", "json", "text", "pass", "forward"]
T = TypeVar("T")

# Bytes of the request body kept to read its "model" field (the rest is not looked at).
REQUEST_PEEK_BYTES = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MESSAGES = {
    "leakguard_unscannable": "This response was withheld because it could not be checked.",
    "leakguard_fail_closed": "This response was withheld because checking it did not finish.",
    "leakguard_truncated": "The upstream response ended before it was complete.",
}
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class LeakGuardMiddleware:
    """Guards the responses of an ASGI app.

    ``guard`` (or ``config``, to build one) sets the detectors and the policy;
    ``config.online`` the streaming bounds, routes and fail-closed choices; ``sink``
    receives one :class:`~leakguard.events.ScanEvent` per guarded response; ``metrics``
    collects counters for ``/metrics``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Guard | None = None,
        config: LeakGuardConfig | None = None,
        sink: EventSink | None = None,
        metrics: Metrics | None = None,
        source: str = "middleware",
    ) -> None:
        self.app = app
        # What audit records name as their source ("proxy" for `leakguard serve`).
        self.source = source
        self.guard = guard if guard is not None else Guard(config)
        self.config = self.guard.config
        self.online = self.config.online
        self.sink = sink
        self.metrics = metrics if metrics is not None else Metrics()
        self._route_guards = [self._route_guard(i) for i in range(len(self.online.routes))]
        self._route_header_names = frozenset(
            r.header.lower().encode() for r in self.online.routes if r.header is not None
        )
        self._header_fingerprint = _header_fingerprinter(self.config)
        # Scans run in these threads on asyncio (uvicorn's loop), through anyio elsewhere.
        self.scan_threads = ScanThreads(self.online.max_concurrent_scans)
        self._limiter: anyio.CapacityLimiter | None = None

    def _route_guard(self, index: int) -> Guard:
        rule = self.online.routes[index]
        if not rule.policy:
            return self.guard
        # Key by key over the global policy (actions merge per label): see RouteRule.
        config = self.config.model_copy(update={"policy": rule.policy_over(self.config.policy)})
        return Guard(config, detectors=self.guard.detectors)

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created inside the event loop, on first use
            self._limiter = anyio.CapacityLimiter(self.online.max_concurrent_scans)
        return self._limiter

    async def run_scan(self, fn: Callable[[], T], timeout: float) -> T:
        """``fn()`` in a worker thread, at most ``online.max_concurrent_scans`` at a time;
        :class:`ScanTimedOut` when it runs past ``timeout`` seconds (waiting for a thread
        does not count), and the scan is abandoned to its thread."""
        if running_asyncio_loop() is not None:
            return await self.scan_threads.run(fn, timeout)
        async with self.limiter:  # another anyio backend: the same, at anyio's cost
            with anyio.move_on_after(timeout):
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
        raise ScanTimedOut(f"the scan ran past {timeout:g} s")

    def guard_for(self, path: str, headers: Mapping[str, str] | None = None) -> Guard | None:
        """The guard of a request (a route override's, or the base), or ``None`` when a
        route rule turns guarding off. ``headers``: lower-cased names."""
        found = headers if headers is not None else {}
        for rule, guard in zip(self.online.routes, self._route_guards, strict=True):
            if rule.matches(path, found, self._header_fingerprint):
                return guard if rule.guard else None
        return self.guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _route_headers(scope, self._route_header_names)
        guard = self.guard_for(scope["path"], headers)
        if guard is None:
            await self.app(scope, receive, send)
            return
        await _Responder(self, scope, guard).run(receive, send)


class _Responder:
    """All the state of one guarded response."""

    def __init__(self, mw: LeakGuardMiddleware, scope: Scope, guard: Guard) -> None:
        self.mw = mw
        self.online = mw.online
        self.policy = guard.config.policy
        self.scope = scope
        self.request_id = self._request_id()
        # A copy for the app inside, which may want the id (the proxy sends it upstream).
        self.scope = {**scope, "leakguard.request_id": self.request_id}
        self.rg = ResponseGuard(guard, mw.online)
        self.mode: Mode = "pass"
        self.kind = "none"
        self.start: Message | None = None  # held until the first bytes go out
        self.start_sent = False
        self.finished = False
        self.out: list[bytes] = []
        self.inflate: Decompressor | None = None
        self.decoder: SSEDecoder | NDJSONDecoder | TextDecoder | None = None
        self.shape: Shape | None = None
        self.sse_json: bool | None = None  # whether the SSE data is JSON (first event decides)
        self.templates: dict[Channel, dict[str, Any]] = {}
        self.body: list[bytes] = []
        self.body_size = 0
        self.request_peek = bytearray()
        self.model: str | None = None
        self.reason: str | None = None
        self.passed_unscanned = False
        self.ended_cleanly = False  # the stream's own end marker was seen ([DONE], done: true)
        self.broke_off = False
        self.held_since: dict[Channel, float] = {}

    def _request_id(self) -> str:
        """The client's request id when it looks like one, else a new one."""
        given = self._header(self.online.request_id_header)
        return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex

    def _header(self, name: str) -> str | None:
        for key, value in self.scope.get("headers", []):
            if key.decode("latin-1").lower() == name.lower():
                text: str = value.decode("latin-1")
                return text
        return None

    # -- the wrapped app ---------------------------------------------------------------
    async def run(self, receive: Receive, send: Send) -> None:
        self.send_raw = send

        async def peek_receive() -> Message:
            message = await receive()
            room = REQUEST_PEEK_BYTES - len(self.request_peek)
            if message["type"] == "http.request" and room > 0:
                self.request_peek += message.get("body", b"")[:room]
            return message

        try:
            await self.mw.app(self.scope, peek_receive, self.on_send)
        except Exception as exc:
            if self.start is None and not self.start_sent:
                raise  # the app failed before it answered: not ours to hide
            # The app (e.g. the proxy's upstream) broke off mid-response: release what was
            # received and scanned, then end the stream well-formed, marked as truncated.
            logger.warning(
                "response %s broke off: %s; ending it as truncated",
                self.request_id,
                type(exc).__name__,
            )
            self.broke_off = True
            await self.on_send({"type": "http.response.body", "body": b"", "more_body": False})

    async def on_send(self, message: Message) -> None:
        if self.finished:
            return  # we already ended this response (a block): drop the rest
        try:
            if message["type"] == "http.response.start":
                await self.on_start(message)
            elif message["type"] == "http.response.body":
                await self.on_body(message.get("body", b""), more=message.get("more_body", False))
            else:
                await self.send_raw(message)
        except FramingError as exc:
            await self.unscannable(f"{exc.kind}", detail=exc.reason)
        except Exception as exc:  # our own failure: fail closed, never echo text
            logger.warning("guarding response %s failed: %s", self.request_id, type(exc).__name__)
            await self.fail(f"internal_error:{type(exc).__name__}")

    # -- http.response.start: classify the body ----------------------------------------
    async def on_start(self, message: Message) -> None:
        self.start = message
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        status = int(message["status"])
        if self.scope.get("method") == "HEAD" or status in (204, 304) or status < 200:
            self.mode, self.kind = "pass", "empty"
            return
        self.inflate = make_decompressor(headers.get("content-encoding"))
        frame_limit = self.online.max_frame_bytes
        if ctype == "text/event-stream":
            self.mode, self.kind = "sse", "sse"
            self.decoder = SSEDecoder(max_event_chars=frame_limit)
        elif ctype in _NDJSON_TYPES:
            self.mode, self.kind = "ndjson", "ndjson"
            self.decoder = NDJSONDecoder(max_line_chars=frame_limit)
        elif ctype == "application/json" or ctype.endswith("+json"):
            self.mode, self.kind = "json", "json"
        elif ctype == "text/plain":
            self.mode, self.kind = "text", "text"
            self.decoder = TextDecoder()
        else:
            self.kind = "unscannable"
            await self.unscannable("content_type", detail=f"content-type {ctype or 'missing'!r}")

    def _start_message(self, *, length: int | None = None) -> Message:
        assert self.start is not None
        drop = {b"content-length", b"x-request-id"}
        if self.inflate is not None:
            drop.add(b"content-encoding")
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() not in drop]
        headers.append((b"x-request-id", self.request_id.encode()))
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        return {**self.start, "headers": headers}

    # -- http.response.body: route to the body kind ------------------------------------
    async def on_body(self, body: bytes, *, more: bool) -> None:
        if self.mode == "pass":
            await self._send_passthrough(body, more=more)
            return
        pieces = self.inflate.feed(body) if self.inflate is not None and body else [body]
        if not more and self.inflate is not None:
            pieces += self.inflate.flush()
        for piece in pieces:
            if self.finished:
                return
            if self.mode == "forward":
                await self._flush_bytes(piece)
            else:
                await self._feed(piece)
        if self.finished:
            return
        if self.mode == "forward":
            await self._flush(more=more)
            if not more:
                self.finished = True
                await self.audit(final=True)
        elif not more:
            await self._end()
        elif self.out and not self.ended_cleanly:
            # After the stream's end marker, the rest waits for the audit record, so a
            # sink that refuses it can still withhold the last text.
            await self._flush()

    async def _feed(self, data: bytes) -> None:
        if self.mode == "json":
            self.body_size += len(data)
            if self.body_size > self.online.max_body_bytes:
                await self.unscannable("oversize", detail="body over online.max_body_bytes")
                return
            self.body.append(data)
        elif self.mode == "sse":
            assert isinstance(self.decoder, SSEDecoder)
            for event in self.decoder.feed(data):
                await self.on_event(event)
        elif self.mode == "ndjson":
            assert isinstance(self.decoder, NDJSONDecoder)
            for line in self.decoder.feed(data):
                await self.on_object(_loads(line), lambda o: _dumps(o) + b"\n")
        elif self.mode == "text":
            assert isinstance(self.decoder, TextDecoder)
            text = self.decoder.feed(data)
            if text:
                self.out.append((await self.stream_text(("text",), text)).encode())

    async def _end(self) -> None:
        """The upstream body is complete: flush decoders, close channels, audit, send."""
        truncated = False
        if self.mode == "json":
            await self.on_json_body(b"".join(self.body))
            return
        if isinstance(self.decoder, SSEDecoder):
            for event in self.decoder.flush():
                await self.on_event(event)
            truncated = self.decoder.truncated
        elif isinstance(self.decoder, NDJSONDecoder):
            lines = self.decoder.flush()
            for line in lines[:-1] if self.broke_off else lines:  # a cut-off last line: dropped
                await self.on_object(_loads(line), lambda o: _dumps(o) + b"\n")
        elif isinstance(self.decoder, TextDecoder):
            text = self.decoder.flush()
            if text:
                self.out.append((await self.stream_text(("text",), text)).encode())
        if self.finished:
            return
        await self.close_channels(list(self.rg.open_channels()))
        if self.rg.blocked:
            await self.block_stream()
            return
        marks_end = self.shape is not None and self.shape.marks_end
        if truncated or self.broke_off or (marks_end and not self.ended_cleanly):
            self.reason = "truncated"
            self.out.append(self._error_tail("leakguard_truncated", "truncated"))
        if not await self.audit():
            return
        await self._flush(more=False)
        self.finished = True

    # -- SSE -----------------------------------------------------------------------------
    async def on_event(self, event: SSEEvent) -> None:
        if event.data is None:  # comments, retry, id only: nothing to scan
            self.out.append(encode_sse(event))
            return
        if event.data.strip() == "[DONE]":
            self.ended_cleanly = True
            await self.close_channels(list(self.rg.open_channels()))
            if self.rg.blocked:
                await self.block_stream()
                return
            self.out.append(encode_sse(event))
            return
        if self.sse_json is None:
            self.sse_json = _is_json(event.data)
        if not self.sse_json:  # a text event stream: one channel per event name
            text = await self.stream_text(("sse", event.event or "message"), event.data)
            self.out.append(encode_sse(_with_data(event, text)))
            return
        await self.on_object(_loads(event.data), lambda o: encode_sse(_with_data(event, o)))

    # -- one streamed JSON object (SSE data or NDJSON line) --------------------------------
    async def on_object(self, obj: Any, encode: Callable[[Any], bytes]) -> None:
        if self.shape is None:
            self.shape = self._detect(obj)
            if self.shape is None:
                await self.unscannable("unknown_schema", detail="no shape matches the stream")
                return
            self.rg.keep_text = self.shape.repeats_text
        frame = self.shape.frame(obj) or ERROR.frame(obj)
        if frame is None:
            await self.unscannable("malformed", detail="a stream object of another schema")
            return
        self.model = self.model or frame.model
        self.ended_cleanly = self.ended_cleanly or self.shape.is_last(obj)
        await self.apply(frame, obj, encode)

    def _detect(self, obj: Any) -> Shape | None:
        shape = detect_shape(obj, path=self.scope["path"], json_paths=self.online.json_paths)
        if shape is None and self.start is not None and int(self.start["status"]) >= 400:
            return LEAVES  # an error body of unknown schema: every string in it is scanned
        return shape

    async def apply(self, frame: Frame, obj: Any, encode: Callable[[Any], bytes]) -> None:
        """Guard one streamed object's pieces, close the channels it ends, queue it."""
        assert self.shape is not None
        for piece in frame.pieces:
            if piece.kind == "delta":
                self.templates[piece.channel] = obj
                piece.set(await self.stream_text(piece.channel, piece.text))
        ending = [c for c in self.rg.open_channels() if _ended(c, frame)]
        own = {p.channel: p for p in frame.pieces if p.kind == "delta"}
        for channel in ending:
            rest = await self.scan(channel, "close")
            if not rest:
                continue
            if channel in own:  # this object carries the channel's last delta: append
                own[channel].set(own[channel].text + rest)
            else:
                template = self.templates.get(channel, obj)
                self.out.append(encode(self.shape.synthesize(template, channel, rest)))
        for piece in frame.pieces:
            if piece.kind == "final":
                kept = self.rg.released_text(piece.channel)
                if kept is None:
                    kept = await self.scan(piece.channel, "whole", piece.text)
                piece.set(kept)
            elif piece.kind == "whole":
                piece.set(await self.scan(("whole", *piece.channel), "whole", piece.text))
        if self.rg.blocked:
            await self.block_stream()
            return
        self.shape.scrub(obj)
        self.out.append(encode(obj))

    async def stream_text(self, channel: Channel, text: str) -> str:
        """Add streamed text to a channel; scan it in a thread when a scan is due."""
        if not self.rg.channel(channel).held:
            self.held_since[channel] = time.perf_counter()
        sg = self.rg.append(channel, text)
        if not sg.due():
            return ""
        return await self.scan(channel, "release")

    async def close_channels(self, channels: list[Channel]) -> None:
        """Close channels at the end of a stream, sending what they held in synthesized
        objects (JSON streams) or as text."""
        for channel in channels:
            rest = await self.scan(channel, "close")
            if not rest or self.rg.blocked:
                continue
            if self.mode == "text":
                self.out.append(rest.encode())
            elif self.shape is None:  # text SSE
                name = str(channel[1])
                event = None if name == "message" else name
                self.out.append(encode_sse(SSEEvent(data=rest, event=event)))
            else:
                template = self.templates.get(channel)
                if template is not None:
                    obj = self.shape.synthesize(template, channel, rest)
                    self.out.append(self._encode_like_stream(obj))

    def _encode_like_stream(self, obj: Any) -> bytes:
        if self.mode == "ndjson":
            return _dumps(obj) + b"\n"
        return encode_sse(SSEEvent(data=_dumps(obj).decode()))

    # -- scanning in worker threads --------------------------------------------------------
    async def scan(self, channel: Channel, op: str, text: str = "") -> str:
        """Run one scan off the event loop, at most ``online.max_concurrent_scans`` at a
        time, each bounded by ``online.scan_timeout_s``; a time-out takes
        ``online.on_failure`` (an abandoned scan finishes in its thread, unused)."""
        rg = self.rg
        call: Callable[[], str]
        if op == "release":
            call = functools.partial(rg.release, channel)
        elif op == "close":
            call = functools.partial(rg.close, channel)
        else:
            call = functools.partial(rg.scan_whole, channel, text)
        # Waiting for a free scan slot does not count: under load, responses queue (and
        # their streams wait) rather than fail; the time-out bounds the scan itself.
        try:
            result = await self.mw.run_scan(call, self.online.scan_timeout_s)
        except ScanTimedOut:
            pass
        else:
            self._held(channel)
            return result
        logger.warning("scan of response %s timed out", self.request_id)
        if self.online.on_failure == "block":
            self.mw.metrics.fail_closed.inc("scan_timeout")
            rg.block("scan_timeout")
            return ""
        self.mw.metrics.passed_unscanned.inc("scan_timeout")
        self.passed_unscanned = True
        return text if op == "whole" else rg.abandon(channel)

    def _held(self, channel: Channel) -> None:
        since = self.held_since.get(channel)
        sg = self.rg.channels.get(channel)
        if since is None or sg is None:
            return
        now = time.perf_counter()
        self.mw.metrics.hold_seconds.observe(now - since)
        if sg.held:
            self.held_since[channel] = now
        else:
            del self.held_since[channel]

    # -- whole JSON bodies -------------------------------------------------------------------
    async def on_json_body(self, raw: bytes) -> None:
        if not raw.strip():
            await self._finish_plain(raw)
            return
        decoder = TextDecoder()
        obj = _loads(decoder.feed(raw) + decoder.flush())
        shape = self._detect(obj)
        frame = shape.frame(obj) if shape is not None else None
        if shape is None or frame is None:
            await self.unscannable("unknown_schema", detail="no shape matches the JSON body")
            return
        self.shape, self.model = shape, frame.model
        for piece in frame.pieces:  # each text field is complete: one scan each
            piece.set(await self.scan(piece.channel, "whole", piece.text))
            if self.rg.blocked:
                break
        if self.rg.blocked:
            await self.block_response()
            return
        shape.scrub(obj)
        await self._finish_plain(_dumps(obj))

    async def _finish_plain(self, body: bytes) -> None:
        if not await self.audit():
            return
        await self.send_raw(self._start_message(length=len(body)))
        self.start_sent = True
        await self.send_raw({"type": "http.response.body", "body": body, "more_body": False})
        self.finished = True

    # -- sending -------------------------------------------------------------------------------
    async def _flush(self, *, more: bool = True) -> None:
        if not self.start_sent:
            await self.send_raw(self._start_message())
            self.start_sent = True
        body, self.out = b"".join(self.out), []
        await self.send_raw({"type": "http.response.body", "body": body, "more_body": more})

    async def _flush_bytes(self, data: bytes) -> None:
        self.out.append(data)
        await self._flush()

    async def _send_passthrough(self, body: bytes, *, more: bool) -> None:
        if not self.start_sent:
            await self.send_raw(self._start_message_passthrough())
            self.start_sent = True
        await self.send_raw({"type": "http.response.body", "body": body, "more_body": more})
        if not more:
            self.finished = True
            await self.audit()

    def _start_message_passthrough(self) -> Message:
        assert self.start is not None
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"x-request-id"]
        headers.append((b"x-request-id", self.request_id.encode()))
        return {**self.start, "headers": headers}

    # -- blocks and failures -------------------------------------------------------------------
    async def unscannable(self, reason: str, *, detail: str) -> None:
        """A body we cannot scan: block (default) or pass it on, as configured."""
        logger.warning(
            "response %s cannot be scanned (%s: %s); on_unscannable=%s",
            self.request_id,
            reason,
            detail,
            self.online.on_unscannable,
        )
        if self.online.on_unscannable == "pass" and not self.start_sent and not self.out:
            self.mw.metrics.passed_unscanned.inc(f"unscannable:{reason}")
            self.passed_unscanned = True
            self.rg.fully_scanned = False
            self.reason = f"unscannable:{reason}"
            if self.body_size or self.inflate is not None:
                # Mid-body (or compressed): what was buffered and the rest go on decoded.
                self.mode = "forward"
                self.out, self.body = list(self.body), []
            else:
                self.mode = "pass"
            return
        await self.fail(f"unscannable:{reason}", kind="leakguard_unscannable")

    async def fail(
        self, reason: str, *, kind: str = "leakguard_fail_closed", fail: bool = True
    ) -> None:
        if fail:
            self.mw.metrics.fail_closed.inc(reason_kind(reason))
        self.rg.fully_scanned = False
        self.rg.block(reason)
        await self.block_stream(kind=kind)

    async def block_response(self, *, kind: str = "leakguard_blocked") -> None:
        """Replace the whole response (nothing was sent yet) by a JSON error."""
        await self.audit(final=True)
        body = _dumps(error_body(self._message(kind), kind=kind, code=self.rg.reason))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", self.request_id.encode()),
        ]
        start = {"type": "http.response.start", "status": self.online.block_status}
        await self.send_raw({**start, "headers": headers})
        self.start_sent = True
        await self.send_raw({"type": "http.response.body", "body": body, "more_body": False})
        self.finished = True

    async def block_stream(self, *, kind: str = "leakguard_blocked") -> None:
        """End the response with one error object; as a plain JSON error if nothing left yet."""
        if self.finished:
            return
        self.out = []  # whatever was queued from the blocked object is dropped
        if not self.start_sent or self.mode in ("json", "pass"):
            if self.start_sent:  # a pass-through already started: cut it off
                await self.audit(final=True)
                await self.send_raw({"type": "http.response.body", "body": b"", "more_body": False})
                self.finished = True
                return
            await self.block_response(kind=kind)
            return
        await self.audit(final=True)
        tail = self._error_tail(kind, self.rg.reason)
        await self.send_raw({"type": "http.response.body", "body": tail, "more_body": False})
        self.finished = True

    def _message(self, kind: str) -> str:
        return _MESSAGES.get(kind, self.policy.block_message)

    def _error_tail(self, kind: str, code: str | None) -> bytes:
        """The one error object that ends a stream, in the stream's own framing."""
        message = self._message(kind)
        if self.mode == "sse":
            error = error_body(message, kind=kind, code=code)
            return encode_sse(SSEEvent(data=_dumps(error).decode())) + encode_sse(
                SSEEvent(data="[DONE]")
            )
        if self.mode == "ndjson":
            return _dumps({"error": message, "type": kind, "code": code}) + b"\n"
        return ("\n" + message + "\n").encode()

    # -- the audit record ----------------------------------------------------------------------
    async def audit(self, *, final: bool = False) -> bool:
        """Count the response and emit its ScanEvent. False when the sink refused it and
        the response was blocked for that (``online.on_failure: block``)."""
        if getattr(self, "_audited", False):
            return True
        self._audited = True
        rg, metrics = self.rg, self.mw.metrics
        action = rg.action
        metrics.responses.inc(self.kind, action.value)
        metrics.scan_seconds.observe(rg.scan_seconds)
        for evidence in rg.evidence:
            f = evidence.finding
            metrics.findings.inc(f.label, f.action.value if f.action else "none")
        if rg.blocked:
            metrics.blocks.inc(reason_kind(rg.reason))
            # One line per block; no text, no client-controlled value (path, ids, model).
            labels = sorted({e.finding.label for e in rg.evidence})
            logger.info(
                "blocked a %s response: %s (findings: %s)",
                self.kind,
                rg.reason,
                ", ".join(labels) or "none",
            )
        if self.mw.sink is None:
            return True
        event = ScanEvent(
            source=self.mw.source,
            request_id=self.request_id,
            action=action,
            evidence=tuple(rg.evidence),
            policy_version=rg.guard.policy_version,
            fully_scanned=rg.fully_scanned and not self.passed_unscanned,
            reason=rg.reason or self.reason,
            route=self.scope["path"],
            model=self.model or self._request_model(),
            tenant=self._tenant(),
            scan_ms=rg.scan_seconds * 1000,
            text_chars=rg.text_chars,
        )
        try:
            accepted = self.mw.sink.emit(event)
        except Exception as exc:
            logger.warning("audit sink failed: %s", type(exc).__name__)
            accepted = False
        if accepted:
            return True
        metrics.sink_refusals.inc()
        if final or self.online.on_failure == "pass":
            return True
        metrics.fail_closed.inc("audit_refused")
        rg.block("audit_refused")
        rg.fully_scanned = False
        await self.block_stream(kind="leakguard_fail_closed")
        return False

    def _request_model(self) -> str | None:
        try:
            data = json.loads(bytes(self.request_peek))
        except ValueError:
            return None
        model = data.get("model") if isinstance(data, dict) else None
        return model if isinstance(model, str) else None

    def _tenant(self) -> str | None:
        header = self.mw.config.audit.tenant_header
        return self._header(header) if header else None


def _ended(channel: Channel, frame: Frame) -> bool:
    if any(channel[: len(prefix)] == prefix for prefix in frame.ends):
        return True
    return any(p.kind == "final" and p.channel == channel for p in frame.pieces)


def _is_json(data: str) -> bool:
    return data.lstrip()[:1] in ("{", "[")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        position = getattr(exc, "pos", "?")
        raise FramingError(f"invalid JSON at character {position} of a frame") from None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _with_data(event: SSEEvent, data: Any) -> SSEEvent:
    text = data if isinstance(data, str) else _dumps(data).decode()
    return SSEEvent(
        data=text, event=event.event, id=event.id, retry=event.retry, comments=event.comments
    )
