"""Issue 21, items 7, 11, 13: what the record and the log say about online blocks, through
the real middleware and a real `leakguard serve` process (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import json
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

from leakguard.audit.sinks import open_sink
from leakguard.audit.verify import iter_records
from leakguard.config import parse_config
from leakguard.exceptions import ConfigError
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online.metrics import Metrics
from leakguard.testing import fake_upstream, serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
KEY = "online-record-key-0123456789abcdef"
SSN = "536-90-4399"
PROMPT = f"Repeat: my SSN is {SSN}, thanks."
CONFIG: dict[str, Any] = {
    "pii": {"spacy_model": "none"},
    "policy": {"actions": {"US_SSN": "block"}},
}


def chat(base: str, *, stream: bool) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
    return httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30)


@pytest.mark.parametrize("stream", [False, True])
def test_an_online_block_records_the_findings_that_caused_it(tmp_path: Path, stream: bool) -> None:
    """Item 7, through the real middleware: the record, /metrics and the review page's
    data hold the US_SSN finding of a blocked response, as they would for a redaction."""
    config = parse_config(
        {**CONFIG, "audit": {"enabled": True, "path": str(tmp_path), "fingerprint_key": KEY}}
    )
    sink, metrics = open_sink(config), Metrics()
    app = LeakGuardMiddleware(fake_upstream(), config=config, sink=sink, metrics=metrics)
    with serve_in_thread(app) as url:
        reply = chat(url, stream=stream)
    sink.close()
    assert SSN not in reply.text
    (record,) = [r for r in iter_records([tmp_path]) if r.get("kind") == "event"]
    assert record["action"] == "block"
    assert record["reason"] == "action:US_SSN"
    assert [f["label"] for f in record["findings"]] == ["US_SSN"]
    assert record["findings"][0]["fingerprint"]
    assert SSN not in json.dumps(record)
    assert 'leakguard_findings_total{label="US_SSN",action="block"} 1' in metrics.render()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """`leakguard serve` as a user starts it, in front of the fake model server."""
    cfg = tmp_path / "leakguard.yaml"
    cfg.write_text(json.dumps(CONFIG), encoding="utf-8")
    log = tmp_path / "log"
    port = _free_port()
    with serve_in_thread(fake_upstream()) as upstream:
        cli = "import sys; from leakguard.cli import main; sys.exit(main())"
        args = ["serve", "--upstream", upstream, "--config", str(cfg), "--audit-log", str(log)]
        child = subprocess.Popen(
            [sys.executable, "-c", cli, *args, "--port", str(port)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LEAKGUARD_AUDIT_KEY": KEY},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    assert child.poll() is None, "serve exited"
                    time.sleep(0.2)
            yield base, child, log
        finally:
            child.send_signal(signal.SIGINT)
            child.wait(30)
            if child.stderr is not None:
                child.stderr.close()


def test_serve_says_what_it_runs_logs_one_line_per_block_and_records_proxy_traffic(
    served: tuple[str, subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    """Items 11 and 13: the start-up line, one line per block without text, source
    "proxy", and one Date and Server header each."""
    base, child, log = served
    reply = chat(base, stream=False)
    assert reply.status_code == 403
    names = [name.lower() for name, _ in reply.headers.multi_items()]
    assert names.count("date") == 1
    assert names.count("server") <= 1
    clean = httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hello there"}]},
        timeout=30,
    )
    assert clean.status_code == 200
    names = [name.lower() for name, _ in clean.headers.multi_items()]
    assert (names.count("date"), names.count("server")) == (1, 1)
    streamed = chat(base, stream=True)
    assert SSN not in streamed.text
    child.send_signal(signal.SIGINT)
    child.wait(30)
    assert child.stderr is not None
    err = child.stderr.read()
    first = err.splitlines()[0]
    assert first.startswith(f"leakguard serve: config {tmp_path / 'leakguard.yaml'}, policy ")
    assert "upstream http://127.0.0.1:" in first
    assert f"redaction log {log} (jsonl), 1 worker, listening on {base}" in first
    blocks = [line for line in err.splitlines() if "blocked a" in line]
    assert len(blocks) == 2
    assert all("action:US_SSN (findings: US_SSN)" in line for line in blocks)
    assert SSN not in err
    assert "/v1/chat" not in "".join(blocks)
    events = [r for r in iter_records([log]) if r.get("kind") == "event"]
    assert [(r["source"], r["action"]) for r in events] == [
        ("proxy", "block"),
        ("proxy", "pass"),
        ("proxy", "block"),
    ]
    blocked = [r for r in events if r["action"] == "block"]
    assert all([f["label"] for f in r["findings"]] == ["US_SSN"] for r in blocked)


@pytest.mark.parametrize(
    ("upstream", "message"),
    [
        ("localhost:8000", "must start with http:// or https://"),
        ("ftp://host", "must start with http:// or https://"),
        ("http://host/x?y=1", "must be a base URL"),
    ],
)
def test_a_bad_upstream_says_what_it_must_look_like(upstream: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"proxy": {"upstream": upstream}})
    assert message in str(info.value)
    assert "^https?" not in str(info.value)


def _app_with_framework_routes() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    async def docs(request: Request) -> HTMLResponse:
        return HTMLResponse("<html>Swagger UI</html>")

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse({"openapi": "3.1.0", "paths": {}})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/docs", docs),
        Route("/openapi.json", openapi),
        Route("/health", health),
        *fake_upstream().routes,  # the model routes under /v1/
    ]
    return Starlette(routes=routes)


@pytest.mark.parametrize("rule", [False, True])
def test_guarding_only_the_model_routes_is_one_documented_rule(rule: bool) -> None:
    """Item 12: by default every route fails closed (framework routes too); the documented
    rule leaves them to the app while the model routes stay guarded."""
    routes = [{"path": "/v1/"}, {"path": "/", "guard": False}] if rule else []
    config = parse_config({**CONFIG, "online": {"routes": routes}})
    app = _app_with_framework_routes()
    with serve_in_thread(LeakGuardMiddleware(app, config=config)) as url:
        statuses = [httpx.get(url + p, timeout=10).status_code for p in ("/docs", "/health")]
        statuses.append(httpx.get(url + "/openapi.json", timeout=10).status_code)
        reply = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": PROMPT}]},
            timeout=30,
        )
    assert statuses == ([200, 200, 200] if rule else [403, 403, 403])
    assert reply.status_code == 403  # the SSN: blocked either way
    assert SSN not in reply.text


def test_the_middleware_opens_and_seals_the_configured_log(tmp_path: Path) -> None:
    """Item 10: `audit.enabled` in the config is enough; lifespan shutdown seals it."""
    from leakguard.audit.chain import AuditKey
    from leakguard.audit.verify import verify

    config = parse_config(
        {**CONFIG, "audit": {"enabled": True, "path": str(tmp_path), "fingerprint_key": KEY}}
    )
    with serve_in_thread(LeakGuardMiddleware(fake_upstream(), config=config)) as url:
        assert chat(url, stream=False).status_code == 403
    events = [r for r in iter_records([tmp_path]) if r.get("kind") == "event"]
    assert [(r["source"], r["action"]) for r in events] == [("middleware", "block")]
    report = verify([tmp_path], key=AuditKey(KEY.encode()))
    assert report.ok, report.problems
    assert all(s.sealed for s in report.streams)


def test_leakguard_metrics_offers_a_ready_route_for_apps(tmp_path: Path) -> None:
    """Item 10: the /metrics route an app adds shows the middleware's and the log's numbers."""
    from starlette.applications import Starlette

    from leakguard.online.metrics import Metrics as AppMetrics
    from leakguard.online.metrics import metrics_route

    config = parse_config(
        {
            **CONFIG,
            "audit": {"enabled": True, "path": str(tmp_path), "fingerprint_key": KEY},
            "online": {"routes": [{"path": "/metrics", "guard": False}]},
        }
    )
    metrics = AppMetrics()
    app = Starlette(routes=[*fake_upstream().routes, metrics_route(metrics)])
    with serve_in_thread(LeakGuardMiddleware(app, config=config, metrics=metrics)) as url:
        assert chat(url, stream=False).status_code == 403
        page = httpx.get(url + "/metrics", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'leakguard_findings_total{label="US_SSN",action="block"} 1' in page.text
    assert "leakguard_audit" in page.text
    assert SSN not in page.text
