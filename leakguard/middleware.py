"""``LeakGuardMiddleware``: pure ASGI middleware that guards every response body.

The middleware object is read-only after start-up; each HTTP request gets a
:class:`~leakguard.online.responder.Responder` that holds all per-response state and
wraps ``send``; it picks one body handler (:mod:`leakguard.online.bodies`) per kind::

    http.response.start → classify: SSE | NDJSON | JSON | text | unscannable
    body chunks         → inflate → frames → text per channel → StreamGuard (in a thread)
                        → re-encode what is safe → send
    end of body         → close channels → final text → one ScanEvent → send the rest

Blocks before any byte left become a JSON error with ``online.block_status``; a block in
the middle of a stream ends it with one error object (then ``[DONE]`` on SSE). What
cannot be scanned gets ``online.on_unscannable`` (default block), never a silent pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from leakguard.audit.chain import AuditKey, resolve_audit_key
from leakguard.audit.fields import recorded_route, throwaway_key, warm_up
from leakguard.config import LeakGuardConfig
from leakguard.events import EventSink
from leakguard.guard import Guard
from leakguard.online.metrics import Metrics
from leakguard.online.paths import AmbiguousPath, normalise_scope
from leakguard.online.responder import Responder
from leakguard.online.scan_threads import ScanThreads, ScanTimedOut, running_asyncio_loop
from leakguard.online.shapes import error_body
from leakguard.routes import header_fingerprinter as _header_fingerprinter
from leakguard.routes import route_headers as _route_headers

__all__ = ["LeakGuardMiddleware"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
T = TypeVar("T")


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
        # audit.enabled without a sink passed in: the middleware opens (and, on lifespan
        # shutdown, seals) the one the config describes.
        self._owns_sink = sink is None and self.config.audit.enabled
        if self._owns_sink:
            from leakguard.audit.sinks import open_sink

            sink = open_sink(self.config)
        self.sink = sink
        # Fingerprints request ids that hold more than an id, in log lines and records.
        self.record_key = _record_key(self.config, sink)
        warm_up()
        self.metrics = metrics if metrics is not None else Metrics()
        if self._owns_sink:
            self.metrics.add_collector(sink.prometheus)  # type: ignore[union-attr]
        for detector in self.guard.detectors:  # which PII path runs (leakguard.pii.selfcheck)
            report = getattr(detector, "path_report", None)
            if report is not None:
                self.metrics.add_collector(report.prometheus)
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
        if scope["type"] in ("http", "websocket"):
            try:  # route rules and the app see the same, normalised path
                scope = normalise_scope(scope)
            except AmbiguousPath:
                await self._bad_path(scope, send)
                return
        if scope["type"] == "websocket" and self.online.websocket == "refuse":
            await self._refuse_websocket(scope, receive, send)
            return
        if scope["type"] == "lifespan" and self._owns_sink:
            await self.app(scope, receive, self._sealing(send))
            return
        if scope["type"] != "http":  # lifespan; WebSocket with online.websocket: pass
            await self.app(scope, receive, send)
            return
        headers = _route_headers(scope, self._route_header_names)
        guard = self.guard_for(scope["path"], headers)
        if guard is None:
            await self.app(scope, receive, send)
            return
        await Responder(self, scope, guard).run(receive, send)

    def _sealing(self, send: Send) -> Send:
        """``send`` for the lifespan: the owned sink is sealed when the app has shut down."""

        async def sending(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                assert self.sink is not None
                await anyio.to_thread.run_sync(self.sink.close)
            await send(message)

        return sending

    async def _refuse_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """WebSocket messages are not scanned: the handshake is refused (HTTP 403 from the
        server), unless ``online.websocket: pass`` lets them through unscanned."""
        if self.guard_for(scope["path"]) is None:  # a route with guard: false
            await self.app(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            logger.warning(
                "WebSocket to %s refused (online.websocket: refuse)",
                recorded_route(scope["path"]),
            )
            self.metrics.fail_closed.inc("websocket")
            await send({"type": "websocket.close", "code": 1008})

    async def _bad_path(self, scope: Scope, send: Send) -> None:
        """Refuse a path whose meaning depends on who decodes it (no guessing)."""
        logger.warning("request refused: a percent-encoded dot segment in its path")
        self.metrics.fail_closed.inc("ambiguous_path")
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            error_body(
                "The request path has a percent-encoded dot segment.",
                kind="leakguard_bad_path",
                code="ambiguous_path",
            )
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _record_key(config: LeakGuardConfig, sink: EventSink | None) -> AuditKey:
    """The sink's audit key (so log lines and records agree), the configured one, or a
    throwaway key (fingerprints then match within this process only)."""
    key = getattr(sink, "key", None)
    if isinstance(key, AuditKey):
        return key
    if config.audit.fingerprint_key is not None:
        return resolve_audit_key(config.audit)
    return throwaway_key()
