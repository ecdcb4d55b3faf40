"""``leakguard serve``'s app: a guarded reverse proxy for one OpenAI-compatible upstream.

Starlette routes ``/healthz`` and ``/metrics`` (unguarded, our own); every other request
goes through :class:`~leakguard.middleware.LeakGuardMiddleware` to a streaming httpx
transport that forwards method, path, query, body and headers (auth included) to the upstream
fixed in ``proxy.upstream``: a request can never choose another host. Upstream failures
become JSON errors: 502 (unreachable, broken) and 504 (time-out).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from leakguard.config import LeakGuardConfig, ProxyConfig
from leakguard.events import EventSink
from leakguard.exceptions import ConfigError
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online.headers import HOP_BY_HOP as CONNECTION_SPECIFIC
from leakguard.online.headers import connection_specific
from leakguard.online.metrics import Metrics
from leakguard.online.shapes import error_body
from leakguard.online.upstream_http import UpstreamTransport

__all__ = ["build_app"]

logger = logging.getLogger(__name__)

# RFC 9110 §7.6.1 connection-specific headers (one list, online.headers), plus
# Proxy-Authorization (meant for this proxy) and the ones the proxy sets itself.
HOP_BY_HOP = CONNECTION_SPECIFIC | {
    b"proxy-authorization",
    b"host",
    b"content-length",
    b"accept-encoding",
}

# The server in front (uvicorn) writes its own Date and Server: the upstream's would make
# a second pair.
_RESPONSE_DROPPED = HOP_BY_HOP | {b"date", b"server"}
# A request's Content-Length goes on with its body (streamed, so httpx adds no framing).
_REQUEST_HOP_BY_HOP = HOP_BY_HOP - {b"content-length"}
# Upstream URLs kept by Forwarder.target (all dropped when full).
_MAX_TARGETS = 1024


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    """The client's request body as it arrives (ClientDisconnect if the client leaves)."""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


class Forwarder:
    """The ASGI app that forwards a request and streams the upstream answer back.

    It hands each request straight to its httpx transport (leakguard's
    :class:`~leakguard.online.upstream_http.UpstreamTransport` unless one is given), without an
    ``httpx.AsyncClient`` in between: the client's per-request work (merging its default
    headers, cookie jar, auth and redirect handling, URL joining) served nothing here and
    cost ~0.15 ms of CPU per request (see the CHANGELOG). What it did that matters is
    done here: the time-outs, the ``Host`` header (httpx's ``Request``), no cookies kept
    (there is no jar: one user's cookie can never go upstream with another's request),
    no redirects followed, nothing taken from the environment.
    """

    def __init__(
        self,
        config: ProxyConfig,
        metrics: Metrics,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not config.upstream:
            raise ConfigError(
                "the proxy needs an upstream: pass --upstream URL or set proxy.upstream"
            )
        self.upstream = httpx.URL(config.upstream)
        self._base = self.upstream.raw_path.split(b"?")[0].rstrip(b"/")
        self.config = config
        self.metrics = metrics
        self.transport = transport
        self._running: httpx.AsyncBaseTransport | None = None
        self._timeouts = httpx.Timeout(
            connect=config.connect_timeout_s,
            read=config.read_timeout_s,
            write=config.write_timeout_s,
            pool=config.connect_timeout_s,
        ).as_dict()
        # Upstream URLs by raw path (without a query): parsing one costs more than the rest
        # of the request's head; clients of a model server ask for a handful of paths.
        self._targets: dict[bytes, httpx.URL] = {}

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=self.config.max_connections)
        self._running = self.transport or UpstreamTransport(limits=limits)
        try:
            yield
        finally:
            transport, self._running = self._running, None
            await transport.aclose()

    def target(self, scope: Scope) -> httpx.URL:
        """The upstream URL: the configured base joined with the request's raw path."""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        if query:  # not kept: a query may carry a key or an id that is nobody's business
            return self.upstream.copy_with(raw_path=self._base + raw_path + b"?" + query)
        url = self._targets.get(raw_path)
        if url is None:
            url = self.upstream.copy_with(raw_path=self._base + raw_path)
            if len(self._targets) >= _MAX_TARGETS:
                self._targets.clear()
            self._targets[raw_path] = url
        return url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = self._running
        assert transport is not None, "the proxy app must run inside its lifespan"
        # Hop-by-hop headers stay here, and so do the ones the client's Connection header
        # names (some upstreams take only sized request bodies: the length goes on).
        raw: list[tuple[bytes, bytes]] = scope["headers"]
        dropped = _REQUEST_HOP_BY_HOP
        for key, value in raw:
            if key.lower() == b"connection":
                dropped = dropped | {t.strip().lower() for t in value.split(b",")}
        headers = [(k, v) for k, v in raw if k.lower() not in dropped]
        headers.append((b"accept-encoding", b"identity"))
        request_id = scope.get("leakguard.request_id")
        if request_id:
            headers = [(k, v) for k, v in headers if k.lower() != b"x-request-id"]
            headers.append((b"x-request-id", str(request_id).encode()))
        request = httpx.Request(
            scope["method"],
            self.target(scope),
            headers=headers,
            content=_request_body(receive),
            extensions={"timeout": self._timeouts},
        )
        try:
            response = await transport.handle_async_request(request)
        except httpx.TimeoutException as exc:
            await self._error(scope, receive, send, status=504, kind="upstream_timeout", exc=exc)
            return
        except httpx.HTTPError as exc:
            await self._error(
                scope, receive, send, status=502, kind="upstream_unreachable", exc=exc
            )
            return
        try:
            out = _response_headers(response.headers.raw)
            length = response.headers.get("content-length")
            if length is not None:
                out.append((b"content-length", length.encode()))
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out}
            )
            async for chunk in response.stream:  # type: ignore[union-attr]
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError:
            # Counted, not logged: the error goes on to the middleware (which logs it once
            # and ends the response as truncated) or to the server.
            self.metrics.upstream_errors.inc("broke_off")
            raise
        finally:
            await response.aclose()

    async def _error(
        self, scope: Scope, receive: Receive, send: Send, *, status: int, kind: str, exc: Exception
    ) -> None:
        self.metrics.upstream_errors.inc(kind)
        logger.warning("upstream request failed: %s (%s)", kind, type(exc).__name__)
        what = "did not answer in time" if status == 504 else "could not be reached"
        body = error_body(f"The upstream model server {what}.", kind=kind, code=str(status))
        await JSONResponse(body, status_code=status)(scope, receive, send)


