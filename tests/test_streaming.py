"""Invariant 1: however the upstream splits a stream, the client gets the one-shot redaction."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from asgi_kit import SSE, chat_stream, chat_text, drive, fixed_app, split_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_kit import joined_texts, stream_through

from leakguard.config import OnlineConfig
from leakguard.findings import Finding
from leakguard.guard import Guard
from leakguard.middleware import LeakGuardMiddleware
from leakguard.online.streaming import ResponseGuard, StreamGuard
from leakguard.policy import Numbering
from leakguard.testing import tokens

PATTERNS: dict[str, Any] = {"pii": {"spacy_model": "none"}}

WORDS = ["the", "order", "shipped", "today", "café", "naïve", "日本語", "ok😀", "Zürich", "for"]
# Values the pattern recognizers find; the multi-byte ones make UTF-8 splits likely.
VALUES = [
    "jane.doe@example.com",
    "zoë.müller@beispiel.de",
    "+1 415 555 0134",
    "4111 1111 1111 1111",
    "81.2.69.160",
    "GB82 WEST 1234 5698 7654 32",
]
SEPARATORS = [" ", " ", " ", "\n", ", ", ". "]

texts = joined_texts(WORDS + VALUES, SEPARATORS, max_size=40)


@pytest.fixture(scope="module")
def patterns(make_guard: Callable[..., Guard]) -> Guard:
    return make_guard(PATTERNS)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.lists(st.integers(1, 9), max_size=200))
def test_any_split_of_the_text_gives_the_one_shot_redaction(
    patterns: Guard, text: str, sizes: list[int]
) -> None:
    assert stream_through(patterns, split_text(text, sizes)) == patterns.scan(text).text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.integers(8, 40), st.integers(1, 50))
def test_small_hold_back_and_batches_still_give_the_one_shot_redaction(
    patterns: Guard, text: str, hold: int, batch: int
) -> None:
    online = OnlineConfig(hold_back_chars=max(hold, 32), context_chars=hold, scan_batch_chars=batch)
    pieces = list(text)  # one character at a time
    assert stream_through(patterns, pieces, online) == patterns.scan(text).text


@pytest.mark.parametrize("cards", [2, 3])
def test_a_window_never_opens_inside_a_finding_it_released(patterns: Guard, cards: int) -> None:
    """Found by the property above: with 8 characters of context the window opened inside
    the first card number, the card pattern matched its tail plus the head of the second
    number, and the second number's last group was released in clear (or two numbers
    merged into one placeholder)."""
    text = "the " + "4111 1111 1111 1111 " * cards + "jane.doe@example.com "
    online = OnlineConfig(hold_back_chars=32, context_chars=8, scan_batch_chars=1)
    out = stream_through(patterns, list(text), online)
    assert out == patterns.scan(text).text
    assert out == "the " + "<CREDIT_CARD> " * cards + "<EMAIL_ADDRESS> "


def _sse_cuts(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % max(len(body), 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points) if b > a]


async def _through_middleware(guard: Guard, chunks: list[bytes]) -> bytes:
    app = LeakGuardMiddleware(fixed_app(chunks, SSE), guard=guard)
    return (await drive(app)).body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.lists(st.integers(0, 100_000), max_size=60))
def test_any_byte_split_of_an_sse_body_gives_the_one_shot_redaction(
    patterns: Guard, text: str, cuts: list[int]
) -> None:
    """Cuts fall anywhere: inside UTF-8 characters, SSE field names, JSON and CRLFs."""
    body = chat_stream(tokens(text))
    out = anyio.run(_through_middleware, patterns, _sse_cuts(body, cuts))
    expected = patterns.scan(text)
    assert chat_text(out) == expected.text
    removed = [text[f.start : f.end] for f in expected.findings if f.replacement is not None]
    for value in removed:
        assert value.encode() not in out


def test_one_byte_chunks_inside_multibyte_characters_give_the_one_shot_redaction(
    patterns: Guard,
) -> None:
    text = "Grüße aus Zürich 😀 — schreib an zoë.müller@beispiel.de oder 日本語 +1 415 555 0134 ok"
    body = chat_stream(tokens(text))
    out = anyio.run(_through_middleware, patterns, [body[i : i + 1] for i in range(len(body))])
    assert chat_text(out) == patterns.scan(text).text
    assert b"beispiel" not in out
    assert b"555 0134" not in out


@pytest.mark.heavy
def test_names_found_by_ner_never_leave_in_any_byte(make_guard: Callable[..., Guard]) -> None:
    """With NER on, exact equality is not promised (NER sees windows); planted values that
    the one-shot scan finds must still never appear in any emitted byte."""
    guard = make_guard()
    text = (
        "Thanks for waiting. I spoke with Margaret Thompson yesterday and she confirmed "
        "that Robert Kowalski will visit the Denver office on Monday. You can also reach "
        "Dr. Alan Whitfield at alan.whitfield@example.org if anything changes. "
    ) * 2
    expected = guard.scan(text)
    removed = [text[f.start : f.end] for f in expected.findings if f.replacement]
    assert {"Margaret Thompson", "alan.whitfield@example.org"} <= set(removed)
    body = chat_stream(tokens(text))
    out = anyio.run(_through_middleware, guard, [body[i : i + 5] for i in range(0, len(body), 5)])
    for value in removed:
        assert value.encode() not in out


def test_a_value_split_over_many_chunks_is_never_partly_released(patterns: Guard) -> None:
    sg = StreamGuard(patterns, patterns.config.online, numbering=Numbering())
    released = []
    prefix = "word " * 30
    for ch in prefix + "jane.doe@exam":
        sg.append(ch)
        if sg.due():
            released.append(sg.release().text)
    assert "jane" not in "".join(released)
    assert sg.held >= len("jane.doe@exam")


def test_placeholders_keep_their_numbers_across_chunks(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard({**PATTERNS, "policy": {"numbered_placeholders": True}})
    text = ("mail a@corp.io then b@corp.io and a@corp.io again. " + "filler " * 40) * 3
    assert stream_through(guard, list(text)) == guard.scan(text).text
    assert "<EMAIL_ADDRESS_2>" in guard.scan(text).text


def test_scan_work_over_a_stream_stays_close_to_one_scan(patterns: Guard) -> None:
    """Characters handed to the detectors over a 1-char-at-a-time stream (a work count,
    not a timing): at most (context + hold-back + batch) / batch times the text, plus the
    first scan (hold-back + first step), which exists for the time to first token."""
    seen = []

    class Counting:
        name = "counting"

        def detect(self, text: str) -> list[Finding]:
            seen.append(len(text))
            return []

    guard = Guard(patterns.config, detectors=[Counting()])
    text = "plain words only here " * 200
    assert stream_through(guard, list(text)) == text
    cfg = guard.config.online
    bound = (cfg.context_chars + cfg.hold_back_chars + cfg.scan_batch_chars) / cfg.scan_batch_chars
    first = cfg.hold_back_chars + cfg.first_scan_chars
    assert sum(seen) <= bound * len(text) + first
    assert sum(seen) < 2 * len(text)


def test_hold_back_overflow_splits_by_default_and_never_leaks(patterns: Guard) -> None:
    """A finding longer than max_hold_chars (a long run with no space) is cut with the
    policy applied to both parts."""

    class LongRuns:
        name = "long"

        def detect(self, text: str) -> list[Finding]:
            at = text.find("SECRET")
            if at < 0:
                return []
            end = text.find(" ", at)
            return [Finding("long", "SECRET", at, end if end > 0 else len(text), 1.0)]

    guard = Guard(patterns.config, detectors=[LongRuns()])
    online = OnlineConfig(max_hold_chars=200)
    text = "intro text " * 10 + "SECRET" + "x" * 5000 + " outro"
    rg = ResponseGuard(guard, online)
    out, kept = [], 0
    for ch in text:
        sg = rg.append(("c",), ch)
        if sg.due():
            out.append(rg.release(("c",)))
        kept = max(kept, len(sg._buf))  # what the channel keeps: bounded as the run goes on
    out.append(rg.close(("c",)))
    joined = "".join(out)
    assert "x" not in joined.replace("text", "")
    assert joined.startswith("intro text ")
    assert joined.endswith(" outro")
    assert kept <= online.max_hold_chars + online.context_chars + 2


def test_hold_back_overflow_blocks_when_configured(patterns: Guard) -> None:
    online = OnlineConfig(max_hold_chars=100, on_hold_overflow="block")
    rg = ResponseGuard(patterns, online)
    for ch in "y" * 500:
        if rg.append(("c",), ch).due():
            rg.release(("c",))
    assert rg.blocked
    assert rg.reason == "hold_overflow"


def test_a_failing_detector_blocks_the_stream(patterns: Guard) -> None:
    class Broken:
        name = "broken"

        def detect(self, text: str) -> list[Finding]:
            raise RuntimeError("boom " + text)

    rg = ResponseGuard(Guard(patterns.config, detectors=[Broken()]), patterns.config.online)
    rg.append(("c",), "my secret text " * 20)
    assert rg.close(("c",)) == ""
    assert rg.blocked
    assert rg.reason == "detector_error:RuntimeError"


def test_max_findings_counts_over_the_whole_stream(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard({**PATTERNS, "policy": {"max_findings": 3}})
    rg = ResponseGuard(guard, guard.config.online)
    for i in range(6):
        rg.append(("c",), f"write to user{i}@corp.io " + "and more words here " * 10)
        if rg.channel(("c",)).due():
            rg.release(("c",))
    rg.close(("c",))
    assert rg.blocked
    assert rg.reason == "max_findings:3"


class _Memorized:
    """An incremental detector: flags every 'lorem' word and holds text after the last
    'lorem' until a word that is not 'lorem' follows (a run that may still grow)."""

    name = "memorization"

    def detect(self, text: str) -> list[Finding]:
        return []

    def stream(self) -> _MemorizedStream:
        return _MemorizedStream()


class _MemorizedStream:
    def __init__(self) -> None:
        self.text = ""
        self.emitted = 0

    @property
    def hold_from(self) -> int:
        at = self.text.find("lorem", self.emitted)
        return at if at >= 0 else len(self.text)

    def feed(self, text: str) -> list[Finding]:
        self.text += text
        return self._runs(final=False)

    def flush(self) -> list[Finding]:
        return self._runs(final=True)

    def _runs(self, *, final: bool) -> list[Finding]:
        out = []
        while (at := self.text.find("lorem", self.emitted)) >= 0:
            end = at
            while self.text.startswith("lorem ", end):
                end += 6
            if not final and "lorem ".startswith(self.text[end:]):
                break  # the run may still grow
            stop = end - 1 if end > at else at + 5  # the run without its last space
            out.append(Finding("memorization", "MEMORIZED", at, stop, 1.0))
            self.emitted = max(end, stop)
        return out


def test_incremental_detector_holds_a_growing_run_and_redacts_it_once(patterns: Guard) -> None:
    guard = Guard(patterns.config, detectors=[*patterns.detectors, _Memorized()])
    text = "some words " * 20 + "lorem " * 30 + "and then the end of it all " * 5
    out = stream_through(guard, list(text))
    assert "lorem" not in out
    assert out.count("<MEMORIZED>") == 1


def test_evidence_offsets_point_into_the_channel_text(patterns: Guard) -> None:
    rg = ResponseGuard(patterns, patterns.config.online)
    text = "filler words " * 20 + "mail jane.doe@example.com now " + "tail words " * 20
    for ch in text:
        if rg.append(("c",), ch).due():
            rg.release(("c",))
    rg.close(("c",))
    (evidence,) = rg.evidence
    assert evidence.value == "jane.doe@example.com"
    f = evidence.finding
    assert text[f.start : f.end] == "jane.doe@example.com"
    assert "<EMAIL_ADDRESS>" in evidence.context
