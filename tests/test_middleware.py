"""LeakGuardMiddleware driven with raw ASGI messages (the only way to see incremental delivery)."""

from __future__ import annotations

import gzip
import json
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import brotli
import pytest
from asgi_kit import (
    JSON,
    NDJSON,
    SSE,
    TEXT,
    Message,
    Recording,
    Scope,
    chat_body,
    chat_stream,
    chat_text,
    drive,
    fixed_app,
    http_scope,
    sse,
    sse_datas,
)

from leakguard.config import parse_config
from leakguard.events import ScanEvent
from leakguard.findings import Finding, OutcomeAction
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online.metrics import Metrics
from leakguard.testing import tokens

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}
EMAIL_TEXT = "Sure, you can write to jane.doe@example.com whenever you like, she answers fast."
EMAIL_REDACTED = "Sure, you can write to <EMAIL_ADDRESS> whenever you like, she answers fast."


class ListSink:
    def __init__(self, accept: bool = True) -> None:
        self.events: list[ScanEvent] = []
        self.accept = accept

    def emit(self, event: ScanEvent) -> bool:
        self.events.append(event)
        return self.accept

    def close(self) -> None:
        pass


@pytest.fixture
def guard(make_guard: Callable[..., Guard]) -> Guard:
    return make_guard(PATTERNS)


@pytest.fixture
def configured(guard: Guard) -> Callable[[dict[str, Any]], Guard]:
    """A guard with more config on top of PATTERNS, sharing the pattern detectors."""

    def make(data: dict[str, Any]) -> Guard:
        return Guard(parse_config({**PATTERNS, **data}), detectors=guard.detectors)

    return make


def run(
    guard: Guard,
    chunks: Sequence[bytes],
    headers: Sequence[tuple[bytes, bytes]] = SSE,
    *,
    status: int = 200,
    scope: Scope | None = None,
    sink: ListSink | None = None,
    metrics: Metrics | None = None,
) -> Recording:
    app = LeakGuardMiddleware(
        fixed_app(chunks, headers, status=status), guard=guard, sink=sink, metrics=metrics
    )
    return anyio.run(drive, app, scope)


def frames(body: bytes) -> list[bytes]:
    """An SSE body as one chunk per event, as a real upstream sends it."""
    return [f + b"\n\n" for f in body.split(b"\n\n") if f]


def error_of(rec: Recording) -> dict[str, Any]:
    """The error object of a response: the one SSE error event, or a JSON error body."""
    if rec.header("content-type") == "application/json":
        error: dict[str, Any] = json.loads(rec.body)["error"]
        return error
    datas = [json.loads(d) for d in sse_datas(rec.body) if d != "[DONE]"]
    return next(d["error"] for d in datas if "error" in d)


# -- incremental delivery ---------------------------------------------------------------


def test_first_safe_text_leaves_before_the_upstream_finishes(guard: Guard) -> None:
    """Raw ASGI recording: the upstream waits on a gate after 40 tokens; the client must
    already have the first words (and the response start) while it waits."""
    text = "The quick brown fox jumps over the lazy dog and keeps running far away. " * 4
    chunks = frames(chat_stream(tokens(text)))
    recording = Recording()

    async def main() -> None:
        gate = anyio.Event()
        app = LeakGuardMiddleware(fixed_app(chunks, SSE, gate=gate, gate_after=40), guard=guard)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: drive(app, recording=recording))
            with anyio.fail_after(10):
                while not chat_text(recording.body):
                    await anyio.sleep(0.005)
            assert not recording.complete  # the upstream is still held at the gate
            first = chat_text(recording.body)
            assert text.startswith(first)
            assert first.startswith("The quick")
            gate.set()

    anyio.run(main)
    assert recording.messages[0]["type"] == "http.response.start"
    assert chat_text(recording.body) == text
    assert recording.complete


def test_stream_headers_drop_content_length_and_carry_a_request_id(guard: Guard) -> None:
    body = chat_stream(tokens(EMAIL_TEXT))
    headers = [*SSE, (b"content-length", str(len(body)).encode())]
    scope = http_scope(headers=[(b"x-request-id", b"req-42")])
    rec = run(guard, [body], headers, scope=scope)
    assert rec.header("content-length") is None
    assert rec.header("x-request-id") == "req-42"
    assert chat_text(rec.body) == EMAIL_REDACTED


def test_invalid_request_id_is_replaced_by_a_generated_one(guard: Guard) -> None:
    scope = http_scope(headers=[(b"x-request-id", b"bad id\twith spaces")])
    rec = run(guard, [chat_stream(["hi"])], scope=scope)
    request_id = rec.header("x-request-id")
    assert request_id is not None
    assert len(request_id) == 32


# -- OpenAI shapes ------------------------------------------------------------------------


def test_each_choice_is_guarded_on_its_own(guard: Guard) -> None:
    rec = run(guard, [chat_stream(tokens(EMAIL_TEXT), n=3)])
    for i in range(3):
        assert chat_text(rec.body, i) == EMAIL_REDACTED


def test_tool_call_argument_deltas_are_redacted_and_stay_valid_json(guard: Guard) -> None:
    args = json.dumps({"to": "jane.doe@example.com", "subject": "the quarterly numbers"})
    chunks = [sse(chat_chunk_tool(0, ""))]
    chunks += [sse(chat_chunk_tool(0, p)) for p in _pieces(args, 3)]
    chunks += [sse(finish_chunk()), b"data: [DONE]\n\n"]
    rec = run(guard, chunks)
    assembled = ""
    for data in sse_datas(rec.body):
        if data != "[DONE]":
            for choice in json.loads(data)["choices"]:
                for call in choice["delta"].get("tool_calls", []):
                    assembled += call["function"].get("arguments", "")
    assert json.loads(assembled) == {"to": "<EMAIL_ADDRESS>", "subject": "the quarterly numbers"}


def chat_chunk_tool(index: int, arguments: str) -> dict[str, Any]:
    from asgi_kit import chat_chunk

    return chat_chunk(0, tool=(index, arguments))


def finish_chunk() -> dict[str, Any]:
    from asgi_kit import chat_chunk

    return chat_chunk(0, finish="tool_calls")


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_non_streamed_chat_body_is_redacted_with_a_new_content_length(guard: Guard) -> None:
    body = json.dumps(chat_body(EMAIL_TEXT, "and a@b.io", tool_args='{"x": "c@d.io"}')).encode()
    rec = run(guard, [body[:10], body[10:]], [*JSON, (b"content-length", b"9999")])
    out = json.loads(rec.body)
    assert out["choices"][0]["message"]["content"] == EMAIL_REDACTED
    assert out["choices"][1]["message"]["content"] == "and <EMAIL_ADDRESS>"
    assert out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == (
        '{"x": "<EMAIL_ADDRESS>"}'
    )
    assert rec.header("content-length") == str(len(rec.body))
    assert out["usage"]["total_tokens"] == 2


