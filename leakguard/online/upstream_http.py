"""The proxy's upstream connections: HTTP/1.1 keep-alive to one origin, cheap per request.

httpx's stock transport goes through httpcore: its ``AsyncConnectionPool`` walks every
pooled connection on every request and on every release, polling each idle socket
(encode/httpcore#1035), and each connection runs h11 (a pure-Python HTTP parser) over anyio
streams. In front of a model server that was most of the proxy's own CPU per request:
0.77 ms per 1 KB chat answer in the transport alone. Over an asyncio protocol with
httptools (llhttp, the C parser uvicorn uses) the transport costs 0.29 ms, of which the
HTTP exchange itself is ~0.08 ms and the rest httpx's request and response objects
(measured with ``bench/bench_proxy.py``'s request against its fake upstream). The proxy
talks to one origin over HTTP/1.1, so this module does just that:

* :class:`UpstreamTransport` is an ``httpx.AsyncBaseTransport``: the proxy keeps httpx's
  client, request and response types, streaming (``aiter_raw``) and exception classes;
* a stack of idle connections, most recently used on top (its socket is the likeliest to
  still be open); a connection the server closed (or sent bytes on while idle) or that sat
  idle past the keep-alive expiry is dropped when taken; idle ones past the expiry are
  closed as others are released, oldest first;
* ``max_connections`` slots; waiting for one counts against the ``pool`` time-out
  (``httpx.PoolTimeout``);
* a connection goes back on the stack when its response was read to the end and both
  sides allow keep-alive; an abandoned, failed or cancelled response closes it.

On the wire: request bodies with a ``Content-Length`` go as they are, others chunked;
interim ``1xx`` responses are skipped (their headers with them); a chunked body's trailer
fields are dropped, never added to the headers; a body without a length ends when the
server closes; a response to ``HEAD`` has no body (and its connection is not reused).
Time-outs are httpx's: ``connect`` (``ConnectTimeout``), ``write`` per blocked write
(``WriteTimeout``) and ``read`` per wait for the next bytes (``ReadTimeout``). An
unreachable server is a ``ConnectError``; a server that hangs up before its response is
complete, or sends what is not HTTP/1.1, a ``RemoteProtocolError``; a connection reset a
``ReadError``.

Only plain HTTP/1.1 to the configured origin (http or https), on asyncio (uvicorn's loop,
uvloop included): no HTTP/2, no proxies from the environment.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
import typing
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

__all__ = ["UpstreamPool", "UpstreamTransport"]

# Response bytes buffered per connection before reading from the socket pauses (the rest
# waits in the kernel and the upstream slows down): 256 concurrent 8 KB streams through an
# overloaded proxy peaked at +81 MB RSS with 256 KiB here, +51 MB with 32 KiB (httpcore,
# which reads only when asked: +61 MB).
_HIGH_WATER = 32 * 1024
_LOW_WATER = 8 * 1024
_TIMED_OUT = object()
_NO_BODY_STATUS = frozenset({204, 304})


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: an asyncio protocol feeding llhttp (httptools), one
    exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False  # the connection is gone (either side closed it)
        self.busy = False  # an exchange is on: bytes from the server are expected
        self.broken = False  # never reuse (protocol error, unexpected bytes, HEAD)
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Any] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._write_paused = False
        self._reading_paused = False
        self._begin()

    def _begin(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.headers_done = False
        self.complete = False
        self.error: httpx.TransportError | None = None
        self.head = False
        self.until_close = False
        self._interim = False

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they have its methods.
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.complete:
            # Bytes nobody asked for (after a complete response, or while idle).
            self.broken = True
            self._close_transport()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP/1.1 response: {exc}"))
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the upstream switched protocols"))

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy and not self.complete and self.error is None:
            if self.headers_done and self.until_close and exc is None:
                self.complete = True  # a body without a length ends with the connection
            elif exc is not None:
                self.error = httpx.ReadError(f"the upstream connection broke: {exc!r}")
            else:
                self.error = httpx.RemoteProtocolError(
                    "the upstream closed the connection before its response was complete"
                )
        self._wake()
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.headers_done:
            self.broken = True  # a second response to one request: never reuse this one
            return
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.headers_done:
            # A chunked body's trailer fields: not headers of this response (they come
            # after it started), never promoted to them; dropped.
            return
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._interim = True  # 100 Continue, 103 Early Hints: the answer follows
            return
        if self.headers_done:
            return
        self.status = status
        self.headers_done = True
        names = {name.lower() for name, _ in self.headers}
        self.until_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and status not in _NO_BODY_STATUS
        )
        if self.head:
            self.complete = True  # no body follows a HEAD response, whatever it declares
            self.broken = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.chunks.append(bytes(body))
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self.complete = True
        if not self.parser.should_keep_alive():
            self.broken = True
        self._wake()

    # -- the exchange --------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: httpx.TransportError) -> None:
        if self.error is None:
            self.error = error
        self.broken = True
        self._close_transport()
        self._wake()

    def _close_transport(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def close(self) -> None:
        self.broken = True
        self._close_transport()

    def reusable(self, expiry: float | None) -> bool:
        if self.closed or self.broken or self.transport is None or self.transport.is_closing():
            return False
        return expiry is None or time.monotonic() - self.idle_since < expiry

    async def _settled(self, future: asyncio.Future[Any], timeout: float | None) -> bool:
        """Await ``future`` (the protocol resolves it); False if ``timeout`` passed first."""
        timer = None if timeout is None else self.loop.call_later(timeout, _expire, future)
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()
        return future.result() is not _TIMED_OUT

    async def _wait(self, timeout: float | None) -> bool:
        """Until the protocol wakes us; False if ``timeout`` passed first."""
        waiter = self._waiter = self.loop.create_future()
        try:
            return await self._settled(waiter, timeout)
        finally:
            self._waiter = None

    async def write(self, data: bytes, timeout: float | None) -> None:
        if self.closed or self.transport is None:
            raise httpx.WriteError("the upstream closed the connection")
        self.transport.write(data)
        if self._write_paused and not self.closed:
            self._drained = self.loop.create_future()
            if not await self._settled(self._drained, timeout):
                raise httpx.WriteTimeout("writing to the upstream timed out")

    async def send(self, request: httpx.Request, timeouts: dict[str, Any]) -> None:
        """Write ``request`` and wait for the head of the response."""
        self._begin()
        self.busy = True
        self.head = request.method == "HEAD"
        head, chunked = _request_head(request)
        write_timeout = timeouts.get("write")
        pending: bytes | None = head
        async for chunk in request.stream:  # type: ignore[union-attr]
            if not chunk:
                continue
            data = b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk
            if pending is not None:
                data, pending = pending + data, None
            if self._answered():
                break  # the server answered (or failed) before taking the whole body
            await self.write(data, write_timeout)
        if not self._answered():
            tail = b"0\r\n\r\n" if chunked else b""
            if pending is not None or tail:
                await self.write((pending or b"") + tail, write_timeout)
        read_timeout = timeouts.get("read")
        while not self.headers_done:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise httpx.RemoteProtocolError(
                    "the upstream closed the connection without sending a response"
                )
            if not await self._wait(read_timeout):
                raise httpx.ReadTimeout("the upstream sent no response in time")

    def _answered(self) -> bool:
        """The exchange is over on the server's side (answered, failed or hung up)."""
        return self.closed or self.complete or self.error is not None

    async def body(self, timeout: float | None) -> AsyncIterator[bytes]:
        """The response body as it arrives."""
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self._reading_paused and self.buffered < _LOW_WATER and self.transport:
                    self._reading_paused = False
                    self.transport.resume_reading()
                yield chunk
                continue
            if self.complete:
                return
            if self.error is not None:
                raise self.error
            if not await self._wait(timeout):
                raise httpx.ReadTimeout("the upstream sent nothing more in time")


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(_TIMED_OUT)


