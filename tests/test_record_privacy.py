"""Issue 21, item 8: no client- or upstream-chosen string reaches the redaction log or the
log lines raw. Canaries planted in the path, the model name, the request id, the tenant
header and the upstream's content type, through the real middleware (SQLite log, the
review page) and a real `leakguard serve` process (JSON Lines log, its stderr)."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from leakguard.audit.chain import AuditKey
from leakguard.audit.db import connect
from leakguard.audit.fields import (
    recorded_content_type,
    recorded_model,
    recorded_request_id,
    recorded_route,
)
from leakguard.audit.review import create_app
from leakguard.audit.verify import iter_records, verify
from leakguard.cli import main
from leakguard.config import parse_config
from leakguard.middleware import LeakGuardMiddleware
from leakguard.testing import serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
KEY = "record-privacy-key-0123456789abcdef"
PASSWORD = "correct horse battery"
EMAIL = "jane.canary@example.com"
SSN = "536-90-4399"
TENANT = "tenant-of-jane.canary@example.com"
CANARIES = (EMAIL, SSN, "jane.canary", "536904399", TENANT)
PATH = f"/v1/users/{EMAIL}/chat/completions"
MODEL = f"ft:gpt-4o:{EMAIL}:x1"
HEADERS = {"X-Request-ID": SSN, "X-Tenant-ID": TENANT}
CONFIG: dict[str, Any] = {
    "pii": {"spacy_model": "none"},
    "audit": {"tenant_header": "X-Tenant-ID", "fingerprint_key": KEY},
}


@pytest.mark.parametrize(
    ("path", "recorded"),
    [
        ("/v1/chat/completions", "/v1/chat/completions"),
        (PATH, "/v1/users/<EMAIL_ADDRESS>/chat/completions"),
        ("/v1/users/jane/chat", "/v1/users/<PERSON>/chat"),
        ("/v1/users/jane-doe/chat", "/v1/users/<PERSON>/chat"),
        (f"/v1/accounts/{SSN}/chat", "/v1/accounts/<US_SSN>/chat"),
        ("/v1/call/+1 415 555 0134", "/v1/call/<NUMBER>"),
        ("/v1/users/Jane Doe/x", "/v1/users/<SEGMENT>/x"),
        ("/v1/files/file-abc123/content", "/v1/files/file-abc123/content"),
        (
            "/openai/deployments/gpt-4o-2024-08-06/chat",
            "/openai/deployments/gpt-4o-2024-08-06/chat",
        ),
        ("/v1/users/<EMAIL_ADDRESS>/chat", "/v1/users/<EMAIL_ADDRESS>/chat"),  # idempotent
    ],
)
def test_a_route_keeps_api_words_and_ids_and_replaces_personal_segments(
    path: str, recorded: str
) -> None:
    assert recorded_route(path) == recorded


@pytest.mark.parametrize(
    ("model", "recorded"),
    [
        (MODEL, "ft:gpt-4o:<EMAIL_ADDRESS>:x1"),
        ("ft:gpt-4o-mini:acme:jane-doe:9xYz", "ft:gpt-4o-mini:acme:<PERSON>:9xYz"),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Meta-Llama-3-8B-Instruct"),
        ("gemma:2b", "gemma:2b"),  # one word that is also a given name stays a model
        ("claude-3-opus-20240229", "claude-3-opus-20240229"),
    ],
)
def test_a_model_name_keeps_its_parts_unless_they_are_personal(model: str, recorded: str) -> None:
    assert recorded_model(model) == recorded


@pytest.mark.parametrize(
    ("request_id", "kept"),
    [
        ("123e4567-e89b-12d3-a456-426614174000", True),
        ("3f9a0c1d2b4e5f60a1b2", True),
        ("req-42", True),
        ("chatcmpl-9ABCxyzQ1234", True),
        ("sanitize-0123abcd4567ef89-20261207T101010Z", True),
        (SSN, False),
        ("4111111111111111", False),
        ("+14155550134", False),
        ("jane.doe", False),
        ("Jane", False),
        ("x" * 65, False),
    ],
)
def test_a_request_id_is_kept_when_it_looks_like_one_else_fingerprinted(
    request_id: str, kept: bool
) -> None:
    key = AuditKey(KEY.encode())
    recorded = recorded_request_id(request_id, key)
    if kept:
        assert recorded == request_id
    else:
        assert recorded == f"fp:{key.fingerprint('REQUEST_ID', request_id)}"
        assert recorded_request_id(recorded, key) == recorded  # idempotent


def test_a_content_type_is_kept_when_it_is_made_of_tokens() -> None:
    assert recorded_content_type("text/event-stream") == "text/event-stream"
    assert recorded_content_type(f"application/x-{EMAIL}") == "<CONTENT_TYPE>"
    assert recorded_content_type(f"application/x-{SSN}") == "<CONTENT_TYPE>"
    assert recorded_content_type(None) == "missing"


# -- through the real middleware and the real proxy ----------------------------------------


def canary_upstream() -> Starlette:
    """A model server answering any path; `x-canary-ctype` picks its content type."""

    async def answer(request: Request) -> Response:
        body = await request.json()
        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body.get("model"),  # echoed, as OpenAI-compatible servers do
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}],
        }
        media = request.headers.get("x-canary-ctype", "application/json")
        return Response(json.dumps(reply).encode(), media_type=media)

    return Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])


def send_canaries(base: str) -> list[httpx.Response]:
    """A clean answer on a personal path, model, id and tenant; then an upstream answer
    whose content type holds an SSN (unscannable: a warning line)."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    clean = httpx.post(base + PATH, json=body, headers=HEADERS, timeout=30)
    odd = {**HEADERS, "x-canary-ctype": f"application/x-{SSN}"}
    unscannable = httpx.post(base + PATH, json=body, headers=odd, timeout=30)
    return [clean, unscannable]


