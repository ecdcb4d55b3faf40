"""Obfuscated values in streams: however the upstream splits the text (a zero-width
character or a full-width digit cut off from its value, UTF-8 bytes cut in half), the
client gets the one-shot redaction and never the value (invariant 1)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from asgi_kit import SSE, chat_stream, chat_text, drive, fixed_app, split_text
from deobfuscate_kit import FORMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_kit import joined_texts, stream_through

from leakguard.config import OnlineConfig
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.testing import tokens

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}
HOLD_BACK = OnlineConfig().hold_back_chars

WORDS = ["the", "order", "at", "dot", "shipped", "caf\u00e9", "\u65e5\u672c", "ok", "|", "for"]
# Every one-line form of the table that fits in the default hold-back (a longer value can
# be cut in a stream: see the README, "Obfuscated values").
VALUES = sorted({f.value for f in FORMS if "\n" not in f.template and len(f.value) < HOLD_BACK - 8})
LONGEST = max(map(len, VALUES))
SEPARATORS = [" ", " ", "\n", ", ", ". "]

texts = joined_texts(WORDS + VALUES, SEPARATORS, max_size=24)


@pytest.fixture(scope="module")
def patterns(make_guard: Callable[..., Guard]) -> Guard:
    return make_guard(PATTERNS)


def test_the_values_cover_most_forms() -> None:
    assert len(VALUES) >= 55


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.lists(st.integers(1, 9), max_size=200))
def test_any_split_of_obfuscated_values_gives_the_one_shot_redaction(
    patterns: Guard, text: str, sizes: list[int]
) -> None:
    expected = patterns.scan(text)
    out = stream_through(patterns, split_text(text, sizes))
    assert out == expected.text
    for f in expected.findings:
        if f.replacement is not None:
            assert text[f.start : f.end] not in out or text[f.start : f.end] in expected.text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.integers(LONGEST, 64), st.integers(1, 40))
def test_one_character_chunks_and_small_hold_backs_still_give_the_one_shot_redaction(
    patterns: Guard, text: str, hold: int, batch: int
) -> None:
    """Hold-backs down to the longest value (a longer value may be cut: by design)."""
    online = OnlineConfig(hold_back_chars=hold, context_chars=hold, scan_batch_chars=batch)
    assert stream_through(patterns, list(text), online) == patterns.scan(text).text


@pytest.mark.parametrize(
    "text",
    [
        "mail jane\u200b.doe@exa\u2060mple.com now",
        "card \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 "
        "\uff11\uff11\uff11\uff11 ok",
        "write to jane [at] example [dot] com today",
    ],
)
def test_every_one_character_split_point_keeps_the_value_in(patterns: Guard, text: str) -> None:
    """Two chunks, cut at every offset (the zero-width character alone at a chunk end)."""
    expected = patterns.scan(text).text
    assert "<" in expected
    for cut in range(1, len(text)):
        assert stream_through(patterns, [text[:cut], text[cut:]]) == expected


def _byte_chunks(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % max(len(body), 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points) if b > a]


async def _through_middleware(guard: Guard, chunks: list[bytes]) -> bytes:
    app = LeakGuardMiddleware(fixed_app(chunks, SSE), guard=guard)
    return (await drive(app)).body


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.lists(st.integers(0, 100_000), max_size=60))
def test_any_byte_split_of_an_sse_body_with_obfuscated_values_gives_the_one_shot_redaction(
    patterns: Guard, text: str, cuts: list[int]
) -> None:
    """Cuts fall inside the UTF-8 bytes of zero-width and full-width characters too."""
    out = anyio.run(_through_middleware, patterns, _byte_chunks(chat_stream(tokens(text)), cuts))
    expected = patterns.scan(text)
    assert chat_text(out) == expected.text
    for f in expected.findings:
        value = text[f.start : f.end]
        if f.replacement is not None and value not in expected.text:  # (not found elsewhere)
            assert value.encode() not in out


def test_the_default_model_guard_streams_a_zero_width_value_in_one_byte_chunks(
    guard: Guard,
) -> None:
    text = (
        "Sure! Her card is 4111\u200b1111\u200b1111\u200b1111 and she is at "
        "jane [at] example [dot] com."
    )
    body = chat_stream(tokens(text))
    out = anyio.run(_through_middleware, guard, [body[i : i + 1] for i in range(len(body))])
    assert chat_text(out) == guard.scan(text).text
    assert "<CREDIT_CARD>" in chat_text(out)
    assert "<EMAIL_ADDRESS>" in chat_text(out)
    assert b"1111" not in out
    assert b"example" not in out