def _response_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's headers for the client: without the hop-by-hop ones and those its
    ``Connection`` names (RFC 9110 §7.6.1). A transfer coding other than ``chunked``
    (``Transfer-Encoding: gzip, chunked``) still compresses the body the transport hands
    over: it goes on as the last content coding, to be decoded (and scanned) like one."""
    dropped, _ = connection_specific(raw)
    dropped = dropped | _RESPONSE_DROPPED
    out = [(k, v) for k, v in raw if k.lower() not in dropped]
    codings = [
        c.strip()
        for k, v in raw
        if k.lower() == b"transfer-encoding"
        for c in v.lower().split(b",")
        if c.strip() not in (b"", b"chunked", b"identity")
    ]
    if codings:
        out.append((b"content-encoding", b", ".join(codings)))
    return out


def build_app(
    config: LeakGuardConfig,
    *,
    guard: Guard | None = None,
    sink: EventSink | None = None,
    metrics: Metrics | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The proxy app for ``config`` (``proxy.upstream`` must be set). Pass a built
    ``guard`` to share loaded models, a ``sink`` for the redaction log."""
    metrics = metrics if metrics is not None else Metrics()
    forwarder = Forwarder(config.proxy, metrics, transport=transport)
    guard = guard if guard is not None else Guard(config)
    guarded = LeakGuardMiddleware(
        forwarder, guard=guard, sink=sink, metrics=metrics, source="proxy"
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_page(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with forwarder.running():
            try:
                yield
            finally:
                metrics.close()  # a shared registry publishes its last numbers
                if sink is not None:
                    sink.close()

    app = _ProxyApp(
        guarded,
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            Mount("/", app=guarded),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    return app


class _ProxyApp(Starlette):
    """Starlette for the lifespan and the proxy's own pages; every other request goes
    straight to the guarded forwarder (where ``Mount("/")`` would send it), without
    Starlette's per-request error and exception middleware and routing in the way:
    ~0.1 ms of CPU per request that did nothing for them. An exception there reaches
    uvicorn, which answers 500 (when no response began) as Starlette's would."""

    _OWN_PATHS = frozenset({"/healthz", "/metrics"})

    def __init__(self, guarded: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._guarded = guarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._OWN_PATHS:
            scope["app"] = self
            await self._guarded(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
