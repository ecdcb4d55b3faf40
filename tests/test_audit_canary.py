"""Planted canaries through the real proxy (uvicorn on 127.0.0.1, the openai SDK, streamed
and not): the values reach neither the log files, the SQLite database, ``/metrics`` nor any
log message or error, while every response is recorded and the log verifies."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from faker import Faker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from leakguard.audit.chain import AuditKey
from leakguard.audit.sinks import open_sink
from leakguard.audit.verify import iter_records, verify
from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.online.metrics import Metrics
from leakguard.proxy import build_app

KEY = "canary-audit-key-0123456789abcdef"
TENANT = "tenant-canary-7f3e"


def planted(n: int) -> list[tuple[str, list[str]]]:
    fake = Faker("en_US")
    fake.seed_instance(20261126)
    out = []
    for i in range(n):
        email = f"{fake.user_name()}.{i}@{fake.domain_name()}"
        phone = f"+1 212 555 {2000 + i:04d}"
        card = ("4111 1111 1111 1111", "5555 5555 5555 4444")[i % 2]
        text = f"Sure. Reach {email} or {phone}; the card on file is {card}. Anything else?"
        out.append((text, [email, phone]))
    return out


CASES = planted(6)
VALUES = sorted({v for _, values in CASES for v in values} | {TENANT})


def upstream_app() -> Starlette:
    """An OpenAI-compatible upstream that answers with the planted text of each request."""

    async def chat(request: Request) -> Response:
        body = await request.json()
        index = int(body["messages"][-1]["content"])
        text = CASES[index][0]
        if not body.get("stream"):
            return Response(
                json.dumps(
                    {
                        "id": f"c{index}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                ),
                media_type="application/json",
            )

        async def events() -> AsyncIterator[bytes]:
            for start in range(0, len(text), 7):  # values cut across events
                chunk = {
                    "id": f"c{index}",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": text[start : start + 7]},
                            "finish_reason": None,
                        }
                    ],
                }
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def broken(request: Request) -> Response:
        # Malformed JSON with a value inside: the error path must not echo it.
        return Response('{"choices": [' + CASES[0][1][0], media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/broken", broken, methods=["POST"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PII = {"spacy_model": "none", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"]}


@pytest.fixture(params=["jsonl", "sqlite"])
def proxy(
    request: pytest.FixtureRequest, tmp_path: Path, make_guard: Callable[..., Guard]
) -> Iterator[tuple[str, Path, Any]]:
    path = tmp_path / ("log" if request.param == "jsonl" else "audit.db")
    config = parse_config(
        {
            "pii": PII,
            "proxy": {"upstream": "http://upstream.test"},
            "audit": {
                "enabled": True,
                "sink": request.param,
                "path": str(path),
                "tenant_header": "X-Tenant-ID",
                "fingerprint_key": KEY,
            },
        }
    )
    sink = open_sink(config)
    metrics = Metrics()
    metrics.add_collector(sink.prometheus)
    app = build_app(
        config,
        # This config (tenant header included), with detectors loaded once per session.
        guard=Guard(config, detectors=make_guard({"pii": PII}).detectors),
        sink=sink,
        metrics=metrics,
        transport=httpx.ASGITransport(app=upstream_app()),
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="debug"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", path, sink
    server.should_exit = True
    thread.join(15)


def test_planted_values_reach_no_log_file_database_metric_or_message(
    proxy: tuple[str, Path, Any], caplog: pytest.LogCaptureFixture
) -> None:
    base, path, sink = proxy
    caplog.set_level(logging.DEBUG)
    client = openai.OpenAI(
        base_url=f"{base}/v1",
        api_key="sk-test",
        default_headers={"X-Tenant-ID": TENANT},
        max_retries=0,
    )
    delivered = []
    for i in range(len(CASES)):
        messages: Any = [{"role": "user", "content": str(i)}]
        if i % 2:
            stream = client.chat.completions.create(model="m", messages=messages, stream=True)
            delivered.append("".join(c.choices[0].delta.content or "" for c in stream))
        else:
            reply = client.chat.completions.create(model="m", messages=messages)
            delivered.append(reply.choices[0].message.content or "")
    for text in delivered:
        assert "<EMAIL_ADDRESS>" in text
    broken = httpx.post(f"{base}/v1/broken", json={}, headers={"X-Tenant-ID": TENANT})
    metrics = httpx.get(f"{base}/metrics").text
    sink.close()  # what the lifespan does at shutdown; idempotent

    haystacks = {"metrics": metrics, "broken response": broken.text}
    haystacks |= {f"response {i}": text for i, text in enumerate(delivered)}
    haystacks["log messages"] = "\n".join(r.getMessage() for r in caplog.records)
    haystacks["exceptions"] = "\n".join(str(r.exc_info) for r in caplog.records if r.exc_info)
    files = list(path.rglob("*") if path.is_dir() else path.parent.glob("audit.db*"))
    for file in files:
        haystacks[str(file)] = file.read_bytes().decode("utf-8", "replace")
    for where, text in haystacks.items():
        for value in VALUES:
            assert value not in text, f"{value!r} leaked into {where}"
            assert value.lower() not in text.lower(), f"{value!r} leaked into {where}"

    report = verify([path], key=AuditKey(KEY.encode()))
    assert report.ok, report.problems
    events = [r for r in iter_records([path]) if r["kind"] == "event"]
    assert len(events) == len(CASES) + 1
    assert {e["tenant"] for e in events} == {AuditKey(KEY.encode()).fingerprint("TENANT", TENANT)}
    assert {e["route"] for e in events} == {"/v1/chat/completions", "/v1/broken"}
    assert sorted(e["action"] for e in events).count("block") == 1  # the malformed body
    assert 'leakguard_audit_sink_records_total{sink="' in metrics
