"""The proxy's upstream pool against a raw HTTP/1.1 server that counts its connections."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leakguard.online import upstream_http as upstream_pool
from leakguard.online.upstream_http import UpstreamPool, UpstreamTransport


class RawServer:
    """HTTP/1.1 on 127.0.0.1 in a thread. Paths: ``/`` a small body; ``/big`` 1 MB;
    ``/close`` answers with ``Connection: close``; ``/hold`` answers once ``release`` is set;
    ``/hangup`` answers, then closes the connection a moment later (idle keep-alive lost);
    ``/echo`` answers with the request body (sent with a length or chunked);
    ``/chunked`` a chunked body; ``/eof`` a body without a length, ended by closing;
    ``/continue`` a ``100 Continue`` before the answer; ``/garbage`` not HTTP;
    ``/truncated`` closes after 3 of 10 announced bytes; ``/silent`` answers after 0.6 s;
    ``/noread`` reads no request body and hangs up after 1 s."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.accepted = 0
        self.open = 0
        self.most_open = 0
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        self.release = asyncio.Event()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, sock=sock, ssl=tls)
        )
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                path = lines[0].split()[1]
                length = next(
                    (int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length")),
                    0,
                )
                if path == "/noread":  # takes no body: the client's writes back up
                    await asyncio.sleep(1.0)
                    break
                received = await reader.readexactly(length)
                if "transfer-encoding: chunked" in head.decode().lower():
                    received = b""
                    while size := int((await reader.readuntil(b"\r\n"))[:-2], 16):
                        received += (await reader.readexactly(size + 2))[:-2]
                    await reader.readuntil(b"\r\n")
                self.requests += 1
                if path == "/hold":
                    await self.release.wait()
                special = {
                    "/chunked": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                    b"2\r\nok\r\n4\r\n-two\r\n0\r\n\r\n",
                    "/eof": b"HTTP/1.1 200 OK\r\n\r\nok-eof",
                    "/continue": b"HTTP/1.1 100 Continue\r\n\r\n"
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                    "/garbage": b"NOT HTTP AT ALL\r\n\r\n",
                    "/truncated": b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
                }
                if path == "/silent":
                    await asyncio.sleep(0.6)
                if path in special:
                    writer.write(special[path])
                    await writer.drain()
                    if path in ("/eof", "/garbage", "/truncated"):
                        break
                    continue
                if path == "/echo":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(received))
                    writer.write(received)
                    await writer.drain()
                    continue
                body = b"x" * (1 << 20) if path == "/big" else b"ok"
                extra = b"connection: close\r\n" if path == "/close" else b""
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n" % (len(body), extra) + body
                )
                await writer.drain()
                if path == "/close":
                    break
                if path == "/hangup":
                    await asyncio.sleep(0.05)
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    def set_release(self) -> None:
        self.loop.call_soon_threadsafe(self.release.set)

    def stop(self) -> None:
        async def shut() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


RUNNERS: dict[str, Callable[[Coroutine[Any, Any, Any]], Any]] = {"asyncio": asyncio.run}
try:
    import uvloop

    RUNNERS["uvloop"] = uvloop.run  # what `leakguard serve` runs on
except ImportError:  # pragma: no cover - uvloop is not built for this platform
    pass
_runner: list[Callable[[Coroutine[Any, Any, Any]], Any]] = [asyncio.run]


@pytest.fixture(autouse=True, params=sorted(RUNNERS))
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test runs on asyncio's own loop and on uvloop."""
    _runner[0] = RUNNERS[request.param]
    yield request.param
    _runner[0] = asyncio.run


@pytest.fixture
def server() -> Iterator[RawServer]:
    raw = RawServer()
    yield raw
    raw.stop()


