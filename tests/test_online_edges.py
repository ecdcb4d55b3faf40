"""Issue 20's framing, encoding and path edges: through the real proxy (uvicorn on
127.0.0.1, a raw-byte upstream, a raw-socket client) where the item is about the proxy,
with raw ASGI messages where it is about the middleware."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from asgi_kit import (
    SSE,
    Message,
    chat_body,
    chat_chunk,
    chat_stream,
    drive,
    fixed_app,
    sse,
    sse_datas,
)

from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online.paths import AmbiguousPath, remove_dot_segments
from leakguard.proxy import build_app
from leakguard.testing import serve_in_thread, tokens

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}
EMAIL_TEXT = "Sure, you can write to jane.doe@example.com whenever you like, she answers fast."
EMAIL_REDACTED = "Sure, you can write to <EMAIL_ADDRESS> whenever you like, she answers fast."


class RawUpstream:
    """A socket server that records each request line and answers with canned bytes."""

    def __init__(self) -> None:
        self.answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
        self.paths: list[str] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline().decode("latin-1")
                length = 0
                while (header := self.rfile.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                self.rfile.read(length)
                outer.paths.append(line.split(" ")[1])
                self.wfile.write(outer.answer)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, head: list[str], body: bytes) -> None:
        lines = [*head, f"content-length: {len(body)}", "connection: close"]
        self.answer = ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def raw_request(url: str, path: str, body: bytes = b"{}") -> tuple[int, bytes]:
    """One request with the path exactly as given (clients such as httpx would
    normalise it first); the status and the body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        sock.sendall(head.encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


@pytest.fixture(scope="module")
def upstream() -> Iterator[RawUpstream]:
    raw = RawUpstream()
    yield raw
    raw.server.shutdown()
    raw.server.server_close()


def proxy_for(make_guard: Callable[..., Guard], upstream: str, **extra: Any) -> Any:
    config = parse_config({**PATTERNS, "proxy": {"upstream": upstream}, **extra})
    return serve_in_thread(build_app(config, guard=make_guard(PATTERNS)))


CHAT_JSON = json.dumps(chat_body(EMAIL_TEXT)).encode()


def test_stacked_content_encoding_lines_are_one_list(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """Item 9: 'deflate' then 'identity' on two lines is deflate: inflated, scanned."""
    head = ["HTTP/1.1 200 OK", "content-type: application/json"]
    head += ["content-encoding: deflate", "content-encoding: identity"]
    upstream.respond(head, zlib.compress(CHAT_JSON))
    with proxy_for(make_guard, upstream.url) as url:
        status, body = raw_request(url, "/v1/chat/completions")
    assert status == 200
    assert json.loads(body)["choices"][0]["message"]["content"] == EMAIL_REDACTED


def test_partial_content_is_blocked(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """Item 12: a 206 body is a cut piece; a value at its edge cannot be recognised."""
    upstream.respond(["HTTP/1.1 206 Partial Content", "content-type: text/plain"], b"jane.doe@exa")
    with proxy_for(make_guard, upstream.url) as url:
        status, body = raw_request(url, "/v1/files/1/content")
    assert status == 403
    assert json.loads(body)["error"]["code"] == "unscannable:partial"


def test_dot_segments_cannot_reach_a_guarded_route_unguarded(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """Item 14: routes match the path the upstream gets: '/internal/../v1/...' is
    '/v1/...', guarded."""
    upstream.respond(["HTTP/1.1 200 OK", "content-type: application/json"], CHAT_JSON)
    routes = {"online": {"routes": [{"path": "/internal/", "guard": False}]}}
    with proxy_for(make_guard, upstream.url, **routes) as url:
        status, body = raw_request(url, "/internal/../v1/chat/completions")
        assert upstream.paths[-1] == "/v1/chat/completions"
        assert json.loads(body)["choices"][0]["message"]["content"] == EMAIL_REDACTED
        status, body = raw_request(url, "/internal/%2e%2e/v1/chat/completions")
    assert status == 400
    assert json.loads(body)["error"]["code"] == "ambiguous_path"
    assert upstream.paths[-1] == "/v1/chat/completions"  # the refused one never left


def test_the_upstream_base_path_is_a_boundary(
    upstream: RawUpstream, make_guard: Callable[..., Guard]
) -> None:
    """Item 15: with upstream '/tenant-a', '/./../tenant-b' stays under '/tenant-a'."""
    upstream.respond(["HTTP/1.1 200 OK", "content-type: application/json"], CHAT_JSON)
    with proxy_for(make_guard, upstream.url + "/tenant-a") as url:
        raw_request(url, "/./../tenant-b")
    assert upstream.paths[-1] == "/tenant-a/tenant-b"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (b"/a/b/../c", b"/a/c"),
        (b"/../../x", b"/x"),
        (b"/a/./b/.", b"/a/b/"),
        (b"/a/..", b"/"),
        (b"/v1/chat", b"/v1/chat"),
        (b"/a/...", b"/a/..."),
    ],
)
def test_dot_segments_are_removed_as_rfc_3986_says(raw: bytes, clean: bytes) -> None:
    assert remove_dot_segments(raw) == clean


@pytest.mark.parametrize("raw", [b"/a/%2e%2e/b", b"/a/.%2E/b", b"/%2e/b"])
def test_percent_encoded_dot_segments_are_refused(raw: bytes) -> None:
    with pytest.raises(AmbiguousPath):
        remove_dot_segments(raw)


# -- middleware edges (raw ASGI) -------------------------------------------------------


@pytest.fixture
def guard(make_guard: Callable[..., Guard]) -> Guard:
    return make_guard(PATTERNS)


def guarded(guard: Guard, app: Any, **online: Any) -> LeakGuardMiddleware:
    if not online:
        return LeakGuardMiddleware(app, guard=guard)
    config = parse_config({**PATTERNS, "online": online})
    return LeakGuardMiddleware(app, guard=Guard(config, detectors=guard.detectors))


@pytest.mark.parametrize("first", [b"data: \n\n", b"data: null\n\n"])
def test_an_empty_or_null_first_event_does_not_make_a_json_stream_text(
    guard: Guard, first: bytes
) -> None:
    """Item 11: the stream's kind is decided by the first event that says something;
    the e-mail written with a JSON escape is found in the decoded text."""
    escaped = chat_stream(tokens(EMAIL_TEXT)).replace(b"@", b"\\u0040")
    rec = anyio.run(drive, guarded(guard, fixed_app([first, escaped], SSE)), None)
    datas = [d for d in sse_datas(rec.body) if d not in ("", "null", "[DONE]")]
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for d in datas)
    assert text == EMAIL_REDACTED
    assert b"jane" not in rec.body


def test_channels_per_stream_are_bounded(guard: Guard) -> None:
    """Item 18: past online.max_channels the stream takes the unscannable action."""
    chunks = [sse(chat_chunk(i, content="hello there ")) for i in range(5)]
    app = guarded(guard, fixed_app([*chunks, b"data: [DONE]\n\n"], SSE), max_channels=3)
    rec = anyio.run(drive, app, None)
    datas = sse_datas(rec.body)
    assert datas[-1] == "[DONE]"
    assert json.loads(datas[-2])["error"]["code"] == "unscannable:channels"
    assert len(datas) == 5  # three choices, the error, [DONE]


def ws_scope() -> dict[str, Any]:
    return {"type": "websocket", "path": "/v1/realtime", "raw_path": b"/v1/realtime", "headers": []}


def run_websocket(app: Any) -> list[Message]:
    sent: list[Message] = []
    inbox = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"}]

    async def receive() -> Message:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    anyio.run(app, ws_scope(), receive, send)
    return sent


async def echo_ws(scope: Any, receive: Any, send: Any) -> None:
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    message = await receive()
    await send({"type": "websocket.send", "text": "jane.doe@example.com " + message["text"]})


def test_websocket_is_refused_by_default_and_passes_when_configured(guard: Guard) -> None:
    """Item 13: WebSocket messages are not scanned, so the handshake is refused."""
    assert run_websocket(guarded(guard, echo_ws)) == [{"type": "websocket.close", "code": 1008}]
    passed = run_websocket(guarded(guard, echo_ws, websocket="pass"))
    assert passed[0] == {"type": "websocket.accept"}


def test_asgi_trailers_are_dropped_and_not_announced(guard: Guard) -> None:
    """Item 13: trailers would arrive after the body was released: the start message no
    longer announces them and the trailers message is not forwarded."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200, "trailers": True}
        await send({**start, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hello", "more_body": False})
        headers = [(b"x-note", b"jane.doe@example.com")]
        await send({"type": "http.response.trailers", "headers": headers, "more_trailers": False})

    rec = anyio.run(drive, guarded(guard, app), None)
    assert "trailers" not in rec.messages[0]
    assert [m["type"] for m in rec.messages] == ["http.response.start", "http.response.body"]


def test_sse_ids_event_names_and_comments_are_scanned(guard: Guard) -> None:
    """Item 7: an id can carry a personal value, a comment anything: neither leaves raw."""
    stream = chat_stream(tokens("Nothing personal here, just some words."))
    first = b": SSN is 536-90-4512\nid: jane.doe@example.com\nevent: message\n" + sse(
        chat_chunk(0, content="Hi ")
    )
    rec = anyio.run(drive, guarded(guard, fixed_app([first, stream], SSE)), None)
    assert b"jane" not in rec.body
    assert b"536-90-4512" not in rec.body
    assert b"id: <EMAIL_ADDRESS>" in rec.body
    assert b"event: message" in rec.body
    assert rec.body.startswith(b": SSN is <US_SSN>\n")