def _request_head(request: httpx.Request) -> tuple[bytes, bool]:
    """The request line and headers; whether the body goes chunked."""
    chunked = False
    lines = [b"%b %b HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value:
            raise httpx.LocalProtocolError("a header contains a line break")
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            chunked = value.lower() == b"chunked"
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n", chunked


class UpstreamPool:
    """Keep-alive HTTP/1.1 connections to one origin (see the module docstring)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 256,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = 5.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._verify = verify
        self._max_idle = (
            max_connections
            if max_keepalive_connections is None
            else min(max_keepalive_connections, max_connections)
        )
        self._keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)  # binds to a loop on first wait
        # The right end is the most recently used connection.
        self._idle: collections.deque[_Connection] = collections.deque()
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # loading the CA certificates costs ~50 ms: when needed
            self._ssl_context = httpx.create_ssl_context(verify=self._verify, trust_env=False)
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the upstream connection pool is closed")
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        slots = self._slots
        if slots.locked():
            try:
                await asyncio.wait_for(slots.acquire(), timeouts.get("pool"))
            except TimeoutError:
                raise httpx.PoolTimeout(
                    "no upstream connection came free in time", request=request
                ) from None
        else:
            await slots.acquire()
        try:
            connection = await self._exchange(request, timeouts)
        except BaseException:
            slots.release()
            raise
        return httpx.Response(
            status_code=connection.status,
            headers=connection.headers,
            stream=_Body(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

    async def _exchange(self, request: httpx.Request, timeouts: dict[str, Any]) -> _Connection:
        connection = self._take_idle()
        if connection is None:
            connection = await self._connect(request, timeouts.get("connect"))
        try:
            await connection.send(request, timeouts)
        except httpx.TransportError as exc:
            connection.close()
            exc.request = request
            raise
        except BaseException:
            connection.close()
            raise
        return connection

    async def _connect(self, request: httpx.Request, timeout: float | None) -> _Connection:
        url = request.url
        scheme, host = url.scheme, url.host
        port = url.port or (443 if scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        tls = self._tls() if scheme == "https" else None
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                ),
                timeout,
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                "connecting to the upstream timed out", request=request
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(
                f"cannot connect to the upstream: {exc}", request=request
            ) from None
        return connection

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable(self._keepalive_expiry):
                return connection
            connection.close()
        return None

    def _release(self, connection: _Connection) -> None:
        try:
            connection.busy = False
            if not self._closed and connection.complete and connection.reusable(None):
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
                while len(self._idle) > self._max_idle:
                    self._idle.popleft().close()
            else:
                connection.close()
            if self._keepalive_expiry is not None:
                oldest = time.monotonic() - self._keepalive_expiry
                while self._idle and self._idle[0].idle_since < oldest:
                    self._idle.popleft().close()
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()


class _Body(httpx.AsyncByteStream):
    """A response body that hands its connection back to the pool once, when closed."""

    def __init__(self, pool: UpstreamPool, connection: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._connection = connection
        self._timeout = timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._connection.body(self._timeout):
                yield chunk
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._pool._release(self._connection)


class UpstreamTransport(httpx.AsyncBaseTransport):
    """An httpx transport over :class:`UpstreamPool` (HTTP/1.1, no proxies from the env)."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True) -> None:
        self._pool = UpstreamPool(
            verify=verify,
            max_connections=limits.max_connections or 1_000_000,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        await self._pool.aclose()
