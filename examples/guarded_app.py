"""A Starlette app whose own chat endpoint is guarded by LeakGuardMiddleware.

    .venv/bin/python examples/guarded_app.py            # serves on http://127.0.0.1:8000
    curl -N http://127.0.0.1:8000/v1/chat/completions -d '{"stream": true}'

The endpoint stands in for your model: it streams an OpenAI-style answer that contains
an e-mail address and a phone number. The middleware redacts them while the answer
streams; ``/health`` is left unguarded by a route rule. Works the same with FastAPI
(``app.add_middleware(LeakGuardMiddleware, guard=guard)``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from leakguard import Guard
from leakguard.config import parse_config
from leakguard.middleware import LeakGuardMiddleware

ANSWER = (
    "I found the customer record. Please write to jane.doe@example.com or call "
    "+1 415 555 0134 before Friday, and mention ticket 4471."
)


def chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    obj = {
        "id": "chatcmpl-example",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "example",
        "choices": [choice],
    }
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def tokens() -> AsyncIterator[bytes]:
    for word in ANSWER.split(" "):
        yield chunk(word + " ")
        await asyncio.sleep(0.01)  # a model producing tokens
    yield chunk(None, "stop")
    yield b"data: [DONE]\n\n"


async def chat(request: Request) -> Response:
    body = await request.json() if await request.body() else {}
    if body.get("stream"):
        return StreamingResponse(tokens(), media_type="text/event-stream")
    message = {"role": "assistant", "content": ANSWER}
    return JSONResponse(
        {
            "id": "chatcmpl-example",
            "object": "chat.completion",
            "created": 0,
            "model": "example",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
    )


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


config = parse_config(
    {
        "pii": {"spacy_model": "none"},  # pattern recognizers only: starts fast
        "online": {"routes": [{"path": "/health", "guard": False}]},
    }
)
guard = Guard(config)  # built once: loading models is the slow part
app = LeakGuardMiddleware(
    Starlette(
        routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/health", health)]
    ),
    guard=guard,
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
