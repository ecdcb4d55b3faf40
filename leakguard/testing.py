"""A fake OpenAI-compatible model server, for ``leakguard demo``, the tests and benchmarks.

It answers ``/v1/chat/completions``, ``/v1/completions``, ``/v1/responses`` (streamed and
not) and Ollama's ``/api/chat`` (NDJSON) with text from ``answer(prompt)`` (default: the
prompt itself, so a caller decides what the "model" says). It streams a token (a word and
its trailing space) at a time, ``token_delay_s`` apart. The request header
``x-fake-behaviour`` makes it misbehave on purpose: ``gzip``, ``malformed``, ``truncate``,
``disconnect``, ``invalid-utf8``, ``error``.

Also :func:`serve_in_thread`: run any ASGI app under uvicorn on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["fake_upstream", "serve_in_thread", "tokens"]

CREATED = 1_700_000_000
_TOKEN = re.compile(r"\S+\s*|\s+")


def tokens(text: str) -> list[str]:
    """Split text the way the fake model streams it: a word and its trailing spaces."""
    return _TOKEN.findall(text)


def _prompt(body: dict[str, Any]) -> str:
    if "messages" in body:
        content = body["messages"][-1].get("content", "")
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content)
    value = body.get("input", body.get("prompt", ""))
    if isinstance(value, list):
        last = value[-1] if value else {}
        return str(last.get("content", "")) if isinstance(last, dict) else str(last)
    return str(value)


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


class _Model:
    def __init__(self, answer: Callable[[str], str], token_delay_s: float) -> None:
        self.answer = answer
        self.delay = token_delay_s

    async def paced(self, frames: list[bytes], behaviour: str) -> AsyncIterator[bytes]:
        for i, frame in enumerate(frames):
            if i and self.delay:
                await asyncio.sleep(self.delay)
            if behaviour == "disconnect" and i == len(frames) // 2:
                raise ConnectionResetError("fake upstream hangs up mid-stream")
            yield frame

    # -- response bodies ---------------------------------------------------------------
    def chat(self, body: dict[str, Any], text: str) -> tuple[list[bytes], Any]:
        n = int(body.get("n") or 1)
        tools = bool(body.get("tools"))
        model = body.get("model", "fake-model")
        head = {"id": "chatcmpl-fake", "created": CREATED, "model": model}
        args = json.dumps({"query": text}) if tools else None
        message: dict[str, Any] = {"role": "assistant", "content": None if tools else text}
        if tools:
            function = {"name": "lookup", "arguments": args}
            message["tool_calls"] = [{"id": "call_0", "type": "function", "function": function}]
        whole = head | {
            "object": "chat.completion",
            "choices": [
                {"index": i, "message": message, "finish_reason": "tool_calls" if tools else "stop"}
                for i in range(n)
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

        def chunk(i: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse(head | {"object": "chat.completion.chunk", "choices": [choice]})

        frames = [chunk(i, {"role": "assistant", "content": ""}) for i in range(n)]
        for piece in tokens(args if args is not None else text):
            for i in range(n):
                if tools:
                    delta = {"index": 0, "function": {"arguments": piece}}
                    frames.append(chunk(i, {"tool_calls": [delta]}))
                else:
                    frames.append(chunk(i, {"content": piece}))
        frames += [chunk(i, {}, "tool_calls" if tools else "stop") for i in range(n)]
        frames.append(b"data: [DONE]\n\n")
        return frames, whole

    def completions(self, body: dict[str, Any], text: str) -> tuple[list[bytes], Any]:
        head = {"id": "cmpl-fake", "object": "text_completion", "created": CREATED}
        head["model"] = body.get("model", "fake-model")

        def choice(piece: str, finish: str | None) -> dict[str, Any]:
            return {"index": 0, "text": piece, "logprobs": None, "finish_reason": finish}

        whole = head | {"choices": [choice(text, "stop")]}
        frames = [_sse(head | {"choices": [choice(p, None)]}) for p in tokens(text)]
        frames += [_sse(head | {"choices": [choice("", "stop")]}), b"data: [DONE]\n\n"]
        return frames, whole

    def responses(self, body: dict[str, Any], text: str) -> tuple[list[bytes], Any]:
        model = body.get("model", "fake-model")
        part = {"type": "output_text", "text": text, "annotations": []}
        item = {
            "id": "msg_fake",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }

        def response(status: str, output: list[Any]) -> dict[str, Any]:
            return {
                "id": "resp_fake",
                "object": "response",
                "created_at": CREATED,
                "status": status,
                "model": model,
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }

        seq = iter(range(1_000_000))

        def event(kind: str, **fields: Any) -> bytes:
            obj = {"type": kind, "sequence_number": next(seq)} | fields
            return b"event: " + kind.encode() + b"\n" + _sse(obj)

        at = {"item_id": "msg_fake", "output_index": 0, "content_index": 0}
        empty_item = item | {"status": "in_progress", "content": []}
        frames = [
            event("response.created", response=response("in_progress", [])),
            event("response.in_progress", response=response("in_progress", [])),
            event("response.output_item.added", output_index=0, item=empty_item),
            event("response.content_part.added", **at, part=part | {"text": ""}),
        ]
        frames += [
            event("response.output_text.delta", **at, delta=p, logprobs=[]) for p in tokens(text)
        ]
        frames += [
            event("response.output_text.done", **at, text=text, logprobs=[]),
            event("response.content_part.done", **at, part=part),
            event("response.output_item.done", output_index=0, item=item),
            event("response.completed", response=response("completed", [item])),
        ]
        return frames, response("completed", [item])

    def ollama(self, body: dict[str, Any], text: str) -> tuple[list[bytes], Any]:
        model = body.get("model", "fake-model")

        def line(content: str, done: bool) -> dict[str, Any]:
            obj: dict[str, Any] = {
                "model": model,
                "created_at": "2024-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": content},
                "done": done,
            }
            if done:
                obj |= {"done_reason": "stop", "eval_count": 1}
            return obj

        frames = [json.dumps(line(p, False)).encode() + b"\n" for p in tokens(text)]
        frames.append(json.dumps(line("", True)).encode() + b"\n")
        return frames, line(text, True)


def fake_upstream(
    answer: Callable[[str], str] | None = None, *, token_delay_s: float = 0.0
) -> Starlette:
    """The fake model server app (see the module docstring)."""
    model = _Model(answer or (lambda prompt: prompt), token_delay_s)
    builders = {
        "/v1/chat/completions": model.chat,
        "/v1/completions": model.completions,
        "/v1/responses": model.responses,
        "/api/chat": model.ollama,
    }

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        behaviour = request.headers.get("x-fake-behaviour", "")
        if behaviour == "error":
            error = {"message": "fake upstream failure", "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=500)
        frames, whole = builders[request.url.path](body, model.answer(_prompt(body)))
        ollama = request.url.path.startswith("/api/")
        streamed = body.get("stream", ollama)
        media = "application/x-ndjson" if ollama else "text/event-stream"
        if not streamed:
            frames, media = [json.dumps(whole).encode()], "application/json"
        if behaviour == "malformed":
            frames.insert(len(frames) // 2, b"data: {not json\n\n" if not ollama else b"{oops\n")
        elif behaviour == "truncate":
            half = len(frames) // 2
            frames = [*frames[:half], frames[half][:7]]  # ends inside a frame
        elif behaviour == "invalid-utf8":
            frames.insert(len(frames) // 2, b'data: {"x": "\xff\xfe"}\n\n')
        headers = {}
        if behaviour == "gzip":
            frames, headers = [gzip.compress(b"".join(frames))], {"content-encoding": "gzip"}
        if not streamed and behaviour not in ("disconnect", "truncate"):
            return Response(b"".join(frames), media_type=media, headers=headers)
        return StreamingResponse(model.paced(frames, behaviour), media_type=media, headers=headers)

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    routes = [Route(path, endpoint, methods=["POST"]) for path in builders]
    return Starlette(routes=[*routes, Route("/v1/models", models)])


@contextlib.contextmanager
def serve_in_thread(app: Any, *, log_level: str = "warning") -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port) in a daemon thread; yields
    its base URL and stops the server on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=log_level, lifespan="auto", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
