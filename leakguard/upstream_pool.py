"""The proxy's upstream connections: HTTP/1.1 keep-alive to one origin, O(1) per request.

httpcore's ``AsyncConnectionPool`` (what ``httpx.AsyncClient`` uses) walks every pooled
connection on every request and on every release, and polls each idle socket while it does
(encode/httpcore#1035 and pydantic/httpx2#974/#1169 describe it). In front of a model
server with tens or hundreds of streams open that bookkeeping costs more CPU than the
request itself. The proxy talks to one origin over HTTP/1.1 only, so it needs much less:

* a stack of idle connections, most recently used on top (its socket is the likeliest to
  still be open); one is checked (keep-alive expiry, server hang-up) when it is taken;
* a semaphore for ``max_connections``; waiting for it counts against the ``pool`` time-out
  (``httpcore.PoolTimeout``, which httpx maps to ``httpx.PoolTimeout``);
* a connection goes back on the stack when its response is closed after being read to the
  end, and is closed otherwise (an abandoned, failed or cancelled response); idle ones past
  the keep-alive expiry are closed as others are released, oldest first.

Only plain HTTP/1.1 to the configured origin (http or https): no HTTP/2, no proxies.

Everything on the wire (h11, TLS, time-outs, connect retries) is still httpcore's
``AsyncHTTPConnection``; :class:`UpstreamTransport` is httpx's own transport with this
pool underneath, so the client, exceptions and streaming are unchanged.
"""

from __future__ import annotations

import collections
import ssl
import time
from collections.abc import AsyncIterator
from types import TracebackType

import anyio
import httpcore
import httpx

__all__ = ["UpstreamPool", "UpstreamTransport"]


class UpstreamPool:
    """Keep-alive HTTP/1.1 connections to one origin (see the module docstring)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 256,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = 5.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_idle = (
            max_connections
            if max_keepalive_connections is None
            else min(max_keepalive_connections, max_connections)
        )
        self._keepalive_expiry = keepalive_expiry
        self._slots = anyio.Semaphore(max_connections)
        # (connection, monotonic time it went idle); the right end is the most recent.
        self._idle: collections.deque[tuple[httpcore.AsyncHTTPConnection, float]] = (
            collections.deque()
        )
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._closed:
            raise RuntimeError("the upstream connection pool is closed")
        pool_timeout = request.extensions.get("timeout", {}).get("pool")
        with anyio.move_on_after(pool_timeout) as waited:
            await self._slots.acquire()
        if waited.cancelled_caught:
            raise httpcore.PoolTimeout("no upstream connection came free in time")
        try:
            connection, response = await self._send(request)
        except BaseException:
            self._slots.release()
            raise
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_ReleasingStream(self, connection, response),
            extensions=response.extensions,
        )

    async def _send(
        self, request: httpcore.Request
    ) -> tuple[httpcore.AsyncHTTPConnection, httpcore.Response]:
        while True:
            connection = await self._take_idle()
            reused = connection is not None
            if connection is None:
                connection = httpcore.AsyncHTTPConnection(
                    origin=request.url.origin,
                    ssl_context=self._ssl_context,
                    keepalive_expiry=self._keepalive_expiry,
                )
            try:
                return connection, await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                # A kept-alive connection that could not take the request (its server
                # hung up as it was taken): the request was not sent; use a new one.
                await _close(connection)
                if not reused:
                    raise
            except BaseException:
                await _close(connection)
                raise

    async def _take_idle(self) -> httpcore.AsyncHTTPConnection | None:
        while self._idle:
            connection, _ = self._idle.pop()
            if connection.is_available() and not connection.has_expired():
                return connection
            await _close(connection)
        return None

    async def _release(self, connection: httpcore.AsyncHTTPConnection) -> None:
        # Closing a response read to the end leaves its connection idle (available);
        # one closed early, or broken, is closed by httpcore.
        try:
            if not self._closed and connection.is_available():
                self._idle.append((connection, time.monotonic()))
                while len(self._idle) > self._max_idle:
                    await _close(self._idle.popleft()[0])
            else:
                await _close(connection)
            if self._keepalive_expiry is not None:
                oldest = time.monotonic() - self._keepalive_expiry
                while self._idle and self._idle[0][1] < oldest:
                    await _close(self._idle.popleft()[0])
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            await _close(self._idle.pop()[0])

    async def __aenter__(self) -> UpstreamPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()


class _ReleasingStream:
    """A response body that hands its connection back to the pool once, when closed."""

    def __init__(
        self,
        pool: UpstreamPool,
        connection: httpcore.AsyncHTTPConnection,
        response: httpcore.Response,
    ) -> None:
        self._pool = pool
        self._connection = connection
        self._stream = response.stream
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:  # type: ignore[union-attr]
                yield chunk
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        with anyio.CancelScope(shield=True):
            try:
                if hasattr(self._stream, "aclose"):
                    await self._stream.aclose()
            finally:
                await self._pool._release(self._connection)


async def _close(connection: httpcore.AsyncHTTPConnection) -> None:
    with anyio.CancelScope(shield=True):
        await connection.aclose()


class UpstreamTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over :class:`UpstreamPool` (HTTP/1.1, no proxies from the env)."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True) -> None:
        # Not calling AsyncHTTPTransport.__init__: it would build (and load the CA
        # certificates for) an httpcore pool that is never used; ``_pool`` is its only state.
        self._pool = UpstreamPool(  # type: ignore[assignment]
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections or 1_000_000,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )
