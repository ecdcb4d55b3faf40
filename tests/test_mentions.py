"""Later mentions of a name already found (leakguard.pii.mentions), one-shot and streamed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from stream_kit import stream_through

from leakguard.config import OnlineConfig
from leakguard.guard import Guard
from leakguard.pii.mentions import mention_spans, name_words

PATTERNS = {"pii": {"spacy_model": "none"}}
FILLER = "The order shipped today and will arrive before the weekend. " * 40


@pytest.fixture(scope="module")
def patterns(make_guard: Callable[..., Guard]) -> Guard:
    return make_guard(PATTERNS)


def _mentions(text: str, name: str) -> list[str]:
    start = text.index(name)
    words = name_words(text, [(start, start + len(name))])
    return [text[a:b] for a, b in mention_spans(text, words, [(start, start + len(name))])]


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("Park Ji-yeon presented; Park also fielded questions.", "Park Ji-yeon", ["Park"]),
        ("Maria Lopes joined. Maria later said no.", "Maria Lopes", ["Maria"]),
        ("Olamide Bello wrote. Olamide's notes and Bello's reply.", "Olamide Bello",
         ["Olamide", "Bello"]),
        # a common word at the start of a sentence is that word
        ("Mark Okafor called. Mark the ticket done. Ask Mark.", "Mark Okafor", ["Mark"]),
        ("Hope Mensah is here. Hope you are well.", "Hope Mensah", []),
        # before another capitalised word, after an article, before a law: no mention
        ("Rose Okafor lives on Rose Street.", "Rose Okafor", []),
        ("Grace Baker left. Take the Baker line.", "Grace Baker", []),
        ("Ada Dijkstra spoke about Dijkstra's algorithm.", "Ada Dijkstra", []),
        # only forward, only whole words, only the same letter case
        ("Bello said hi to Olamide Bello and Bellona.", "Olamide Bello", []),
        ("Precious Moyo won the precious trophy.", "Precious Moyo", []),
        # titles and months never carry over
        ("Dr. May Tanaka arrived. Dr. Chen left in May.", "Dr. May Tanaka", []),
    ],
)  # fmt: skip
def test_later_mentions(text: str, name: str, expected: list[str]) -> None:
    assert _mentions(text, name) == expected


def test_a_later_mention_is_redacted_in_a_one_shot_scan(patterns: Guard) -> None:
    text = "My name is Olamide Bello. " + FILLER + "Olamide said thanks; Bello too."
    out = patterns.scan(text).text
    assert "Olamide" not in out
    assert "Bello" not in out


def test_a_stream_remembers_names_beyond_its_window(patterns: Guard) -> None:
    """The first mention is 2,400 characters back, far outside the stream's window: the
    stream keeps the name's words and gives the one-shot redaction."""
    text = "My name is Olamide Bello. " + FILLER + "Olamide said thanks; Bello too."
    online = OnlineConfig(hold_back_chars=64, context_chars=48, scan_batch_chars=32)
    assert len(FILLER) > 10 * (online.hold_back_chars + online.context_chars)
    out = stream_through(patterns, list(text), online)
    assert out == patterns.scan(text).text
    assert "Olamide" not in out
    assert "Bello" not in out


def test_an_allowed_value_is_no_mention_in_a_stream(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard({**PATTERNS, "pii": {**PATTERNS["pii"], "allow_list": ["Bello"]}})
    text = "My name is Olamide Bello. " + FILLER + "Olamide said thanks; Bello too."
    out = stream_through(guard, list(text))
    assert out.endswith("<PERSON> said thanks; Bello too.")
