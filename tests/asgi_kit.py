"""Test kit for the online guard: fake upstream bodies, raw ASGI driving and recording."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

SSE = [(b"content-type", b"text/event-stream")]
JSON = [(b"content-type", b"application/json")]
NDJSON = [(b"content-type", b"application/x-ndjson")]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


def split_text(text: str, sizes: Iterable[int]) -> list[str]:
    """``text`` cut into pieces of the given sizes (the last piece takes the rest)."""
    pieces, at = [], 0
    for size in sizes:
        if at >= len(text):
            break
        pieces.append(text[at : at + size])
        at += size
    if at < len(text):
        pieces.append(text[at:])
    return pieces


def chat_chunk(
    index: int = 0,
    *,
    content: str | None = None,
    finish: str | None = None,
    role: str | None = None,
    tool: tuple[int, str] | None = None,
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if tool is not None:
        call: dict[str, Any] = {"index": tool[0], "function": {"arguments": tool[1]}}
        if tool[1] == "":
            call |= {"id": f"call_{tool[0]}", "type": "function"}
            call["function"]["name"] = "lookup"
        delta["tool_calls"] = [call]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "fake-model",
        "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def sse(obj: Any, *, event: str | None = None, id: str | None = None) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj)
    head = (f"event: {event}\n" if event else "") + (f"id: {id}\n" if id else "")
    return f"{head}data: {data}\n\n".encode()


def chat_stream(pieces: Sequence[str], *, n: int = 1) -> bytes:
    """A whole chat.completion.chunk SSE body: each choice streams the same pieces."""
    out = [sse(chat_chunk(i, role="assistant", content="")) for i in range(n)]
    for piece in pieces:
        out += [sse(chat_chunk(i, content=piece)) for i in range(n)]
    out += [sse(chat_chunk(i, finish="stop")) for i in range(n)]
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def chat_body(*contents: str, tool_args: str | None = None) -> dict[str, Any]:
    choices = []
    for i, content in enumerate(contents):
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_args is not None:
            message["tool_calls"] = [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": tool_args},
                }
            ]
        choices.append({"index": i, "message": message, "finish_reason": "stop"})
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "fake-model",
        "choices": choices,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def fixed_app(
    chunks: Sequence[bytes],
    headers: Sequence[tuple[bytes, bytes]],
    *,
    status: int = 200,
    gate: Any = None,
    gate_after: int = 1,
) -> ASGIApp:
    """An app that answers with ``chunks``; with ``gate`` (an anyio.Event) it waits on it
    after sending ``gate_after`` chunks."""

    async def app(
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        for i, chunk in enumerate(chunks):
            if gate is not None and i == gate_after:
                await gate.wait()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


@dataclass
class Recording:
    messages: list[Message] = field(default_factory=list)

    @property
    def start(self) -> Message:
        return next(m for m in self.messages if m["type"] == "http.response.start")

    @property
    def status(self) -> int:
        return int(self.start["status"])

    def header(self, name: str) -> str | None:
        for key, value in self.start["headers"]:
            if key.decode().lower() == name:
                return str(value.decode())
        return None

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )

    @property
    def complete(self) -> bool:
        last = self.messages[-1] if self.messages else {}
        return last.get("type") == "http.response.body" and not last.get("more_body", False)


def http_scope(
    path: str = "/v1/chat/completions",
    *,
    method: str = "POST",
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def drive(
    app: ASGIApp,
    scope: Scope | None = None,
    *,
    request: bytes = b"",
    recording: Recording | None = None,
) -> Recording:
    """Call an ASGI app with one request body and record every message it sends."""
    rec = recording if recording is not None else Recording()
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": request, "more_body": False}
        await anyio.sleep_forever()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        rec.messages.append(message)

    await app(scope if scope is not None else http_scope(), receive, send)
    return rec


def sse_datas(body: bytes) -> list[str]:
    """The data of each SSE event of a body (LF framing, as the middleware writes it)."""
    out = []
    for block in body.decode().split("\n\n"):
        lines = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
        if lines:
            out.append("\n".join(lines))
    return out


def chat_text(body: bytes, index: int = 0) -> str:
    """The content a client assembles from a chat.completion.chunk SSE body."""
    text = []
    for data in sse_datas(body):
        if data == "[DONE]":
            continue
        obj = json.loads(data)
        for choice in obj.get("choices", []):
            if choice["index"] == index:
                text.append(choice["delta"].get("content") or "")
    return "".join(text)
