"""The middleware's CPU per streamed response, per API shape (in process, pattern-only).

    .venv/bin/python bench/bench_shapes.py [--runs 15] [--length 2000] [--ner]

The fake model server's app (``leakguard.testing.fake_upstream``) behind
``LeakGuardMiddleware``, driven with raw ASGI messages, answering with the same ~2,000
characters (with PII, ``texts.assistant_text``) as a chat stream, a Responses stream, an
Ollama NDJSON stream and a whole chat body; pattern-only PII (``--ner``: with the
default spaCy model). Process CPU per response (the scans run in
worker threads), median over ``--runs``. The script only uses public entry points, so an
A/B of two trees is the same command with another ``PYTHONPATH``, interleaved::

    for i in 1 2 3; do for t in /work/main /work/wt/shapes; do
        PYTHONPATH=$t python bench/bench_shapes.py; done; done
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
from texts import assistant_text

import leakguard
from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.testing import fake_upstream

CASES = {
    "chat stream": ("/v1/chat/completions", True),
    "responses stream": ("/v1/responses", True),
    "ollama ndjson": ("/api/chat", True),
    "chat whole": ("/v1/chat/completions", False),
}


async def one(app: Any, path: str, text: str, stream: bool) -> int:
    body = {"model": "m", "stream": stream, "messages": [{"role": "user", "content": text}]}
    if path == "/v1/responses":
        body = {"model": "m", "stream": stream, "input": text}
    request = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    size = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": request, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal size
        size += len(message.get("body", b""))

    await app(scope, receive, send)
    return size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--ner", action="store_true")
    args = parser.parse_args()
    guard = Guard(parse_config({} if args.ner else {"pii": {"spacy_model": "none"}}))
    app = LeakGuardMiddleware(fake_upstream(), guard=guard)
    texts = [assistant_text(args.length, seed=seed) for seed in range(args.runs)]
    print(f"leakguard from {Path(leakguard.__file__).parent.parent}")
    for name, (path, stream) in CASES.items():
        anyio.run(one, app, path, texts[0], stream)  # warm up
        times = []
        for text in texts:
            start = time.process_time()
            anyio.run(one, app, path, text, stream)
            times.append(time.process_time() - start)
        print(f"  {name:18} median {statistics.median(times) * 1e3:7.2f} ms CPU per response")


if __name__ == "__main__":
    main()
