"""Issue 20, items 1-6: every string and number of a JSON response reaches the client
scanned (or the response takes the unscannable action); only allow-listed paths are kept.

Through the real proxy (uvicorn on 127.0.0.1) in front of a canned upstream (uvicorn too),
with httpx as the client; each case whole and streamed (one event per chunk and in
7-byte pieces, so values and events are cut across chunks)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from asgi_kit import NDJSON as NDJSON_HEADERS
from asgi_kit import SSE as SSE_HEADERS
from asgi_kit import chat_body, chat_chunk, drive, fixed_app, http_scope, sse, sse_datas
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online.shapes import CHAT, OLLAMA, RESPONSES, Shape, detect_shape
from leakguard.online.values import LOOP_WALK_CHARS, loose_values
from leakguard.proxy import build_app
from leakguard.testing import serve_in_thread, tokens

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}
EMAIL = "jane.doe@example.com"
SSN = "536-90-4512"
CARD = 4111111111111111
TEXT = f"Sure, you can write to {EMAIL} whenever you like, she answers fast."
REDACTED = "Sure, you can write to <EMAIL_ADDRESS> whenever you like, she answers fast."
RAW = (b"jane.doe", b"jane", SSN.encode(), str(CARD).encode(), b"4111")


class Canned:
    """An upstream that answers every request with the status, type and chunks set last."""

    def __init__(self) -> None:
        self.status = 200
        self.ctype = "application/json"
        self.chunks: list[bytes] = []

    def set(self, body: bytes | list[bytes], *, ctype: str, status: int = 200) -> None:
        self.status, self.ctype = status, ctype
        self.chunks = body if isinstance(body, list) else [body]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", self.ctype.encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture(scope="module")
def canned() -> Canned:
    return Canned()


@pytest.fixture(scope="module")
def proxy(canned: Canned, make_guard: Callable[..., Guard]) -> Iterator[str]:
    with serve_in_thread(canned) as upstream:
        config = parse_config({**PATTERNS, "proxy": {"upstream": upstream}})
        with serve_in_thread(build_app(config, guard=make_guard(PATTERNS))) as url:
            yield url


def fetch(proxy: str, path: str = "/v1/chat/completions") -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(proxy + path, json={"model": "m", "stream": True})


def clean(body: bytes) -> bytes:
    """The body, checked to hold none of the planted raw values."""
    for raw in RAW:
        assert raw not in body, raw
    return body


SPLITS = [None, 7]  # one event per chunk; 7-byte pieces


def pieces(frames: list[bytes], split: int | None) -> list[bytes]:
    if split is None:
        return frames
    body = b"".join(frames)
    return [body[i : i + split] for i in range(0, len(body), split)]


def sse_objects(body: bytes) -> list[Any]:
    return [json.loads(d) for d in sse_datas(body) if d != "[DONE]"]


def ndjson_objects(body: bytes) -> list[Any]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def chat_frames(deltas: list[dict[str, Any]]) -> list[bytes]:
    """A chat stream: one chunk per delta, then the finish and [DONE]."""
    out = []
    for delta in deltas:
        chunk = chat_chunk(0)
        chunk["choices"][0]["delta"] = delta
        out.append(sse(chunk))
    return [*out, sse(chat_chunk(0, finish="stop")), b"data: [DONE]\n\n"]


def responses_frames(events: list[dict[str, Any]]) -> list[bytes]:
    seq = [e | {"sequence_number": i} for i, e in enumerate(events)]
    done = {"type": "response.completed", "response": {"object": "response", "output": []}}
    return [sse(e, event=e["type"]) for e in [*seq, done]]


# -- item 1: content as a list of parts ------------------------------------------------------


def test_chat_content_as_a_list_of_parts_whole(proxy: str, canned: Canned) -> None:
    body = chat_body("")
    body["choices"][0]["message"]["content"] = [{"type": "text", "text": TEXT}]
    canned.set(json.dumps(body).encode(), ctype="application/json")
    reply = fetch(proxy)
    assert reply.json()["choices"][0]["message"]["content"] == [{"type": "text", "text": REDACTED}]
    clean(reply.content)


@pytest.mark.parametrize("split", SPLITS)
def test_chat_delta_content_as_a_list_of_parts_streamed(
    proxy: str, canned: Canned, split: int | None
) -> None:
    """The parts of all chunks are one channel: an address cut across chunks is found."""
    deltas = [{"content": [{"type": "text", "text": t}]} for t in tokens(TEXT)]
    canned.set(pieces(chat_frames(deltas), split), ctype="text/event-stream")
    body = clean(fetch(proxy).content)
    text = ""
    for obj in sse_objects(body):
        content = obj["choices"][0]["delta"].get("content") or []
        text += "".join(part["text"] for part in content)
    assert text == REDACTED


# -- item 2: tool types other than function; annotations ----------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_chat_custom_tool_input_streamed(proxy: str, canned: Canned, split: int | None) -> None:
    first = {"tool_calls": [{"index": 0, "id": "call_1", "type": "custom", "custom": {}}]}
    first["tool_calls"][0]["custom"] = {"name": "send", "input": ""}
    deltas = [first] + [
        {"tool_calls": [{"index": 0, "custom": {"input": t}}]} for t in tokens(TEXT)
    ]
    canned.set(pieces(chat_frames(deltas), split), ctype="text/event-stream")
    body = clean(fetch(proxy).content)
    text = "".join(
        call["custom"]["input"]
        for obj in sse_objects(body)
        for call in obj["choices"][0]["delta"].get("tool_calls", [])
    )
    assert text == REDACTED
    assert b'"id":"call_1"' in body  # an allow-listed id is kept


def test_chat_custom_tool_input_and_url_annotations_whole(
    proxy: str, canned: Canned, make_guard: Callable[..., Guard]
) -> None:
    body = chat_body("See the page.")
    message = body["choices"][0]["message"]
    message["tool_calls"] = [
        {"id": "call_1", "type": "custom", "custom": {"name": "send", "input": TEXT}}
    ]
    citation: dict[str, Any] = {"url": f"https://example.com/u/{EMAIL}", "title": f"SSN {SSN}"}
    citation |= {"start_index": 0, "end_index": 3}
    message["annotations"] = [{"type": "url_citation", "url_citation": citation}]
    canned.set(json.dumps(body).encode(), ctype="application/json")
    out = fetch(proxy).json()["choices"][0]["message"]
    clean(json.dumps(out).encode())
    assert out["tool_calls"][0]["custom"]["input"] == REDACTED
    assert out["annotations"][0]["url_citation"] == {
        "url": make_guard(PATTERNS).scan(citation["url"]).text,  # as a one-shot scan
        "title": "SSN <US_SSN>",
        "start_index": 0,
        "end_index": 3,
    }


def responses_body(*output: dict[str, Any]) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "model": "m", "output": list(output)}


MCP_CALL = {
    "type": "mcp_call",
    "id": "mcp_1",
    "server_label": "crm",
    "name": "lookup",
    "arguments": json.dumps({"email": EMAIL}),
    "output": f"found: SSN {SSN}",
}
CODE_CALL = {
    "type": "code_interpreter_call",
    "id": "ci_1",
    "code": f"print('{EMAIL}')",
    "outputs": [{"type": "logs", "logs": f"{EMAIL}\nSSN {SSN}"}],
}
CUSTOM_CALL = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_1", "input": TEXT}


def test_responses_tool_items_whole(proxy: str, canned: Canned) -> None:
    body = responses_body(CUSTOM_CALL, MCP_CALL, CODE_CALL)
    canned.set(json.dumps(body).encode(), ctype="application/json")
    reply = fetch(proxy, "/v1/responses")
    out = reply.json()["output"]
    clean(reply.content)
    assert out[0]["input"] == REDACTED
    assert json.loads(out[1]["arguments"]) == {"email": "<EMAIL_ADDRESS>"}
    assert out[1]["output"] == "found: SSN <US_SSN>"
    assert out[2]["code"] == "print('<EMAIL_ADDRESS>')"
    assert out[2]["outputs"][0]["logs"] == "<EMAIL_ADDRESS>\nSSN <US_SSN>"
    assert [o["id"] for o in out] == ["ctc_1", "mcp_1", "ci_1"]


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("response.custom_tool_call_input", "input"),
        ("response.mcp_call_arguments", "arguments"),
        ("response.code_interpreter_call_code", "code"),
    ],
)
@pytest.mark.parametrize("split", SPLITS)
def test_responses_tool_deltas_streamed(
    proxy: str, canned: Canned, kind: str, key: str, split: int | None
) -> None:
    """Deltas are one channel; the ``done`` event repeats what the client was sent."""
    at = {"item_id": "it_1", "output_index": 0}
    events = [{"type": kind + ".delta", **at, "delta": t} for t in tokens(TEXT)]
    events.append({"type": kind + ".done", **at, key: TEXT})
    canned.set(pieces(responses_frames(events), split), ctype="text/event-stream")
    objs = sse_objects(clean(fetch(proxy, "/v1/responses").content))
    assert "".join(o["delta"] for o in objs if o["type"] == kind + ".delta") == REDACTED
    assert next(o for o in objs if o["type"] == kind + ".done")[key] == REDACTED


@pytest.mark.parametrize("split", SPLITS)
def test_responses_list_valued_delta_and_annotations_streamed(
    proxy: str, canned: Canned, split: int | None
) -> None:
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.output_text.delta", **at, "delta": [t]} for t in tokens(TEXT)
    ]
    annotation: dict[str, Any] = {"type": "url_citation", "url": f"mailto:{EMAIL}", "title": SSN}
    annotation |= {"start_index": 1, "end_index": 2}
    events.append(
        {
            "type": "response.output_text.annotation.added",
            **at,
            "annotation_index": 0,
            "annotation": annotation,
        }
    )
    events.append({"type": "response.output_text.done", **at, "text": TEXT})
    canned.set(pieces(responses_frames(events), split), ctype="text/event-stream")
    objs = sse_objects(clean(fetch(proxy, "/v1/responses").content))
    deltas = [o["delta"] for o in objs if o["type"] == "response.output_text.delta"]
    assert all(isinstance(d, list) for d in deltas)
    assert "".join("".join(d) for d in deltas) == REDACTED
    added = next(o for o in objs if o["type"].endswith("annotation.added"))
    assert added["annotation"] == {
        "type": "url_citation",
        "url": "mailto:<EMAIL_ADDRESS>",
        "title": "<US_SSN>",
        "start_index": 1,
        "end_index": 2,
    }
    assert objs[-2]["text"] == REDACTED


# -- item 3: reasoning text outside the known fields ------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_openrouter_reasoning_details_streamed(
    proxy: str, canned: Canned, split: int | None
) -> None:
    detail = {"type": "reasoning.text", "format": "unknown", "index": 0}
    deltas = [{"reasoning_details": [detail | {"text": t}]} for t in tokens(TEXT)]
    canned.set(pieces(chat_frames(deltas), split), ctype="text/event-stream")
    body = clean(fetch(proxy).content)
    details = [
        d for o in sse_objects(body) for d in o["choices"][0]["delta"].get("reasoning_details", [])
    ]
    assert "".join(d["text"] for d in details) == REDACTED
    assert {d["type"] for d in details} == {"reasoning.text"}


def test_openrouter_reasoning_details_whole(proxy: str, canned: Canned) -> None:
    body = chat_body("ok")
    details = [{"type": "reasoning.summary", "summary": TEXT, "index": 0}]
    body["choices"][0]["message"]["reasoning_details"] = details
    canned.set(json.dumps(body).encode(), ctype="application/json")
    reply = fetch(proxy)
    clean(reply.content)
    assert reply.json()["choices"][0]["message"]["reasoning_details"] == [
        {"type": "reasoning.summary", "summary": REDACTED, "index": 0}
    ]


def ollama_line(**fields: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "created_at": "2024-01-01T00:00:00.5Z", **fields}


@pytest.mark.parametrize("split", SPLITS)
def test_ollama_generate_thinking_streamed(proxy: str, canned: Canned, split: int | None) -> None:
    lines = [ollama_line(response="", thinking=t, done=False) for t in tokens(TEXT)]
    lines.append(ollama_line(response="ok", done=True, done_reason="stop", eval_count=9))
    frames = [json.dumps(line).encode() + b"\n" for line in lines]
    canned.set(pieces(frames, split), ctype="application/x-ndjson")
    objs = ndjson_objects(clean(fetch(proxy, "/api/generate").content))
    assert "".join(o.get("thinking", "") for o in objs) == REDACTED
    assert objs[-1]["done"] is True
    assert objs[-1]["eval_count"] == 9
    assert objs[-1]["created_at"] == "2024-01-01T00:00:00.5Z"


# -- item 4: Ollama tool-call arguments as objects: numbers and keys ------------------------


def ollama_tool_line() -> dict[str, Any]:
    arguments = {"card_number": CARD, EMAIL: "primary", "notes": [f"SSN {SSN}", 7]}
    call = {"function": {"name": "charge", "arguments": arguments}}
    message = {"role": "assistant", "content": "", "tool_calls": [call]}
    return ollama_line(message=message, done=True, done_reason="stop")


EXPECTED_ARGUMENTS: dict[str, Any] = {"card_number": "<CREDIT_CARD>", "<EMAIL_ADDRESS>": "primary"}
EXPECTED_ARGUMENTS |= {"notes": ["SSN <US_SSN>", 7]}


def test_ollama_tool_arguments_numbers_and_keys_streamed(proxy: str, canned: Canned) -> None:
    first = ollama_line(message={"role": "assistant", "content": "Charging."}, done=False)
    frames = [json.dumps(o).encode() + b"\n" for o in (first, ollama_tool_line())]
    canned.set(pieces(frames, 7), ctype="application/x-ndjson")
    objs = ndjson_objects(clean(fetch(proxy, "/api/chat").content))
    calls = [c for o in objs for c in o["message"].get("tool_calls", [])]
    assert calls == [{"function": {"name": "charge", "arguments": EXPECTED_ARGUMENTS}}]


def test_ollama_tool_arguments_numbers_and_keys_whole(proxy: str, canned: Canned) -> None:
    canned.set(json.dumps(ollama_tool_line()).encode(), ctype="application/json")
    reply = fetch(proxy, "/api/chat")
    clean(reply.content)
    call = reply.json()["message"]["tool_calls"][0]
    assert call["function"]["arguments"] == EXPECTED_ARGUMENTS


# -- item 5: no heuristics by one key ---------------------------------------------------------


@pytest.mark.parametrize("ctype", ["application/json", "application/x-ndjson"])
def test_an_object_with_done_is_not_taken_for_ollama(
    proxy: str, canned: Canned, ctype: str
) -> None:
    canned.set(json.dumps({"done": True, "result": f"SSN {SSN}"}).encode(), ctype=ctype)
    reply = fetch(proxy, "/api/other")
    clean(reply.content)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "unscannable:unknown_schema"


def test_the_other_fields_of_an_error_body_are_scanned(proxy: str, canned: Canned) -> None:
    body = {"error": "not found", "message": f"user {EMAIL} not found", "id": CARD}
    canned.set(json.dumps(body).encode(), ctype="application/json", status=400)
    reply = fetch(proxy)
    clean(reply.content)
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "not found",
        "message": "user <EMAIL_ADDRESS> not found",
        "id": "<CREDIT_CARD>",
    }


def test_numbers_and_keys_in_4xx_bodies_of_any_schema_are_scanned(
    proxy: str, canned: Canned
) -> None:
    body = {"detail": [{"card": CARD, "count": 3, EMAIL: True}], "code": 42}
    canned.set(json.dumps(body).encode(), ctype="application/json", status=422)
    reply = fetch(proxy)
    clean(reply.content)
    assert reply.status_code == 422
    assert reply.json() == {
        "detail": [{"card": "<CREDIT_CARD>", "count": 3, "<EMAIL_ADDRESS>": True}],
        "code": 42,
    }


def test_an_openai_error_body_keeps_its_type_and_scans_the_rest(proxy: str, canned: Canned) -> None:
    error = {"message": f"no user {EMAIL}", "type": "invalid_request_error", "code": 404}
    error["param"] = SSN
    canned.set(json.dumps({"error": error}).encode(), ctype="application/json", status=404)
    reply = fetch(proxy)
    clean(reply.content)
    assert reply.json()["error"] == {
        "message": "no user <EMAIL_ADDRESS>",
        "type": "invalid_request_error",
        "code": 404,
        "param": "<US_SSN>",
    }


# -- item 6: names and unknown fields of a known shape -------------------------------------


def test_names_and_unknown_fields_of_a_chat_body(proxy: str, canned: Canned) -> None:
    body = chat_body("Done.", tool_args="{}")
    body["x_trace"] = {"user": EMAIL, "ssn": SSN}
    message = body["choices"][0]["message"]
    message["name"] = EMAIL
    message["tool_calls"][0]["function"]["name"] = f"lookup {CARD}"
    canned.set(json.dumps(body).encode(), ctype="application/json")
    reply = fetch(proxy)
    clean(reply.content)
    out = reply.json()
    assert out["x_trace"] == {"user": "<EMAIL_ADDRESS>", "ssn": "<US_SSN>"}
    assert out["choices"][0]["message"]["name"] == "<EMAIL_ADDRESS>"
    assert (
        out["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup <CREDIT_CARD>"
    )
    # The allow-listed paths are as they came.
    assert (out["id"], out["model"], out["created"]) == ("chatcmpl-1", "fake-model", 1700000000)
    assert out["usage"] == body["usage"]


@pytest.mark.parametrize("split", SPLITS)
def test_names_and_unknown_fields_of_chat_chunks_streamed(
    proxy: str, canned: Canned, split: int | None
) -> None:
    first = chat_chunk(0, role="assistant", tool=(0, ""))
    first["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] = EMAIL
    first["x_debug"] = f"SSN {SSN}"
    frames = [sse(first), *chat_frames([{"content": t} for t in tokens(TEXT)])]
    canned.set(pieces(frames, split), ctype="text/event-stream")
    objs = sse_objects(clean(fetch(proxy).content))
    assert objs[0]["x_debug"] == "SSN <US_SSN>"
    call = objs[0]["choices"][0]["delta"]["tool_calls"][0]
    assert call["function"]["name"] == "<EMAIL_ADDRESS>"
    assert "".join(o["choices"][0]["delta"].get("content") or "" for o in objs) == REDACTED


def test_an_allow_listed_path_that_does_not_look_the_part_is_scanned(
    proxy: str, canned: Canned
) -> None:
    body = chat_body("Hi.")
    body["id"], body["model"], body["created"] = f"chatcmpl-{SSN}", EMAIL, CARD
    body["usage"]["total_tokens"] = CARD
    canned.set(json.dumps(body).encode(), ctype="application/json")
    reply = fetch(proxy)
    clean(reply.content)
    out = reply.json()
    assert (out["id"], out["model"]) == ("chatcmpl-<US_SSN>", "<EMAIL_ADDRESS>")
    assert out["created"] == out["usage"]["total_tokens"] == "<CREDIT_CARD>"


# -- the rule, unit by unit: the usual objects have nothing to scan (no scan at all) --------


@pytest.mark.parametrize(
    ("shape", "obj"),
    [
        (CHAT, chat_chunk(0, role="assistant", content="hi")),
        (CHAT, chat_chunk(0, tool=(1, '{"a'))),
        (CHAT, chat_chunk(2, finish="stop") | {"usage": {"completion_tokens": 1}}),
        (CHAT, chat_body("hi")),
        (
            RESPONSES,
            {
                "type": "response.output_text.delta",
                "sequence_number": 4,
                "item_id": "msg_67ccd2bed1ec8190",
                "output_index": 0,
                "content_index": 0,
                "delta": "hi",
                "obfuscation": "x7Yq2",
            },
        ),
        (
            OLLAMA,
            ollama_line(message={"role": "assistant", "content": "hi"}, done=True)
            | {"done_reason": "stop", "total_duration": 5_191_566_416, "eval_count": 7},
        ),
    ],
)
def test_the_usual_objects_have_no_value_to_scan(shape: Shape, obj: dict[str, Any]) -> None:
    """The fast path: chat chunks, Responses deltas and Ollama lines cost no extra scan."""
    frame = shape.frame(obj)
    assert frame is not None
    assert loose_values(obj, allow=shape.allow, frame=frame) == []
    assert detect_shape(obj, path="/x") is shape


def test_a_tool_name_is_the_one_value_of_a_tool_call_to_scan() -> None:
    """Item 6: names are scanned (each distinct value once per response)."""
    for obj in (chat_chunk(0, tool=(1, "")), chat_body("hi", tool_args="{}")):
        frame = CHAT.frame(obj)
        assert frame is not None
        assert [v.text for v in loose_values(obj, allow=CHAT.allow, frame=frame)] == ["lookup"]


def test_log_probabilities_nested_in_responses_events_are_removed() -> None:
    """They repeat the raw tokens one by one, which a per-value scan cannot put together."""
    logprobs = [{"token": "jane", "logprob": -0.1}]
    part = {"type": "output_text", "text": "x", "logprobs": logprobs}
    item = {"type": "message", "content": [dict(part)]}
    response: dict[str, Any] = {"object": "response", "output": [item]}
    completed = {"type": "response.completed", "response": response}
    part_done = {"type": "response.content_part.done", "part": dict(part)}
    item_done = {"type": "response.output_item.done", "item": {"content": [dict(part)]}}
    for event in (completed, part_done, item_done):
        RESPONSES.scrub(event)
        assert "jane" not in json.dumps(event)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_large_object_is_walked_off_the_event_loop_and_scanned_alike(
    proxy: str, canned: Canned, streamed: bool
) -> None:
    """Objects over LOOP_WALK_CHARS are walked in the scan thread: same outcome."""
    extra = {"x_rows": [{"n": i, "note": f"row {i}"} for i in range(2000)] + [EMAIL, CARD]}
    if streamed:
        first = chat_chunk(0, role="assistant", content="") | extra
        frames = [sse(first), *chat_frames([{"content": t} for t in tokens(TEXT)])]
        assert len(frames[0]) > LOOP_WALK_CHARS
        canned.set(pieces(frames, 4096), ctype="text/event-stream")
        objs = sse_objects(clean(fetch(proxy).content))
        assert "".join(o["choices"][0]["delta"].get("content") or "" for o in objs) == REDACTED
        rows = objs[0]["x_rows"]
    else:
        body = json.dumps(chat_body(TEXT) | extra).encode()
        assert len(body) > LOOP_WALK_CHARS
        canned.set(body, ctype="application/json")
        reply = fetch(proxy)
        out = json.loads(clean(reply.content))
        assert out["choices"][0]["message"]["content"] == REDACTED
        rows = out["x_rows"]
    assert rows[-2:] == ["<EMAIL_ADDRESS>", "<CREDIT_CARD>"]
    assert rows[1999] == {"n": 1999, "note": "row 1999"}


@pytest.mark.parametrize(
    "obj",
    [
        {"object": "chat.completion", "result": f"SSN {SSN}"},
        {"object": "chat.completion.chunk", "choices": {"0": "x"}},
        {"object": "text_completion", "text": EMAIL},
        {"done": True, "result": f"SSN {SSN}"},
        {"done": "yes", "message": {"content": "x"}},
        {"error": {"code": 500}},
        {"error": 42, "detail": EMAIL},
    ],
)
def test_one_key_does_not_make_a_shape(obj: dict[str, Any]) -> None:
    """Item 5: each shape needs its required fields, not one telltale key."""
    assert detect_shape(obj, path="/v1/chat/completions") is None


# -- invariant 1 for the new channels: any byte split gives the one-shot redaction ---------

_WORDS = ["the", "order", "café", "日本語", "ok😀", "for", EMAIL, "+1 415 555 0134", SSN]
split_texts = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=25).map(" ".join)


def _chat_parts(t: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": t}]}


def _reasoning(t: str) -> dict[str, Any]:
    return {"reasoning_details": [{"type": "reasoning.text", "text": t, "index": 0}]}


def _custom(t: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": 0, "custom": {"input": t}}]}


def _chat_text(body: bytes, get: Callable[[dict[str, Any]], list[str]]) -> str:
    return "".join(
        "".join(get(o["choices"][0]["delta"])) for o in sse_objects(body) if o.get("choices")
    )


CHAT_CHANNELS = {
    "content parts": (_chat_parts, lambda d: [p["text"] for p in d.get("content") or []]),
    "reasoning_details": (
        _reasoning,
        lambda d: [r["text"] for r in d.get("reasoning_details", [])],
    ),
    "custom tool input": (
        _custom,
        lambda d: [c["custom"]["input"] for c in d.get("tool_calls", [])],
    ),
}


async def _through(guard: Guard, chunks: list[bytes], headers: Any, path: str) -> bytes:
    app = LeakGuardMiddleware(fixed_app(chunks, headers), guard=guard)
    return (await drive(app, http_scope(path))).body


def _cut(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points) if b > a]


@pytest.mark.parametrize("channel", list(CHAT_CHANNELS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=split_texts, cuts=st.lists(st.integers(0, 100_000), max_size=40))
def test_any_byte_split_of_a_new_chat_channel_gives_the_one_shot_redaction(
    make_guard: Callable[..., Guard], channel: str, text: str, cuts: list[int]
) -> None:
    guard = make_guard(PATTERNS)
    build, get = CHAT_CHANNELS[channel]
    body = b"".join(chat_frames([build(t) for t in tokens(text)]))
    out = anyio.run(_through, guard, _cut(body, cuts), SSE_HEADERS, "/v1/chat/completions")
    assert _chat_text(out, get) == guard.scan(text).text
    for raw in (EMAIL, "555 0134", SSN):
        assert raw.encode() not in out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=split_texts, cuts=st.lists(st.integers(0, 100_000), max_size=40))
def test_any_byte_split_of_list_deltas_and_ollama_thinking_gives_the_one_shot_redaction(
    make_guard: Callable[..., Guard], text: str, cuts: list[int]
) -> None:
    guard = make_guard(PATTERNS)
    expected = guard.scan(text).text
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events = [{"type": "response.output_text.delta", **at, "delta": [t]} for t in tokens(text)]
    body = b"".join(responses_frames(events))
    out = anyio.run(_through, guard, _cut(body, cuts), SSE_HEADERS, "/v1/responses")
    deltas = [o["delta"] for o in sse_objects(out) if o["type"] == "response.output_text.delta"]
    assert "".join("".join(d) for d in deltas) == expected
    lines = [ollama_line(response="", thinking=t, done=False) for t in tokens(text)]
    lines.append(ollama_line(response="", done=True))
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    out = anyio.run(_through, guard, _cut(body, cuts), NDJSON_HEADERS, "/api/generate")
    assert "".join(o.get("thinking", "") for o in ndjson_objects(out)) == expected
