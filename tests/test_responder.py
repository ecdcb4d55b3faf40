"""The per-response responder and its body handlers (leakguard.online.responder/bodies)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from asgi_kit import JSON, drive, fixed_app

from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online import bodies

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}


@pytest.fixture
def passing(make_guard: Callable[..., Guard]) -> Guard:
    base = make_guard(PATTERNS)
    config = parse_config(
        {**PATTERNS, "online": {"on_unscannable": "pass", "max_body_bytes": 1024}}
    )
    return Guard(config, detectors=base.detectors)


@pytest.mark.parametrize(
    ("ctype", "handler"),
    [
        ("text/event-stream", bodies.SSEBody),
        ("application/x-ndjson", bodies.NDJSONBody),
        ("application/json", bodies.JSONBody),
        ("application/problem+json", bodies.JSONBody),
        ("text/plain", bodies.TextBody),
        ("image/png", None),
    ],
)
def test_each_content_type_gets_one_handler(ctype: str, handler: type[bodies.Body] | None) -> None:
    assert bodies.for_content_type(ctype) is handler


def test_a_pass_decided_at_the_end_of_a_json_body_sends_the_whole_body(passing: Guard) -> None:
    """on_unscannable: pass with an unknown schema, decided only once the body is complete."""
    body = json.dumps({"x": 1}).encode()
    app = LeakGuardMiddleware(fixed_app([body[:3], body[3:]], JSON), guard=passing)
    rec = anyio.run(drive, app, None)
    assert rec.status == 200
    assert rec.body == body
    assert rec.complete


def test_a_pass_decided_mid_body_keeps_every_byte(passing: Guard) -> None:
    """An over-size JSON body with on_unscannable: pass goes on whole, the chunk that
    crossed the bound included."""
    body = json.dumps({"text": "y" * 3000}).encode()
    chunks = [body[i : i + 400] for i in range(0, len(body), 400)]
    app = LeakGuardMiddleware(fixed_app(chunks, JSON), guard=passing)
    rec = anyio.run(drive, app, None)
    assert rec.body == body
    assert rec.complete
