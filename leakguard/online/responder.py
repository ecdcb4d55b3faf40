"""The per-response side of :class:`~leakguard.middleware.LeakGuardMiddleware`.

One :class:`Responder` per guarded HTTP request wraps the app's ``send``; at
``http.response.start`` it picks one body handler (:mod:`leakguard.online.bodies`) for
the content type, as Starlette's gzip middleware picks its responder, and every body
chunk goes to that handler. The responder owns what all handlers share: the held start
message, sending, blocking, the audit record::

    http.response.start → classify: SSE | NDJSON | JSON | text | pass (empty, unscannable)
    body chunks         → inflate → handler.feed → queued output → send
    end of body         → handler.done → one ScanEvent → send the rest
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from leakguard.audit.fields import recorded_content_type, recorded_request_id
from leakguard.exceptions import FramingError
from leakguard.guard import Guard
from leakguard.online import bodies, recording
from leakguard.online.framing import Decompressor, make_decompressor
from leakguard.online.headers import guard_headers
from leakguard.online.metrics import reason_kind
from leakguard.online.scanning import Scans
from leakguard.online.shapes import LEAVES, Shape, detect_shape, error_body
from leakguard.online.streaming import ResponseGuard

if TYPE_CHECKING:
    from leakguard.middleware import LeakGuardMiddleware

__all__ = ["Responder"]

logger = logging.getLogger("leakguard.middleware")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Bytes of the request body kept to read its "model" field (the rest is not looked at).
REQUEST_PEEK_BYTES = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MESSAGES = {
    "leakguard_unscannable": "This response was withheld because it could not be checked.",
    "leakguard_fail_closed": "This response was withheld because checking it did not finish.",
    "leakguard_truncated": "The upstream response ended before it was complete.",
}


class Responder:
    """All the state of one guarded response; the body's own state is its handler's."""

    def __init__(self, mw: LeakGuardMiddleware, scope: Scope, guard: Guard) -> None:
        self.mw = mw
        self.online = mw.online
        self.policy = guard.config.policy
        self.scope = scope
        self.request_id = self._request_id()  # echoed to the client, sent upstream
        # What log lines and the record name it by: the id, or its keyed fingerprint when
        # the client's id holds more than an id (leakguard.audit.fields).
        self.log_id = recorded_request_id(self.request_id, mw.record_key)
        # A copy for the app inside, which may want the id (the proxy sends it upstream).
        self.scope = {**scope, "leakguard.request_id": self.request_id}
        self.rg = ResponseGuard(guard, mw.online)
        self.scans = Scans(
            self.rg,
            online=mw.online,
            metrics=mw.metrics,
            run_scan=mw.run_scan,
            request_id=self.log_id,
        )
        self.handler: bodies.Body = bodies.PassBody(self)
        self.kind = "none"  # the body kind, for the metrics
        self.start: Message | None = None  # held until the first bytes go out
        self.start_sent = False
        self.finished = False
        self.audited = False
        self.out: list[bytes] = []  # re-encoded output waiting to be sent
        self.inflate: Decompressor | None = None
        self.request_peek = bytearray()
        self.model: str | None = None
        self.reason: str | None = None
        self.broke_off = False  # the app raised mid-response

    def _request_id(self) -> str:
        """The client's request id when it looks like one, else a new one."""
        given = self.header(self.online.request_id_header)
        return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex

    def header(self, name: str) -> str | None:
        """A request header's value."""
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
                self.log_id,
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
            elif message["type"] == "http.response.trailers":
                logger.info("response %s: trailers dropped (not scanned)", self.log_id)
            else:
                await self.send_raw(message)
        except FramingError as exc:
            await self.unscannable(f"{exc.kind}", detail=exc.reason)
        except Exception as exc:  # our own failure: fail closed, never echo text
            logger.warning("guarding response %s failed: %s", self.log_id, type(exc).__name__)
            await self.fail(f"internal_error:{type(exc).__name__}")

    # -- http.response.start: pick the body handler ------------------------------------
    async def on_start(self, message: Message) -> None:
        # Trailers would arrive after the body was decided: not forwarded (and the server
        # is not told to wait for them). The headers are scanned whatever the status.
        start = {k: v for k, v in message.items() if k != "trailers"}
        start["headers"] = await guard_headers(self, message.get("headers", []))
        self.start = message = start
        if self.rg.blocked:
            await self.block_response()
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        status = int(message["status"])
        if self.scope.get("method") == "HEAD" or status in (204, 304) or status < 200:
            self.kind = "empty"
            return
        if status == 206:  # a value cut at the range boundary cannot be recognised
            self.kind = "unscannable"
            await self.unscannable("partial", detail="206 partial content")
            return
        # Several Content-Encoding lines are one stacked list (RFC 9110 §8.4), in order.
        codings = [v.decode("latin-1") for k, v in message["headers"] if k == b"content-encoding"]
        self.inflate = make_decompressor(", ".join(codings) if codings else None)
        handler = bodies.for_content_type(ctype)
        if handler is None:
            self.kind = "unscannable"
            await self.unscannable(
                "content_type", detail=f"content-type {recorded_content_type(ctype)!r}"
            )
            return
        self.handler = handler(self)
        self.kind = self.handler.kind

    def start_message(self, *, length: int | None = None) -> Message:
        """The upstream's start message for a scanned body: no stale length or encoding."""
        assert self.start is not None
        drop = {b"content-length", b"x-request-id"}
        if self.inflate is not None:
            drop.add(b"content-encoding")
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() not in drop]
        headers.append((b"x-request-id", self.request_id.encode()))
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        return {**self.start, "headers": headers}

    # -- http.response.body: to the handler ----------------------------------------------
    async def on_body(self, body: bytes, *, more: bool) -> None:
        handler = self.handler
        if handler.raw:
            await self.send_passthrough(body, more=more)
            return
        pieces = self.inflate.feed(body) if self.inflate is not None and body else [body]
        if not more and self.inflate is not None:
            pieces += self.inflate.flush()
        for piece in pieces:
            if self.finished:
                return
            await self.handler.feed(piece)  # the handler may change (a pass decided mid-body)
        if self.finished:
            return
        await self.handler.done(more=more)
        if self.handler is not handler and not self.finished and not more:
            await self.handler.done(more=more)  # a pass decided at the end: send it all

    def detect(self, obj: Any) -> Shape | None:
        """The shape of a JSON body or of a stream's first object."""
        shape = detect_shape(obj, path=self.scope["path"], json_paths=self.online.json_paths)
        if shape is None and self.start is not None and int(self.start["status"]) >= 400:
            return LEAVES  # an error body of unknown schema: every string in it is scanned
        return shape

    # -- sending -------------------------------------------------------------------------
    async def flush(self, *, more: bool = True) -> None:
        """Send what is queued (and the start message, the first time)."""
        if not self.start_sent:
            await self.send_raw(self.start_message())
            self.start_sent = True
        body, self.out = b"".join(self.out), []
        await self.send_raw({"type": "http.response.body", "body": body, "more_body": more})

    async def finish_plain(self, body: bytes) -> None:
        """Send a whole body with its length, once the audit record is accepted."""
        if not await self.audit():
            return
        await self.send_raw(self.start_message(length=len(body)))
        self.start_sent = True
        await self.send_raw({"type": "http.response.body", "body": body, "more_body": False})
        self.finished = True

    async def send_passthrough(self, body: bytes, *, more: bool) -> None:
        if not self.start_sent:
            assert self.start is not None
            headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"x-request-id"]
            headers.append((b"x-request-id", self.request_id.encode()))
            await self.send_raw({**self.start, "headers": headers})
            self.start_sent = True
        await self.send_raw({"type": "http.response.body", "body": body, "more_body": more})
        if not more:
            self.finished = True
            await self.audit()

    # -- blocks and failures -------------------------------------------------------------------
    async def unscannable(self, reason: str, *, detail: str) -> None:
        """A body we cannot scan: block (default) or pass it on, as configured."""
        logger.warning(
            "response %s cannot be scanned (%s: %s); on_unscannable=%s",
            self.log_id,
            reason,
            detail,
            self.online.on_unscannable,
        )
        if self.online.on_unscannable == "pass" and not self.start_sent and not self.out:
            self.mw.metrics.passed_unscanned.inc(f"unscannable:{reason}")
            self.scans.passed_unscanned = True
            self.rg.fully_scanned = False
            self.reason = f"unscannable:{reason}"
            buffered = self.handler.buffered()
            if buffered or self.inflate is not None:
                # Mid-body (or compressed): what was buffered and the rest go on decoded.
                self.handler = bodies.ForwardBody(self, buffered)
            else:
                self.handler = bodies.PassBody(self)
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
        body = bodies.dumps(error_body(self.message(kind), kind=kind, code=self.rg.reason))
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
        if not self.start_sent or not self.handler.framed:
            if self.start_sent:  # a pass-through already started: cut it off
                await self.audit(final=True)
                await self.send_raw({"type": "http.response.body", "body": b"", "more_body": False})
                self.finished = True
                return
            await self.block_response(kind=kind)
            return
        await self.audit(final=True)
        tail = self.handler.error_tail(self.message(kind), kind=kind, code=self.rg.reason)
        await self.send_raw({"type": "http.response.body", "body": tail, "more_body": False})
        self.finished = True

    def message(self, kind: str) -> str:
        """The text a client sees for a block of this kind."""
        return _MESSAGES.get(kind, self.policy.block_message)

    # -- the audit record ----------------------------------------------------------------------
    async def audit(self, *, final: bool = False) -> bool:
        """Count the response and record it (:mod:`leakguard.online.recording`). False
        when it was blocked because its record was refused or could not be written
        (``online.on_failure: block``)."""
        if self.audited:
            return True
        self.audited = True
        return await recording.record_response(self, final=final)