def test_responses_stream_repeats_only_the_redacted_text_in_done_events(guard: Guard) -> None:
    from leakguard.testing import fake_upstream

    async def main() -> Recording:
        app = LeakGuardMiddleware(fake_upstream(), guard=guard)
        request = json.dumps({"model": "m", "input": EMAIL_TEXT, "stream": True}).encode()
        return await drive(app, http_scope("/v1/responses"), request=request)

    rec = anyio.run(main)
    assert b"jane.doe" not in rec.body
    events = [json.loads(d) for d in sse_datas(rec.body) if d != "[DONE]"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    done = next(e for e in events if e["type"] == "response.output_text.done")
    completed = next(e for e in events if e["type"] == "response.completed")
    assert deltas == done["text"] == EMAIL_REDACTED
    assert completed["response"]["output"][0]["content"][0]["text"] == EMAIL_REDACTED
    assert b"event: response.output_text.delta" in rec.body  # SSE event names kept


def test_sse_ids_and_comments_are_preserved(guard: Guard) -> None:
    chunks = [
        b": keep-alive\n\n",
        sse(
            {
                "object": "text_completion",
                "choices": [{"index": 0, "text": "hello a@b.io ", "finish_reason": None}],
            },
            id="e1",
        ),
        sse(
            {
                "object": "text_completion",
                "choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
            },
            id="e2",
        ),
        b"data: [DONE]\n\n",
    ]
    rec = run(guard, chunks)
    assert rec.body.startswith(b": keep-alive\n\n")
    assert b"id: e1\n" in rec.body
    assert b"id: e2\n" in rec.body
    assert b"a@b.io" not in rec.body
    assert b"<EMAIL_ADDRESS>" in rec.body


# -- blocks ---------------------------------------------------------------------------------


def test_block_before_anything_left_is_a_json_error(
    configured: Callable[[dict[str, Any]], Guard],
) -> None:
    guard = configured({"policy": {"actions": {"EMAIL_ADDRESS": "block"}}})
    body = json.dumps(chat_body(EMAIL_TEXT)).encode()
    rec = run(guard, [body], JSON)
    assert rec.status == 403
    error = json.loads(rec.body)["error"]
    assert error["type"] == "leakguard_blocked"
    assert error["code"] == "action:EMAIL_ADDRESS"
    assert b"jane" not in rec.body


def test_block_mid_stream_ends_with_one_error_event_then_done(
    configured: Callable[[dict[str, Any]], Guard],
) -> None:
    guard = configured({"policy": {"block_on_labels": ["EMAIL_ADDRESS"]}})
    text = "A long harmless introduction that goes on for a while. " * 5 + EMAIL_TEXT * 3
    rec = run(guard, frames(chat_stream(tokens(text))))
    datas = sse_datas(rec.body)
    assert datas[-1] == "[DONE]"
    assert error_of(rec)["code"] == "label:EMAIL_ADDRESS"
    assert sum("error" in d for d in datas) == 1
    released = chat_text(rec.body)
    assert released.startswith("A long harmless")  # what left before the e-mail came
    assert text.startswith(released)
    assert b"jane" not in rec.body
    assert rec.status == 200  # the start had left with the first text


def test_a_blocked_stream_emits_one_event_with_action_block(
    configured: Callable[[dict[str, Any]], Guard],
) -> None:
    guard = configured({"policy": {"block_on_labels": ["EMAIL_ADDRESS"]}})
    sink = ListSink()
    run(guard, [chat_stream(tokens(EMAIL_TEXT))], sink=sink)
    (event,) = sink.events
    assert event.action is OutcomeAction.BLOCK
    assert event.reason == "label:EMAIL_ADDRESS"


# -- what cannot be scanned -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([(b"content-type", b"application/octet-stream")], "unscannable:content_type"),
        ([], "unscannable:content_type"),
        ([*JSON, (b"content-encoding", b"zstd")], "unscannable:encoding"),
    ],
)
def test_unscannable_responses_are_blocked_by_default(
    guard: Guard, headers: list[tuple[bytes, bytes]], reason: str
) -> None:
    metrics = Metrics()
    rec = run(guard, [b"jane.doe@example.com"], headers, metrics=metrics)
    assert rec.status == 403
    assert json.loads(rec.body)["error"]["code"] == reason
    assert b"jane" not in rec.body
    assert metrics.fail_closed.value(reason) == 1


