"""``leakguard serve``'s app: a guarded reverse proxy for one OpenAI-compatible upstream.

Starlette routes ``/healthz`` and ``/metrics`` (unguarded, our own); every other request
goes through :class:`~leakguard.middleware.LeakGuardMiddleware` to a streaming httpx
client that forwards method, path, query, body and headers (auth included) to the upstream
fixed in ``proxy.upstream``: a request can never choose another host. Upstream failures
become JSON errors: 502 (unreachable, broken) and 504 (time-out).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from leakguard.config import LeakGuardConfig, ProxyConfig
from leakguard.events import EventSink
from leakguard.exceptions import ConfigError
from leakguard.guard import Guard
from leakguard.metrics import Metrics
from leakguard.middleware import LeakGuardMiddleware
from leakguard.payloads import error_body
from leakguard.upstream_pool import UpstreamTransport

__all__ = ["build_app"]

logger = logging.getLogger("leakguard")

# RFC 9110 §7.6.1 connection-specific headers, plus the ones the proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"accept-encoding",
    }
)

# A request's Content-Length goes on with its body (streamed, so httpx adds no framing).
_REQUEST_HOP_BY_HOP = HOP_BY_HOP - {b"content-length"}


class Forwarder:
    """The ASGI app that forwards a request and streams the upstream answer back."""

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
        self.config = config
        self.metrics = metrics
        self.transport = transport
        self.client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        cfg = self.config
        limits = httpx.Limits(max_connections=cfg.max_connections)
        self.client = httpx.AsyncClient(
            transport=self.transport or UpstreamTransport(limits=limits),
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout_s,
                read=cfg.read_timeout_s,
                write=cfg.write_timeout_s,
                pool=cfg.connect_timeout_s,
            ),
            limits=limits,
            follow_redirects=False,
            trust_env=False,
            # One client serves every user of the proxy: a cookie it kept from one user's
            # response would go upstream with the next user's requests. Set-Cookie still
            # reaches the client it was meant for; the proxy itself stores nothing.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        try:
            yield
        finally:
            await self.client.aclose()
            self.client = None

    def target(self, scope: Scope) -> httpx.URL:
        """The upstream URL: the configured base joined with the request's raw path."""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        base = self.upstream.raw_path.split(b"?")[0].rstrip(b"/")
        query: bytes = scope.get("query_string", b"")
        return self.upstream.copy_with(raw_path=base + raw_path + (b"?" + query if query else b""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.client is not None, "the proxy app must run inside its lifespan"
        request = Request(scope, receive)
        # Hop-by-hop headers stay here, and so do the ones the client's Connection header
        # names (some upstreams take only sized request bodies: the length goes on).
        dropped = _REQUEST_HOP_BY_HOP
        for value in request.headers.getlist("connection"):
            dropped |= {t.strip().lower().encode("latin-1") for t in value.split(",")}
        headers = [(k, v) for k, v in request.headers.raw if k.lower() not in dropped]
        headers.append((b"accept-encoding", b"identity"))
        request_id = scope.get("leakguard.request_id")
        if request_id:
            headers = [(k, v) for k, v in headers if k.lower() != b"x-request-id"]
            headers.append((b"x-request-id", str(request_id).encode()))
        upstream_request = self.client.build_request(
            request.method, self.target(scope), headers=headers, content=request.stream()
        )
        try:
            response = await self.client.send(upstream_request, stream=True)
        except httpx.TimeoutException as exc:
            await self._error(scope, receive, send, status=504, kind="upstream_timeout", exc=exc)
            return
        except httpx.HTTPError as exc:
            await self._error(
                scope, receive, send, status=502, kind="upstream_unreachable", exc=exc
            )
            return
        try:
            out = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
            if "content-length" in response.headers:
                out.append((b"content-length", response.headers["content-length"].encode()))
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as exc:
            self.metrics.upstream_errors.inc("broke_off")
            logger.warning("upstream broke off mid-response: %s", type(exc).__name__)
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
    guarded = LeakGuardMiddleware(forwarder, guard=guard, sink=sink, metrics=metrics)

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

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            Mount("/", app=guarded),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    return app
