"""End to end with real parts: uvicorn on 127.0.0.1 running the proxy in front of the fake
upstream, clients are the official ``openai`` SDK and httpx."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.proxy import Forwarder, build_app
from leakguard.testing import fake_upstream, serve_in_thread

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}
TEXT = (
    "Of course. Send the contract to jane.doe@example.com or call +1 415 555 0134, "
    "and mention order 1234 so they can find it quickly."
)
REDACTED = (
    "Of course. Send the contract to <EMAIL_ADDRESS> or call <PHONE_NUMBER>, "
    "and mention order 1234 so they can find it quickly."
)
PLANTED = ("jane.doe", "555 0134")


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve_in_thread(fake_upstream()) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(upstream: str, make_guard: Callable[..., Guard]) -> Iterator[str]:
    config = parse_config({**PATTERNS, "proxy": {"upstream": upstream}})
    with serve_in_thread(build_app(config, guard=make_guard(PATTERNS))) as url:
        yield url


@pytest.fixture(scope="module")
def client(proxy: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=proxy + "/v1", api_key="sk-test", max_retries=0) as sdk:
        yield sdk


def ask(text: str = TEXT) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_openai_sdk_chat_gets_redacted_content(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=ask())  # type: ignore[arg-type]
    assert reply.choices[0].message.content == REDACTED


def test_openai_sdk_streamed_chat_with_several_choices(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=ask(),  # type: ignore[arg-type]
        stream=True,
        n=2,
    )
    texts = {0: "", 1: ""}
    for chunk in stream:
        assert isinstance(chunk, ChatCompletionChunk)
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == {0: REDACTED, 1: REDACTED}


def test_openai_sdk_streamed_tool_call_arguments_parse_as_json(client: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    stream = client.chat.completions.create(model="m", messages=ask(), tools=tools, stream=True)  # type: ignore[arg-type]
    arguments = ""
    for chunk in stream:
        assert isinstance(chunk, ChatCompletionChunk)
        for call in chunk.choices[0].delta.tool_calls or []:
            arguments += call.function.arguments or "" if call.function else ""
    assert json.loads(arguments) == {"query": REDACTED}


def test_openai_sdk_responses_api_whole_and_streamed(client: openai.OpenAI) -> None:
    assert client.responses.create(model="m", input=TEXT).output_text == REDACTED
    deltas, completed = "", ""
    for event in client.responses.create(model="m", input=TEXT, stream=True):
        if event.type == "response.output_text.delta":
            deltas += event.delta
        elif event.type == "response.completed":
            completed = event.response.output_text
    assert deltas == completed == REDACTED
    with client.responses.stream(model="m", input=TEXT) as stream:
        final = stream.get_final_response()
    assert final.output_text == REDACTED


def test_openai_sdk_completions_streamed(client: openai.OpenAI) -> None:
    stream = client.completions.create(model="m", prompt=TEXT, stream=True)
    assert "".join(c.choices[0].text for c in stream) == REDACTED


def test_openai_sdk_raises_the_error_event_of_a_stream_blocked_midway(
    client: openai.OpenAI,
) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=ask(),  # type: ignore[arg-type]
        stream=True,
        extra_headers={"x-fake-behaviour": "malformed"},
    )
    with pytest.raises(openai.APIError, match="could not be checked"):
        for _ in stream:
            pass


def test_httpx_ollama_ndjson_stream(proxy: str) -> None:
    lines = []
    with httpx.stream("POST", proxy + "/api/chat", json={"model": "m", "messages": ask()}) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert "".join(line["message"]["content"] for line in lines) == REDACTED
    assert lines[-1]["done"] is True


@pytest.mark.parametrize(
    ("behaviour", "outcome"),
    [
        ("malformed", "unscannable:malformed"),
        ("invalid-utf8", "unscannable:encoding"),
        ("truncate", "truncated"),
        ("disconnect", "truncated"),
    ],
)
def test_broken_upstream_streams_end_with_their_documented_error(
    proxy: str, behaviour: str, outcome: str
) -> None:
    body = {"model": "m", "messages": ask(), "stream": True}
    r = httpx.post(
        proxy + "/v1/chat/completions", json=body, headers={"x-fake-behaviour": behaviour}
    )
    assert r.status_code == 200
    events = [b.removeprefix("data: ") for b in r.text.split("\n\n") if b.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == outcome
    for value in PLANTED:
        assert value not in r.text


def test_gzip_upstream_bodies_are_decoded_and_redacted(proxy: str) -> None:
    for stream in (False, True):
        body = {"model": "m", "messages": ask(), "stream": stream}
        r = httpx.post(
            proxy + "/v1/chat/completions", json=body, headers={"x-fake-behaviour": "gzip"}
        )
        assert r.status_code == 200
        assert "content-encoding" not in r.headers
        assert "jane.doe" not in r.text
        assert "<EMAIL_ADDRESS>" in r.text


def test_upstream_error_status_passes_with_its_body_scanned(proxy: str) -> None:
    body = {"model": "m", "messages": ask()}
    r = httpx.post(proxy + "/v1/chat/completions", json=body, headers={"x-fake-behaviour": "error"})
    assert r.status_code == 500
    assert r.json()["error"]["message"] == "fake upstream failure"


def test_unreachable_upstream_is_a_502_json_error(make_guard: Callable[..., Guard]) -> None:
    config = parse_config({**PATTERNS, "proxy": {"upstream": "http://127.0.0.1:9"}})
    with serve_in_thread(build_app(config, guard=make_guard(PATTERNS))) as url:
        r = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": ask()})
    assert r.status_code == 502
    assert r.json()["error"]["type"] == "upstream_unreachable"


def test_slow_upstream_is_a_504_json_error(make_guard: Callable[..., Guard]) -> None:
    with serve_in_thread(fake_upstream(token_delay_s=0.5)) as upstream:
        config = parse_config({**PATTERNS, "proxy": {"upstream": upstream, "read_timeout_s": 0.2}})
        with serve_in_thread(build_app(config, guard=make_guard(PATTERNS))) as url:
            slow = {"model": "m", "messages": ask(), "stream": True}
            r = httpx.post(url + "/v1/chat/completions", json=slow)
    # Headers came in time; the body stalled: the stream ends marked truncated.
    assert r.status_code == 200
    assert '"code":"truncated"' in r.text


def test_healthz_and_metrics_without_any_detected_value(proxy: str, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="m", messages=ask())  # type: ignore[arg-type]
    assert httpx.get(proxy + "/healthz").json() == {"status": "ok"}
    page = httpx.get(proxy + "/metrics")
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'leakguard_findings_total{label="EMAIL_ADDRESS",action="redact"}' in page.text
    assert "leakguard_holdback_delay_seconds_bucket" in page.text
    for value in PLANTED:
        assert value not in page.text


def test_request_id_goes_upstream_and_back(proxy: str) -> None:
    r = httpx.post(
        proxy + "/v1/chat/completions",
        json={"model": "m", "messages": ask("hi")},
        headers={"x-request-id": "trace-7"},
    )
    assert r.headers["x-request-id"] == "trace-7"


def _recording_forwarder(seen: list[httpx.Request]) -> Forwarder:
    from leakguard.config import ProxyConfig
    from leakguard.online.metrics import Metrics

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "chat.completion", "choices": []})

    return Forwarder(
        ProxyConfig(upstream="http://upstream.internal:8000/base"),
        Metrics(),
        transport=httpx.MockTransport(answer),
    )


@pytest.mark.parametrize(
    ("raw_path", "query", "expected"),
    [
        (b"/v1/chat/completions", b"", "http://upstream.internal:8000/base/v1/chat/completions"),
        (b"//evil.example/steal", b"", "http://upstream.internal:8000/base//evil.example/steal"),
        (b"/v1/models", b"a=1&b=%2F", "http://upstream.internal:8000/base/v1/models?a=1&b=%2F"),
        (b"/http://evil.example/", b"", "http://upstream.internal:8000/base/http://evil.example/"),
    ],
)
def test_requests_cannot_choose_another_upstream(
    raw_path: bytes, query: bytes, expected: str
) -> None:
    forwarder = _recording_forwarder([])
    scope = {"raw_path": raw_path, "path": raw_path.decode(), "query_string": query}
    url = forwarder.target(scope)
    assert str(url) == expected
    assert url.host == "upstream.internal"
    assert str(forwarder.target(scope)) == expected  # from the cache, for a path alone
    other = forwarder.target({**scope, "query_string": b"c=3"})
    assert str(other) == expected.split("?", maxsplit=1)[0] + "?c=3"
    assert all(b"?" not in key for key in forwarder._targets)  # queries are never kept


def test_method_body_and_auth_headers_are_forwarded_hop_by_hop_ones_are_not(
    make_guard: Callable[..., Guard],
) -> None:
    from starlette.testclient import TestClient

    seen: list[httpx.Request] = []
    config = parse_config({**PATTERNS, "proxy": {"upstream": "http://upstream.internal:8000/base"}})
    app = build_app(
        config,
        guard=make_guard(PATTERNS),
        transport=httpx.MockTransport(
            lambda request: seen.append(request) or httpx.Response(204)  # type: ignore[func-returns-value]
        ),
    )
    with TestClient(app) as tc:
        tc.request(
            "PATCH",
            "/v1/things?x=1",
            content=b"payload",
            headers={
                "authorization": "Bearer sk-1",
                "connection": "keep-alive, x-secret",
                "x-secret": "for the next hop only",
                "te": "trailers",
            },
        )
    (request,) = seen
    assert request.method == "PATCH"
    assert str(request.url) == "http://upstream.internal:8000/base/v1/things?x=1"
    assert request.content == b"payload"
    assert request.headers["authorization"] == "Bearer sk-1"
    assert request.headers["accept-encoding"] == "identity"
    assert "te" not in request.headers
    assert "x-secret" not in request.headers  # named in Connection: hop-by-hop too
    assert request.headers["host"] == "upstream.internal:8000"
    # The body goes with its length, not re-framed as chunks.
    assert request.headers["content-length"] == "7"
    assert "transfer-encoding" not in request.headers


def test_the_fake_upstream_really_sends_gzip() -> None:
    """Guards the gzip test above against passing for the wrong reason."""
    with serve_in_thread(fake_upstream()) as url:
        r = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "m", "messages": ask()},
            headers={"x-fake-behaviour": "gzip"},
        )
    assert r.headers["content-encoding"] == "gzip"
    assert "jane.doe" in r.text  # httpx inflated it


def test_a_cookie_the_upstream_sets_for_one_client_never_goes_upstream_for_another(
    make_guard: Callable[..., Guard],
) -> None:
    # The proxy's HTTP client is shared by every client of the proxy: a cookie jar in it
    # would hand one user's session cookie to the next user's requests.
    from starlette.testclient import TestClient

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"set-cookie": "session=alice-secret; Path=/"} if len(seen) == 1 else {}
        return httpx.Response(204, headers=headers)

    config = parse_config({**PATTERNS, "proxy": {"upstream": "http://upstream.internal:8000"}})
    app = build_app(config, guard=make_guard(PATTERNS), transport=httpx.MockTransport(answer))
    with TestClient(app) as tc:
        first = tc.get("/v1/models")  # Alice
        assert first.headers["set-cookie"].startswith("session=alice-secret")  # passed through
        tc.cookies.clear()  # the next requests are Bob's, from another client
        tc.get("/v1/models")
        tc.get("/v1/models", headers={"cookie": "theme=dark"})
    assert "cookie" not in seen[1].headers
    assert seen[2].headers["cookie"] == "theme=dark"
