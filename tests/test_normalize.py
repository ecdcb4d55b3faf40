# ruff: noqa: RUF001  (look-alike letters are the point of these tests)
from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard.memorization.normalize import (
    complete_lexemes,
    has_separator,
    lex,
    lexemes,
    normalize_char,
)

PLAIN = "the quick brown fox jumps over the lazy dog"
WORDS = PLAIN.split()


@pytest.mark.parametrize(
    ("evasion", "text"),
    [
        ("all caps", PLAIN.upper()),
        ("title case", PLAIN.title()),
        ("alternating case", "".join(c.upper() if i % 2 else c for i, c in enumerate(PLAIN))),
        ("extra whitespace", "  the   quick\tbrown \n\n fox jumps  over the lazy dog  "),
        ("line breaks", PLAIN.replace(" ", "\n")),
        (
            "no-break and ideographic spaces",
            PLAIN.replace(" ", "\u00a0").replace("fox", "\u3000fox"),
        ),
        ("changed punctuation", "The quick, brown fox; jumps over (the) lazy dog!"),
        ("dashes and quotes", "the \u201cquick\u201d brown fox\u2014jumps over the lazy dog\u2026"),
        (
            "zero-width characters",
            "the qu\u200bick br\u200cown f\u200dox ju\ufeffmps over the l\u00adazy dog",
        ),
        (
            "cyrillic look-alikes",
            "the quick br\u043ewn f\u043ex jumps \u043ever the l\u0430zy d\u043eg",
        ),
        ("greek look-alikes", "the quick br\u03bfwn f\u03bfx jumps \u03bfver the lazy d\u03bfg"),
        (
            "full-width letters",
            "ｔｈｅ ｑｕｉｃｋ ｂｒｏｗｎ ｆｏｘ ｊｕｍｐｓ ｏｖｅｒ ｔｈｅ ｌａｚｙ ｄｏｇ",
        ),
        ("math letters", "\U0001d42d\U0001d421\U0001d41e quick brown fox jumps over the lazy dog"),
        ("accents added", "th\u00e9 quick brown fox jumps \u00f6ver the lazy dog"),
        ("combining accents", "the quick bro\u0301wn fox jumps over the lazy dog"),
        ("markdown bold and italics", "**the quick** _brown_ fox *jumps* over __the__ lazy `dog`"),
        ("markdown bullets and quotes", "> - the quick brown\n> * fox jumps over\n+ the lazy dog"),
        (
            "markdown heading and strike-through",
            "## the quick brown fox\n### jumps over the ~~lazy~~ dog",
        ),
    ],
)
def test_evasion_lexes_like_the_plain_text(evasion: str, text: str) -> None:
    assert lexemes(text) == WORDS, evasion
    assert lex(text).words == lexemes(text)


def test_lexeme_offsets_point_into_the_original_text() -> None:
    text = "Ｆｏｏ, **BAR** ba\u200bz ﬁne straße 日本"
    lexed = lex(text)
    assert lexed.words == ["foo", "bar", "baz", "fine", "strasse", "日", "本"]
    assert [text[a:b] for a, b in zip(lexed.starts, lexed.ends, strict=True)] == [
        "Ｆｏｏ",
        "BAR",
        "ba\u200bz",
        "ﬁne",
        "straße",
        "日",
        "本",
    ]


def test_characters_map_one_by_one() -> None:
    assert normalize_char("A") == "a"
    assert normalize_char("\u200b") == ""
    assert normalize_char("-") == " "
    assert normalize_char("\u0430") == "a"  # Cyrillic a
    assert normalize_char("Ⅻ") == "xii"


def test_long_texts_take_the_vectorized_path_with_the_same_result() -> None:
    text = ("Hello, WORLD!  zero\u200bwidth \u0430nd ﬁnal. " * 40).strip()
    long = lex(text)
    short = [lex(piece) for piece in text.split(". ")]
    assert long.words == [w for s in short for w in s.words]
    assert long.words == lexemes(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_lex_and_lexemes_agree_on_any_text(text: str) -> None:
    lexed = lex(text)
    assert lexed.words == lexemes(text)
    assert all(w for w in lexed.words)
    assert all(0 <= a < b <= len(text) for a, b in zip(lexed.starts, lexed.ends, strict=True))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_nfkc_equivalent_texts_lex_the_same(text: str) -> None:
    assert lexemes(unicodedata.normalize("NFKC", text)) == lexemes(text)
    assert lexemes(unicodedata.normalize("NFD", text)) == lexemes(text)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab \u200b.Ａ\u0301ﬁ日\n"), max_size=60),
    st.lists(st.integers(min_value=0, max_value=60), max_size=8),
)
def test_lexing_in_pieces_with_a_carried_tail_equals_lexing_the_whole(
    text: str, cuts: list[int]
) -> None:
    words: list[tuple[str, int, int]] = []
    carry, carry_start = "", 0
    bounds = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    for a, b in itertools.pairwise(bounds):
        buffer = carry + text[a:b]
        done, tail = complete_lexemes(buffer)
        words += [(w, carry_start + s, carry_start + e) for w, s, e in done]
        carry, carry_start = buffer[tail:], carry_start + tail
    lexed = lex(carry)
    words += [
        (w, carry_start + int(s), carry_start + int(e))
        for w, s, e in zip(lexed.words, lexed.starts, lexed.ends, strict=True)
    ]
    whole = lex(text)
    assert words == [
        (w, int(s), int(e)) for w, s, e in zip(whole.words, whole.starts, whole.ends, strict=True)
    ]


def test_has_separator_tells_whether_a_word_ended() -> None:
    assert has_separator("abc def")
    assert has_separator("abc.")
    assert not has_separator("abc\u200bdef")
