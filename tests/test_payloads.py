from __future__ import annotations

from typing import Any

import pytest
from asgi_kit import chat_body, chat_chunk

from leakguard.config import JSONPathRule
from leakguard.online.shapes import (
    CHAT,
    COMPLETIONS,
    ERROR,
    OLLAMA,
    RESPONSES,
    JSONPathShape,
    detect_shape,
)


def channels(shape: Any, obj: Any) -> dict[tuple[Any, ...], tuple[str, str]]:
    frame = shape.frame(obj)
    assert frame is not None
    return {p.channel: (p.kind, p.text) for p in frame.pieces}


def test_chat_body_has_one_channel_per_choice_and_tool_call() -> None:
    body = chat_body("first", "second", tool_args='{"q": "x"}')
    assert channels(CHAT, body) == {
        (0, "content"): ("whole", "first"),
        (0, "tool", 0): ("whole", '{"q": "x"}'),
        (1, "content"): ("whole", "second"),
        (1, "tool", 0): ("whole", '{"q": "x"}'),
    }


def test_chat_chunk_deltas_use_the_choice_and_tool_call_indices() -> None:
    assert channels(CHAT, chat_chunk(3, content="hi")) == {(3, "content"): ("delta", "hi")}
    assert channels(CHAT, chat_chunk(1, tool=(2, '{"a'))) == {(1, "tool", 2): ("delta", '{"a')}
    frame = CHAT.frame(chat_chunk(1, finish="stop"))
    assert frame is not None
    assert frame.ends == [(1,)]


def test_chat_text_fields_a_server_adds_are_guarded_too() -> None:
    chunk = chat_chunk(0, role="assistant")
    chunk["choices"][0]["delta"] |= {"reasoning": "r", "audio": {"id": "a1", "transcript": "t"}}
    assert channels(CHAT, chunk) == {
        (0, "reasoning"): ("delta", "r"),
        (0, "audio"): ("delta", "t"),
    }


def test_chat_synthesized_chunk_carries_only_the_held_text() -> None:
    template = chat_chunk(1, content="x", role="assistant")
    out = CHAT.synthesize(template, (1, "content"), "held text")
    assert out["choices"] == [
        {"index": 1, "delta": {"content": "held text"}, "finish_reason": None}
    ]
    tool = CHAT.synthesize(template, (1, "tool", 2), "}")
    assert tool["choices"][0]["delta"] == {
        "tool_calls": [{"index": 2, "function": {"arguments": "}"}}]
    }
    assert out["id"] == template["id"]


def test_completions_text_and_finish() -> None:
    obj = {
        "object": "text_completion",
        "choices": [{"index": 0, "text": "t", "finish_reason": "length"}],
    }
    frame = COMPLETIONS.frame(obj)
    assert frame is not None
    assert [(p.channel, p.text) for p in frame.pieces] == [((0, "text"), "t")]
    assert frame.ends == [(0,)]


@pytest.mark.parametrize(
    ("event", "expected", "ends"),
    [
        (
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "content_index": 1,
                "delta": "d",
            },
            {(0, "text", 1): ("delta", "d")},
            [],
        ),
        (
            {
                "type": "response.output_text.done",
                "output_index": 0,
                "content_index": 1,
                "text": "all",
            },
            {(0, "text", 1): ("final", "all")},
            [(0, "text", 1)],
        ),
        (
            {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": "{"},
            {(2, "args", 0): ("delta", "{")},
            [],
        ),
        (
            {
                "type": "response.content_part.done",
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "all"},
            },
            {(0, "text", 0): ("final", "all")},
            [],
        ),
        (
            {
                "type": "response.completed",
                "response": {
                    "object": "response",
                    "output": [
                        {
                            "type": "message",
                            "content": [
                                {"type": "output_text", "text": "a"},
                                {"type": "refusal", "refusal": "r"},
                            ],
                        },
                        {"type": "function_call", "arguments": "{}"},
                    ],
                },
            },
            {
                (0, "text", 0): ("final", "a"),
                (0, "refusal", 1): ("final", "r"),
                (1, "args", 0): ("final", "{}"),
            },
            [],
        ),
        ({"type": "response.created", "response": {"output": []}}, {}, []),
        (
            {"type": "response.audio.transcript.delta", "output_index": 0, "delta": "hi"},
            {(0, "response.audio.transcript", 0): ("delta", "hi")},
            [],
        ),
        (
            {
                "type": "response.audio.transcript.done",
                "output_index": 0,
                "item_id": "x",
                "transcript": "hi all",
            },
            {(0, "response.audio.transcript", 0): ("final", "hi all")},
            [(0, "response.audio.transcript", 0)],
        ),
    ],
)
def test_responses_events(event: dict[str, Any], expected: dict[Any, Any], ends: list[Any]) -> None:
    frame = RESPONSES.frame(event)
    assert frame is not None
    assert {p.channel: (p.kind, p.text) for p in frame.pieces} == expected
    assert frame.ends == ends


def test_responses_whole_body() -> None:
    body = {
        "object": "response",
        "model": "m",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "hello"}]}],
    }
    assert channels(RESPONSES, body) == {(0, "text", 0): ("whole", "hello")}


def test_ollama_chat_and_generate_lines() -> None:
    line = {"model": "m", "message": {"role": "assistant", "content": "hi"}, "done": False}
    assert channels(OLLAMA, line) == {("content",): ("delta", "hi")}
    last = {"model": "m", "response": "", "done": True, "context": [1, 2, 3]}
    frame = OLLAMA.frame(last)
    assert frame is not None
    assert frame.ends == [()]
    OLLAMA.scrub(last)
    assert "context" not in last  # token ids would encode the raw text


def test_ollama_tool_call_arguments_are_scanned_as_whole_strings() -> None:
    line = {
        "done": False,
        "message": {
            "tool_calls": [
                {"function": {"name": "f", "arguments": {"to": "a@b.io", "cc": ["c@d.io"]}}}
            ]
        },
    }
    assert channels(OLLAMA, line) == {
        ("tool", 0, "to"): ("whole", "a@b.io"),
        ("tool", 0, "cc", 0): ("whole", "c@d.io"),
    }


def test_error_bodies_are_scanned_too() -> None:
    assert channels(ERROR, {"error": {"message": "bad a@b.io"}}) == {
        ("error", "message"): ("whole", "bad a@b.io")
    }
    assert channels(ERROR, {"error": "oops"}) == {("error",): ("whole", "oops")}


def test_json_paths_walk_lists_and_apply_only_on_their_route() -> None:
    rules = [JSONPathRule(path="/generate", fields=["data.*.text", "summary"])]
    body = {"data": [{"text": "a"}, {"text": "b"}], "summary": "s", "other": "o"}
    shape = detect_shape(body, path="/generate", json_paths=rules)
    assert isinstance(shape, JSONPathShape)
    assert sorted(channels(shape, body)) == [("data", 0, "text"), ("data", 1, "text"), ("summary",)]
    assert detect_shape(body, path="/elsewhere", json_paths=rules) is None


def test_unknown_json_has_no_shape() -> None:
    assert detect_shape({"result": "text"}, path="/v1/x") is None
    assert detect_shape([1, 2], path="/v1/x") is None


def test_logprobs_are_removed_because_they_repeat_the_tokens() -> None:
    chunk = chat_chunk(0, content="x")
    chunk["choices"][0]["logprobs"] = {"content": [{"token": "secret"}]}
    CHAT.scrub(chunk)
    assert chunk["choices"][0]["logprobs"] is None