def assert_no_canary(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} in {where}"


def assert_records_hold_safe_forms(records: list[dict[str, Any]]) -> None:
    events = [r for r in records if r.get("kind") == "event"]
    assert len(events) == 2
    key = AuditKey(KEY.encode())
    for record in events:
        assert record["route"] == "/v1/users/<EMAIL_ADDRESS>/chat/completions"
        assert record["model"] == "ft:gpt-4o:<EMAIL_ADDRESS>:x1"
        assert record["request_id"] == f"fp:{key.fingerprint('REQUEST_ID', SSN)}"
        assert record["tenant"] == key.fingerprint("TENANT", TENANT)
    # The clean answer passes, or is redacted where the guard scans its echoed model name.
    assert events[0]["action"] in ("pass", "redact")
    assert events[1]["action"] == "block"
    assert events[1]["reason"] == "unscannable:content_type"


def cli_output(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    return out + err


def test_no_canary_reaches_the_sqlite_log_the_review_page_or_the_logs_through_the_middleware(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.db"
    audit = {**CONFIG["audit"], "enabled": True, "sink": "sqlite", "path": str(db)}
    config = parse_config({**CONFIG, "audit": audit})
    app = LeakGuardMiddleware(canary_upstream(), config=config)  # opens the configured log
    caplog.set_level(logging.DEBUG, logger="leakguard")
    with serve_in_thread(app) as url:
        clean, unscannable = send_canaries(url)
    assert (clean.status_code, unscannable.status_code) == (200, 403)
    assert clean.headers["x-request-id"] == SSN  # the client still gets its own id back
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cannot be scanned" in logged  # the line that used to quote id and content type
    assert_no_canary(logged, "the log lines")

    conn = connect(db, create=False)
    rows = conn.execute("SELECT * FROM records").fetchall()
    conn.close()
    assert_no_canary(json.dumps([dict(row) for row in rows]), "the database")
    records = [json.loads(row["body"]) for row in rows]
    assert_records_hold_safe_forms(records)
    assert not verify([db], key=AuditKey(KEY.encode())).problems

    for argv in (
        ("audit", "summary", str(db)),
        ("audit", "export", "--format", "csv", str(db)),
        ("audit", "export", "--format", "jsonl", str(db)),
    ):
        assert_no_canary(cli_output(capsys, *argv), " ".join(argv[:2]))

    review = create_app(db, config=config, key=AuditKey(KEY.encode()), password=PASSWORD)
    with TestClient(review) as client:
        login = {"reviewer": "Rita", "password": PASSWORD}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        pages = [client.get(p) for p in ("/", "/records", "/charts", "/export.csv")]
        event = next(r for r in records if r.get("kind") == "event")
        pages.append(client.get(f"/records/{event['stream']}/{event['seq']}"))
    assert all(page.status_code == 200 for page in pages)
    assert "&lt;EMAIL_ADDRESS&gt;" in pages[1].text  # the route, in its recorded form
    for page in pages:
        assert_no_canary(page.text, f"review page {page.url.path}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """`leakguard serve` in front of the canary upstream, as a user starts it."""
    cfg = tmp_path / "leakguard.yaml"
    cfg.write_text(json.dumps({**CONFIG, "audit": {"tenant_header": "X-Tenant-ID"}}))
    log = tmp_path / "log"
    with serve_in_thread(canary_upstream()) as upstream:
        cli = "import sys; from leakguard.cli import main; sys.exit(main())"
        args = ["serve", "--upstream", upstream, "--config", str(cfg), "--audit-log", str(log)]
        port = _free_port()
        child = subprocess.Popen(
            [sys.executable, "-c", cli, "-v", *args, "--port", str(port)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LEAKGUARD_AUDIT_KEY": KEY},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, child)
            yield base, child, log
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
            child.wait(30)
            if child.stderr is not None:
                child.stderr.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(base: str, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.TransportError:
            assert child.poll() is None, "serve exited"
            time.sleep(0.2)
    raise AssertionError("serve did not start")


def test_no_canary_reaches_the_jsonl_log_the_cli_or_serves_stderr_through_the_proxy(
    served: tuple[str, subprocess.Popen[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, child, log = served
    clean, unscannable = send_canaries(base)
    assert (clean.status_code, unscannable.status_code) == (200, 403)
    child.send_signal(signal.SIGINT)
    child.wait(30)
    assert child.stderr is not None
    err = child.stderr.read()
    assert "cannot be scanned" in err
    assert_no_canary(err, "serve's stderr")
    raw = "".join(p.read_text(encoding="utf-8") for p in sorted(log.glob("*.jsonl")))
    assert_no_canary(raw, "the JSON Lines log")
    assert_records_hold_safe_forms(list(iter_records([log])))
    for argv in (
        ("audit", "summary", str(log)),
        ("audit", "export", "--format", "csv", str(log)),
    ):
        assert_no_canary(cli_output(capsys, *argv), " ".join(argv[:2]))