def test_unscannable_pass_is_explicit_logged_and_counted(
    configured: Callable[[dict[str, Any]], Guard], caplog: pytest.LogCaptureFixture
) -> None:
    guard = configured({"online": {"on_unscannable": "pass"}})
    metrics, sink = Metrics(), ListSink()
    with caplog.at_level(logging.WARNING, logger="leakguard"):
        rec = run(
            guard,
            [b"\x00\x01binary"],
            [(b"content-type", b"image/png")],
            metrics=metrics,
            sink=sink,
        )
    assert rec.body == b"\x00\x01binary"
    assert metrics.passed_unscanned.value("unscannable:content_type") == 1
    assert "cannot be scanned" in caplog.text
    (event,) = sink.events
    assert not event.fully_scanned


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
def test_compressed_bodies_are_decoded_scanned_and_sent_plain(
    guard: Guard, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    stream = compress(chat_stream(tokens(EMAIL_TEXT)))
    rec = run(guard, [stream[:20], stream[20:]], [*SSE, (b"content-encoding", encoding.encode())])
    assert rec.header("content-encoding") is None
    assert chat_text(rec.body) == EMAIL_REDACTED
    whole = compress(json.dumps(chat_body(EMAIL_TEXT)).encode())
    rec = run(guard, [whole], [*JSON, (b"content-encoding", encoding.encode())])
    assert json.loads(rec.body)["choices"][0]["message"]["content"] == EMAIL_REDACTED


def test_corrupt_gzip_is_blocked(guard: Guard) -> None:
    rec = run(guard, [b"\x1f\x8b\x08\x00not really gzip"], [*JSON, (b"content-encoding", b"gzip")])
    assert rec.status == 403
    assert json.loads(rec.body)["error"]["code"] == "unscannable:encoding"


def test_over_size_body_is_blocked(configured: Callable[[dict[str, Any]], Guard]) -> None:
    guard = configured({"online": {"max_body_bytes": 2048}})
    body = json.dumps(chat_body("x " * 5000)).encode()
    rec = run(guard, [body[:1000], body[1000:]], JSON)
    assert rec.status == 403
    assert json.loads(rec.body)["error"]["code"] == "unscannable:oversize"


def test_over_size_sse_event_ends_the_stream(configured: Callable[[dict[str, Any]], Guard]) -> None:
    guard = configured({"online": {"max_frame_bytes": 1024}})
    chunks = [chat_stream(["hello "]).split(b"data: [DONE]")[0], b"data: " + b"x" * 5000]
    rec = run(guard, chunks)
    assert error_of(rec)["code"] == "unscannable:oversize"
    assert sse_datas(rec.body)[-1] == "[DONE]"


def test_malformed_json_frame_ends_the_stream_with_an_error(guard: Guard) -> None:
    body = chat_stream(tokens(EMAIL_TEXT)).replace(
        b"data: [DONE]", b"data: {broken\n\ndata: [DONE]"
    )
    rec = run(guard, [body])
    assert error_of(rec) == {
        "message": "This response was withheld because it could not be checked.",
        "type": "leakguard_unscannable",
        "code": "unscannable:malformed",
        "param": None,
    }


def test_invalid_utf8_ends_the_stream_with_an_error(guard: Guard) -> None:
    body = chat_stream(["hello "]).replace(b"data: [DONE]", b'data: {"x": "\xff"}\n\ndata: [DONE]')
    rec = run(guard, [body])
    assert error_of(rec)["code"] == "unscannable:encoding"


def test_unknown_json_schema_is_blocked(guard: Guard) -> None:
    rec = run(guard, [b'{"result": "jane.doe@example.com"}'], JSON)
    assert rec.status == 403
    assert json.loads(rec.body)["error"]["code"] == "unscannable:unknown_schema"


def test_error_bodies_of_unknown_schema_keep_their_status_with_strings_scanned(
    guard: Guard,
) -> None:
    rec = run(guard, [b'{"detail": "no user jane.doe@example.com"}'], JSON, status=404)
    assert rec.status == 404
    assert json.loads(rec.body) == {"detail": "no user <EMAIL_ADDRESS>"}


def test_truncated_stream_releases_what_was_scanned_then_one_error(guard: Guard) -> None:
    body = chat_stream(tokens(EMAIL_TEXT)).split(b"data: [DONE]")[0][:-40]
    rec = run(guard, [body])
    assert error_of(rec)["type"] == "leakguard_truncated"
    assert sse_datas(rec.body)[-1] == "[DONE]"
    assert b"jane" not in rec.body


def test_app_that_breaks_off_mid_stream_gets_a_well_formed_end(guard: Guard) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        await send(
            {
                "type": "http.response.body",
                "body": chat_stream(["Hello there "] * 20)[:600],
                "more_body": True,
            }
        )
        raise ConnectionResetError("upstream went away")

    rec = anyio.run(drive, LeakGuardMiddleware(app, guard=guard))
    assert rec.complete
    assert error_of(rec)["type"] == "leakguard_truncated"


def test_app_that_fails_before_answering_is_not_hidden(guard: Guard) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        raise LookupError("no route")

    with pytest.raises(LookupError):
        anyio.run(drive, LeakGuardMiddleware(app, guard=guard))


# -- other bodies ---------------------------------------------------------------------------


def test_ollama_ndjson_stream_is_redacted_line_by_line(guard: Guard) -> None:
    lines = [
        json.dumps({"model": "m", "message": {"role": "assistant", "content": t}, "done": False})
        for t in tokens(EMAIL_TEXT)
    ]
    lines.append(
        json.dumps({"model": "m", "message": {"content": ""}, "done": True, "context": [1, 2]})
    )
    rec = run(guard, ["\n".join(lines).encode() + b"\n"], NDJSON)
    objs = [json.loads(line) for line in rec.body.decode().splitlines()]
    assert "".join(o["message"]["content"] for o in objs) == EMAIL_REDACTED
    assert objs[-1]["done"] is True
    assert "context" not in objs[-1]


def test_text_plain_stream_is_redacted(guard: Guard) -> None:
    data = EMAIL_TEXT.encode()
    rec = run(guard, [data[i : i + 3] for i in range(0, len(data), 3)], TEXT)
    assert rec.body.decode() == EMAIL_REDACTED


def test_generic_text_sse_is_redacted(guard: Guard) -> None:
    chunks = [sse(t) for t in tokens(EMAIL_TEXT)]
    rec = run(guard, chunks)
    assert "".join(sse_datas(rec.body)) == EMAIL_REDACTED


def test_head_and_no_content_responses_pass(guard: Guard) -> None:
    rec = run(guard, [b""], JSON, status=204)
    assert rec.status == 204


# -- routes, JSON paths -----------------------------------------------------------------------


def test_route_rules_turn_guarding_off_or_change_the_policy(
    configured: Callable[[dict[str, Any]], Guard],
) -> None:
    guard = configured(
        {
            "online": {
                "routes": [
                    {"path": "/internal/", "guard": False},
                    {"path": "/v1/*/completions", "policy": {"actions": {"EMAIL_ADDRESS": "mask"}}},
                ]
            },
        }
    )
    body = json.dumps(chat_body("mail jane.doe@example.com")).encode()
    raw = run(guard, [body], JSON, scope=http_scope("/internal/x"))
    assert raw.body == body
    masked = run(guard, [body], JSON, scope=http_scope("/v1/chat/completions"))
    assert (
        json.loads(masked.body)["choices"][0]["message"]["content"] == "mail ****************.com"
    )
    other = run(guard, [body], JSON, scope=http_scope("/v2/chat"))
    assert json.loads(other.body)["choices"][0]["message"]["content"] == "mail <EMAIL_ADDRESS>"


def test_json_paths_guard_other_schemas(configured: Callable[[dict[str, Any]], Guard]) -> None:
    guard = configured(
        {
            "online": {
                "json_paths": [
                    {"path": "/generate", "fields": ["generated_text", "details.*.text"]}
                ]
            },
        }
    )
    body = {"generated_text": "to a@b.io", "details": [{"text": "c@d.io"}], "id": "x@y.io"}
    rec = run(guard, [json.dumps(body).encode()], JSON, scope=http_scope("/generate"))
    assert json.loads(rec.body) == {
        "generated_text": "to <EMAIL_ADDRESS>",
        "details": [{"text": "<EMAIL_ADDRESS>"}],
        "id": "<EMAIL_ADDRESS>",  # other values are scanned too (issue 20)
    }


# -- events, metrics, failures ----------------------------------------------------------------


def test_one_scan_event_per_response_with_evidence_model_and_tenant(
    configured: Callable[[dict[str, Any]], Guard],
) -> None:
    guard = configured({"audit": {"tenant_header": "x-tenant"}})
    sink = ListSink()
    scope = http_scope(headers=[(b"x-tenant", b"acme"), (b"x-request-id", b"r-1")])
    run(guard, [chat_stream(tokens(EMAIL_TEXT), n=2)], scope=scope, sink=sink)
    (event,) = sink.events
    assert event.source == "middleware"
    assert event.request_id == "r-1"
    assert event.action is OutcomeAction.REDACT
    assert event.model == "fake-model"
    assert event.tenant == "acme"
    assert event.route == "/v1/chat/completions"
    assert event.policy_version == guard.policy_version
    assert event.fully_scanned
    assert [e.value for e in event.evidence] == ["jane.doe@example.com"] * 2
    assert event.text_chars == 2 * len(EMAIL_TEXT)


def test_sink_refusal_blocks_a_response_not_yet_sent(guard: Guard) -> None:
    metrics = Metrics()
    body = json.dumps(chat_body(EMAIL_TEXT)).encode()
    rec = run(guard, [body], JSON, sink=ListSink(accept=False), metrics=metrics)
    assert rec.status == 403
    assert json.loads(rec.body)["error"]["code"] == "audit_refused"
    assert metrics.sink_refusals.value() == 1
    assert metrics.fail_closed.value("audit_refused") == 1


def test_sink_refusal_at_stream_end_withholds_the_held_text(guard: Guard) -> None:
    rec = run(guard, [chat_stream(tokens(EMAIL_TEXT))], sink=ListSink(accept=False))
    assert error_of(rec)["code"] == "audit_refused"
    assert "answers fast" not in chat_text(rec.body)


def test_detector_exception_blocks_and_logs_no_text(
    guard: Guard, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        name = "broken"

        def detect(self, text: str) -> list[Finding]:
            raise ValueError(f"cannot handle {text}")

    broken = Guard(guard.config, detectors=[Broken()])
    with caplog.at_level(logging.DEBUG):
        rec = run(broken, [json.dumps(chat_body(EMAIL_TEXT)).encode()], JSON)
    assert rec.status == 403
    assert json.loads(rec.body)["error"]["code"] == "detector_error:ValueError"
    assert "jane" not in caplog.text
    assert b"jane" not in rec.body


@pytest.mark.parametrize("threads", ["scan_threads", "anyio"])
def test_scan_time_out_fails_closed(
    configured: Callable[[dict[str, Any]], Guard], threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if threads == "anyio":  # what any event loop but asyncio's gets
        monkeypatch.setattr("leakguard.middleware.running_asyncio_loop", lambda: None)
    base = configured({"online": {"scan_timeout_s": 0.2}})

    class Slow:
        name = "slow"

        def detect(self, text: str) -> list[Finding]:
            time.sleep(1.0)
            return []

    metrics = Metrics()
    rec = run(
        Guard(base.config, detectors=[Slow()]),
        [json.dumps(chat_body("hi")).encode()],
        JSON,
        metrics=metrics,
    )
    assert rec.status == 403
    assert json.loads(rec.body)["error"]["code"] == "scan_timeout"
    assert metrics.fail_closed.value("scan_timeout") == 1
    # The same path scans a stream and a body that finish in time.
    ample = configured({"online": {"scan_timeout_s": 30}})
    rec = run(ample, [chat_stream(tokens(EMAIL_TEXT))])
    assert "jane" not in rec.body.decode()
    assert "<EMAIL_ADDRESS>" in rec.body.decode()
    rec = run(ample, [json.dumps(chat_body(EMAIL_TEXT)).encode()], JSON)
    assert rec.status == 200
    assert "<EMAIL_ADDRESS>" in rec.body.decode()


def test_metrics_count_findings_and_blocks_without_any_text(guard: Guard) -> None:
    metrics = Metrics()
    run(guard, [chat_stream(tokens(EMAIL_TEXT))], metrics=metrics)
    run(guard, [b"??"], [(b"content-type", b"application/pdf")], metrics=metrics)
    page = metrics.render()
    assert 'leakguard_findings_total{label="EMAIL_ADDRESS",action="redact"} 1' in page
    assert 'leakguard_responses_total{kind="sse",action="redact"} 1' in page
    assert 'leakguard_blocks_total{reason="unscannable:content_type"} 1' in page
    assert "leakguard_scan_seconds_count 2" in page
    assert "jane" not in page


def test_websocket_and_lifespan_scopes_pass_through(guard: Guard) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def main() -> None:
        mw = LeakGuardMiddleware(app, guard=guard)

        async def receive() -> Message:
            return {"type": "lifespan.startup"}

        async def send(message: Message) -> None:
            pass

        await mw({"type": "lifespan"}, receive, send)

    anyio.run(main)
    assert seen == ["lifespan"]
