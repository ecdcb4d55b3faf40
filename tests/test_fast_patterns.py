"""The recognizers' faster pattern forms find exactly what the plain forms found:
patterns that begin with a character class instead of a lookbehind (``led_by``), and
keyword tests on the lower-cased text instead of ``(?i)a|b|c`` (``CaselessWords``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard.recognizers import address, cards, licence
from leakguard.recognizers.base import ASCII_FOLDS, CaselessWords, led_by

# Pieces that make the patterns match, nearly match, or sit glued to a neighbour.
_PIECES = [
    "12 Main Street",
    "7631 Johnson Village",
    "221B Baker St.",
    "8, avenue Manon Gillet",
    "12 rue de la Paix",
    "228 West Indawo, Paarl, 4255",
    "Hauptstraße 5",
    "Mátraszéki utca 125.",
    "Lindseysingel 6",
    "Calle Mayor 5, 28013 Madrid",
    "Jan Smuts 23, 4001 Durban",
    "A123-4567-8901",
    "A123-456-78-901-0",
    "A 123 456 789 012",
    "123 456 789",
    "12 345 678",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5500000000000004",
    "v1.2.3",
    "x-12",
]
_CHARS = st.sampled_from(list("0123456789AZaÀŽé -.,/_'\u2019\t\n:#") + _PIECES)
_TEXTS = st.lists(_CHARS, max_size=40).map("".join)

# (?<!B)F written back where led_by put F(?<!(?:B)F); then \d\d{0,4} back to \d{1,5},
# \d\d{2} to \d{3} and \d\d to \d{2}: the patterns as they were before led_by.
_LED = re.compile(r"(\[[^\]]*\]|\\d)\(\?<!\(\?:(\[[^\]]*\])\)\1\)")
_DIGITS = re.compile(r"\\d\\d(?:\{(\d+)(?:,(\d+))?\})?")


def _one_more(m: re.Match[str]) -> str:
    low, high = m.group(1), m.group(2)
    if low is None:
        return r"\d{2}"
    if high is None:
        return rf"\d{{{int(low) + 1}}}"
    return rf"\d{{{int(low) + 1},{int(high) + 1}}}"


def _lookbehind_form(pattern: str) -> str:
    pattern = _LED.sub(lambda m: f"(?<!{m.group(2)}){m.group(1)}", pattern)
    return _DIGITS.sub(_one_more, pattern)


def _patterns() -> list[tuple[str, re.Pattern[str], re.Pattern[str]]]:
    found: list[tuple[str, re.Pattern[str]]] = [
        (f"address {kind}", pattern) for kind, pattern in address._STREET_FORMS
    ]
    found += [(f"licence {i}", pattern) for i, (_, pattern) in enumerate(licence._FORMS)]
    found += [("cards candidate", cards._CANDIDATE)]
    pairs = [
        (name, new, re.compile(_lookbehind_form(new.pattern), new.flags)) for name, new in found
    ]
    # The street-and-number line: its first word was also taken out of a {1,4} repeat.
    up, number = address._UP, address._NUMBER
    bare = re.compile(
        rf"(?<![\w-])(?:[{up}][^\W\d_]*[ \t]){{1,4}}{number},[ \t]*{address._NUMERIC_POSTCODE}"
        rf"[ \t]+{address._PLACE}"
    )
    pairs.append(("address bare with postcode", address._BARE_WITH_POSTCODE, bare))
    return pairs


PATTERNS = _patterns()


def test_led_by_begins_with_its_class() -> None:
    assert led_by(r"\d", r"[\w.-]") == r"\d(?<!(?:[\w.-])\d)"
    # the rewritten forms really differ from the lookbehind ones (the test is not vacuous)
    rewritten = [name for name, new, old in PATTERNS if new.pattern != old.pattern]
    assert len(rewritten) == len(PATTERNS) - 2  # the two type-word forms are unchanged


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_rewritten_patterns_find_what_the_lookbehind_forms_find(text: str) -> None:
    for name, new, old in PATTERNS:
        got = [m.span() for m in new.finditer(text)]
        expected = [m.span() for m in old.finditer(text)]
        assert got == expected, name


def test_rewritten_patterns_on_typical_text() -> None:
    text = (
        "Ship to 12 Main Street, Springfield, IL 62704. Licence A123-4567-8901, card "
        "4111 1111 1111 1111; not x12 Main Street nor -4111111111111111 nor 3.4111111111111111."
        "\nJan Smuts 23, 4001 Durban\nHauptstraße 5\n123 456 789 and 12 345 678"
    )
    hits = 0
    for name, new, old in PATTERNS:
        got = [m.span() for m in new.finditer(text)]
        assert got == [m.span() for m in old.finditer(text)], name
        hits += len(got)
    assert hits >= 8


def test_ascii_folds_are_every_non_ascii_character_that_folds_to_an_ascii_letter() -> None:
    letters = re.compile("(?i:[a-z])")
    folding = {
        c
        for c in map(chr, range(0x80, 0x110000))
        if letters.fullmatch(c) or any(ch.isascii() and ch.isalpha() for ch in c.lower())
    }
    assert folding == set(ASCII_FOLDS)


_WORDS = ("pass", "pwd", "key", "name", "token")
_WORD_TEXTS = st.lists(
    st.sampled_from([*_WORDS, "PASS", "Key", "nAmE", "to", "ken", "x", " ", "é", "—", "ß"])
    | st.sampled_from([*ASCII_FOLDS, "pa\u017fs", "\u212aey", "na\u0130me", "p\u0131wd"]),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_WORD_TEXTS)
def test_caseless_words_answer_what_the_ignorecase_regex_answers(text: str) -> None:
    regex = re.compile("(?i)" + "|".join(_WORDS))
    assert CaselessWords(*_WORDS).found_in(text) == (regex.search(text) is not None)


def test_caseless_words_on_folded_letters() -> None:
    words = CaselessWords("pass", "key")
    assert words.found_in("my PaSsword")
    assert words.found_in("pa\u017fs")  # long s: re's IGNORECASE takes it for an s
    assert words.found_in("\u212aEY")  # Kelvin sign for K
    assert not words.found_in("p a s s, k e y")
    with pytest.raises(ValueError, match="lower-case ASCII"):
        CaselessWords("Key")