def run(
    body: Callable[[httpx.AsyncClient, UpstreamPool], Awaitable[Any]],
    *,
    max_connections: int = 8,
    keepalive_expiry: float = 5.0,
    pool_timeout: float = 5.0,
) -> Any:
    async def main() -> Any:
        limits = httpx.Limits(max_connections=max_connections, keepalive_expiry=keepalive_expiry)
        transport = UpstreamTransport(limits=limits)
        pool = transport._pool
        assert isinstance(pool, UpstreamPool)
        timeout = httpx.Timeout(5.0, pool=pool_timeout)
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            return await body(client, pool)

    return _runner[0](main())


def test_sequential_requests_reuse_one_connection(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        for _ in range(20):
            response = await client.get(server.url + "/")
            assert response.text == "ok"
        assert pool.idle_connections == 1

    run(body)
    assert (server.accepted, server.requests) == (1, 20)


def test_concurrency_is_capped_and_every_request_answered(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> list[str]:
        async def one() -> str:
            return (await client.post(server.url + "/", content=b"q" * 100)).text

        return await asyncio.gather(*(one() for _ in range(200)))

    assert run(body, max_connections=3) == ["ok"] * 200
    assert server.most_open <= 3
    assert server.accepted <= 3 * 2  # connections are kept, not one per request


def test_waiting_past_the_pool_timeout_raises_pool_timeout(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        held = asyncio.create_task(client.get(server.url + "/hold"))
        await asyncio.sleep(0.2)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(server.url + "/")
        server.set_release()
        assert (await held).text == "ok"
        # The slot the timed-out request never had is not lost: this one gets it.
        assert (await client.get(server.url + "/")).text == "ok"

    run(body, max_connections=1, pool_timeout=0.2)


def test_a_response_closed_unread_frees_its_slot_and_is_not_reused(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        for _ in range(3):
            async with client.stream("GET", server.url + "/big") as response:
                async for _chunk in response.aiter_raw():
                    break  # abandon the rest of the megabyte
            assert pool.idle_connections == 0
        assert (await client.get(server.url + "/")).text == "ok"
        assert pool.idle_connections == 1

    run(body, max_connections=1)
    assert server.accepted == 4


def test_a_cancelled_request_frees_its_slot(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        held = asyncio.create_task(client.get(server.url + "/hold"))
        await asyncio.sleep(0.2)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        server.set_release()
        assert (await client.get(server.url + "/")).text == "ok"

    run(body, max_connections=1, pool_timeout=2.0)


def test_connection_close_and_server_hangups_are_not_reused(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        assert (await client.get(server.url + "/close")).text == "ok"
        assert pool.idle_connections == 0
        assert (await client.get(server.url + "/hangup")).text == "ok"
        assert pool.idle_connections == 1
        await asyncio.sleep(0.3)  # the server has closed that idle connection by now
        assert (await client.get(server.url + "/")).text == "ok"

    run(body)
    assert server.accepted == 3


def test_idle_connections_past_the_keepalive_expiry_are_closed(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        await asyncio.gather(*(client.get(server.url + "/") for _ in range(4)))
        assert pool.idle_connections >= 2
        await asyncio.sleep(0.4)
        assert (await client.get(server.url + "/")).text == "ok"
        assert pool.idle_connections == 1

    run(body, keepalive_expiry=0.2)


def test_an_unreachable_upstream_is_a_connect_error_and_frees_the_slot() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # nothing listens there

    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        for _ in range(3):
            with pytest.raises(httpx.ConnectError):
                await client.get(url + "/")

    run(body, max_connections=1, pool_timeout=0.5)


def test_a_closed_pool_refuses_requests(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        assert (await client.get(server.url + "/")).text == "ok"
        await pool.aclose()
        assert pool.idle_connections == 0
        with pytest.raises(RuntimeError, match="closed"):
            await client.get(server.url + "/")

    run(body)


def test_request_bodies_go_with_a_length_or_chunked(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> list[bytes]:
        async def parts() -> AsyncIterator[bytes]:
            for part in (b"stream", b"", b"ed ", b"body"):
                yield part

        sized = await client.post(server.url + "/echo", content=b"q" * 5000)
        streamed = await client.post(server.url + "/echo", content=parts())
        empty = await client.post(server.url + "/echo", content=b"")
        return [sized.content, streamed.content, empty.content]

    assert run(body) == [b"q" * 5000, b"streamed body", b""]


def test_chunked_interim_and_close_delimited_answers(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> list[str]:
        texts = [(await client.get(server.url + p)).text for p in ("/chunked", "/continue")]
        assert pool.idle_connections == 1  # both kept the connection
        texts.append((await client.get(server.url + "/eof")).text)
        assert pool.idle_connections == 0  # a body ended by closing ends its connection
        return texts

    assert run(body) == ["ok-two", "ok", "ok-eof"]


def test_broken_answers_are_transport_errors_and_free_their_slot(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
            await client.get(server.url + "/garbage")
        with pytest.raises(httpx.RemoteProtocolError, match="before its response was complete"):
            await client.get(server.url + "/truncated")
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url + "/silent", timeout=httpx.Timeout(5.0, read=0.3))
        assert pool.idle_connections == 0
        assert (await client.get(server.url + "/")).text == "ok"  # the one slot is free
        await asyncio.sleep(0.5)  # the server's /silent handler has finished by now

    run(body, max_connections=1, pool_timeout=0.5)


def test_a_head_answer_has_no_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
        )
        await send({"type": "http.response.body", "body": b""})

    async def main() -> None:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_level="warning")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(transport=UpstreamTransport(limits=limits)) as client:
            response = await asyncio.wait_for(client.head(url), 5)
            assert (response.status_code, response.headers["content-length"]) == (200, "5")
            assert response.content == b""
        server.should_exit = True
        await serving

    _runner[0](main())


def test_a_body_larger_than_the_buffer_arrives_whole_and_keeps_its_connection(
    server: RawServer,
) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        async with client.stream("GET", server.url + "/big") as response:
            await asyncio.sleep(0.2)  # the server has sent far more than the buffer holds
            # httpx wraps the transport's body stream (BoundAsyncStream._stream).
            connection = response.stream._stream._connection  # type: ignore[union-attr]
            assert connection.buffered <= upstream_pool._HIGH_WATER + 256 * 1024
            size = sum([len(chunk) async for chunk in response.aiter_raw()])
        assert size == 1 << 20
        assert pool.idle_connections == 1
        assert (await client.get(server.url + "/")).text == "ok"

    run(body)
    assert server.accepted == 1


TLS_FILES = Path(__file__).parent / "data"  # a self-signed certificate for 127.0.0.1 (tests only)


def test_an_https_upstream_is_verified_and_kept_alive() -> None:
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(TLS_FILES / "upstream-tls.crt", TLS_FILES / "upstream-tls.key")
    trusted = ssl.create_default_context(cafile=str(TLS_FILES / "upstream-tls.crt"))
    server = RawServer(tls=served)
    try:

        async def main() -> None:
            limits = httpx.Limits(max_connections=2)
            async with httpx.AsyncClient(
                transport=UpstreamTransport(limits=limits, verify=trusted)
            ) as client:
                for _ in range(3):
                    assert (await client.get(server.url + "/")).text == "ok"
            # The system's certificate authorities do not know this certificate.
            async with httpx.AsyncClient(transport=UpstreamTransport(limits=limits)) as client:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(server.url + "/")

        _runner[0](main())
        assert (server.accepted, server.requests) == (1, 3)  # one connection for all three
    finally:
        server.stop()


def test_a_body_the_upstream_does_not_take_is_a_write_timeout(server: RawServer) -> None:
    async def body(client: httpx.AsyncClient, pool: UpstreamPool) -> None:
        # 64 MB: more than loopback socket buffers take (tcp_wmem + tcp_rmem maxima here:
        # 4 + 32 MB), so the transport's buffer fills and writing waits.
        timeout = httpx.Timeout(5.0, write=0.3)
        with pytest.raises(httpx.WriteTimeout):
            await client.post(server.url + "/noread", content=b"x" * (64 << 20), timeout=timeout)
        assert pool.idle_connections == 0
        await asyncio.sleep(1.0)  # the server's handler has hung up by now

    run(body)
