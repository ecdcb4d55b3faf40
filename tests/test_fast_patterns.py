# ruff: noqa: RUF001
"""The recognizers' faster pattern forms find exactly what the plain forms found:
patterns that begin with a character class instead of a lookbehind (``led_by``), and
keyword tests on the lower-cased text instead of ``(?i)a|b|c`` (``CaselessWords``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakguard.pii.recognizers import address, cards, licence, names, phone
from leakguard.pii.recognizers.base import (
    ASCII_FOLDS,
    CaselessWords,
    caseless_class,
    caseless_led,
    led_by,
    trie_branches,
)

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
    "1-2-3 Umeda, Kita-ku",
    "45 Olympic-ro 35-gil",
    "Rothschild Blvd 22,",
    "B-12, ",
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
        (f"address {kind}", pattern) for kind, pattern in address._STREET_REGEXES
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
        rf"[ \t]+{address._PLACE}{address._DISTRICT}"
    )
    pairs.append(("address bare with postcode", address._BARE_WITH_POSTCODE, bare))
    return pairs


PATTERNS = _patterns()


def test_led_by_begins_with_its_class() -> None:
    assert led_by(r"\d", r"[\w.-]") == r"\d(?<!(?:[\w.-])\d)"
    # the rewritten forms really differ from the lookbehind ones (the test is not vacuous)
    rewritten = [name for name, new, old in PATTERNS if new.pattern != old.pattern]
    # unchanged: the two type-word forms, the PO box form and the unit-first form, which
    # begin with a lookbehind or a caseless_led (held to its plain form below), and the CJK
    # form, which begins with its script
    assert len(rewritten) == len(PATTERNS) - 5


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


# --- caseless_led and StartGate: the name cues and the type-first street forms ----------

_FIRST_LETTERS = sorted(
    {b[0].lower() for b in trie_branches(address._PREFIX_TYPES)}
    | {b[0].lower() for b in names._top_level_branches(names._FIELDS)}
    | set("dhgtcwmpfsibo")
)


def test_caseless_class_is_every_character_ignorecase_takes_for_the_letter() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for letter in _FIRST_LETTERS:
        expected = set(re.findall("(?i)" + re.escape(letter), every))
        assert set(caseless_class(letter)) == expected, letter


def test_caseless_led_begins_with_literals_and_checks_its_input() -> None:
    led = caseless_led(["dear", "hi"], r"\w")
    assert led.startswith("(?:D(?<!(?:\\w)D)(?i:ear)|d(?<!")
    found = re.compile(led).search("Oh, hI there")
    assert found is not None
    assert found.span() == (4, 6)
    assert re.compile(led).search("this") is None  # 'hi' inside a word
    with pytest.raises(ValueError, match="begin with a letter"):
        caseless_led(["(?:a)b"])


_CAP, _LOW = names._CAP_NAME, names._LOW_NAME
_FIELDS_PLAIN = names._FIELDS.replace(r"full[ \t]+name|name", r"(?:full[ \t]+)?name", 1)
# The cues as they were written before caseless_led and led_by.
_PLAIN_CUES = {
    "field": rf"(?i:(?<![\w-])(?:{_FIELDS_PLAIN}))[\"']?[ \t]*(?:\*\*)?[ \t]*[:=][ \t]*"
    rf"(?:\*\*)?[ \t]*[\"']?(?P<name>{_CAP})",
    "display_name": rf"(?:^|(?<=[\s,:;(\"']))(?P<name>{_CAP})[ \t]+<[^\s<>@]+@[^\s<>]+>",
    "greeting": r"(?i:\b(?:dear|hi|hello|hey|greetings|good[ \t]+(?:morning|afternoon|evening)"
    r"|thanks|thank[ \t]+you|congratulations|congrats|welcome))[ \t]*,?[ \t]+"
    rf"(?P<name>{_CAP})(?=[ \t]*[,!.:;?]|[ \t]*$)",
    "honorific": r"(?i:\b(?:mr|mrs|ms|miss|mx|dr|prof|herr|frau|mme|mlle|sr|sra))\.?[ \t]+"
    rf"(?P<name>{_CAP})",
    "phrase": r"(?i:\b(?:my[ \t]+name[ \t]+is|i[ \t]*['’]?[ \t]*a?m|this[ \t]+is"
    r"|belongs[ \t]+to|issued[ \t]+to|on[ \t]+behalf[ \t]+of|c/o))[ \t]+"
    rf"(?P<name>{_CAP})",
    "lower": rf"(?i:\bmy[ \t]+name[ \t]+is)[ \t]+(?P<name>{_LOW})(?![\w'’-])",
}
_UP, _NUM, _TRIE = address._UP, address._NUMBER, address._PREFIX_TRIE
_PLAIN_STREETS = {
    "type_first": rf"(?<![\w-])(?P<type>(?i:{_TRIE}))\.?[ \t]+(?:[\w'’.-]+[ \t]+){{0,5}}?"
    rf"[\w'’.-]+(?:(?<!\d),[ \t]*|[ \t]+)(?:(?:(?i:n|no|nr|n°|nº|núm|num)\.?|\#)[ \t]*)?"
    rf"(?:{_NUM}|(?i:s/n))(?![\w])",
    "type_first_no_number": rf"(?<![\w-])(?P<type>(?i:{_TRIE}))\.?"
    rf"(?:[ \t]+(?:[{_UP}][^\W\d_]*|{address._PARTICLES})){{0,3}}[ \t]+[{_UP}][^\W\d_]*(?=,)",
    "unit_first": r"(?<![\w-])(?i:plot|house|flat|door|shop|block|villa)\.?[ \t]*"
    r"(?:(?i:no)\.?[ \t]*)?(?=[\w/-]*\d)[\w/-]{1,8}(?=,)",
    "bare": rf"(?:^|(?<=:[ \t])|(?<=:\*\*[ \t]))(?:(?:[{_UP}][\w'’.-]*[ \t]){{1,4}}{_NUM}"
    rf"|{_NUM},?(?:[ \t][{_UP}][\w'’.-]*){{1,4}})$",
}


def _gated_pairs() -> list[tuple[str, object, re.Pattern[str]]]:
    cues = dict(names._CUES)
    pairs: list[tuple[str, object, re.Pattern[str]]] = [
        (kind, cues[kind], re.compile(plain, re.MULTILINE)) for kind, plain in _PLAIN_CUES.items()
    ]
    streets = dict(address._STREET_FORMS)
    pairs += [
        (k, streets[k], re.compile(_PLAIN_STREETS[k]))
        for k in ("type_first", "type_first_no_number", "unit_first")
    ]
    # the number-first forms: gated, their own regexes unchanged (the led_by test above)
    plain = dict(address._STREET_REGEXES)
    pairs += [
        (k, streets[k], plain[k]) for k in ("number_first", "number_type_first", "number_first_any")
    ]
    pairs.append(("bare", address._BARE_STREET, re.compile(_PLAIN_STREETS["bare"], re.MULTILINE)))
    return pairs


GATED = _gated_pairs()
_NAME_PIECES = [
    "Dear ", "dEAR ", "Hi ", "hi,", "Hello ", "Good  morning ", "thank you ", "Thanks, ",
    "Mr. ", "MRS ", "Dr ", "Prof. ", "Sra ", "my name is ", "My Name Is ", "I'm ", "I am ",
    "this is ", "c/o ", "belongs to ", "Name: ", "full name = ", "Customer:** ", "FROM: ",
    "card holder: ", "next of kin: ", "Jane Doe", "J. Smith", "Ana de la Cruz", "ngozi okafor",
    " <jane@example.org>", "Via Roma 10", "Calle Mayor 5, ", "ul. Długa 5", "Rua Augusta, 81",
    "Intrarea Eftimie, ", "Eje Vial 4", "Jan Smuts 23", "12 Long Lane", "Diagonal Viedma N° 978",
    "12bis rue ", "12 bis, rue ", "8, avenue Manon", "12-14 Main St", "221B Baker St.",
    "Plot No. 44,", "house 7,", "FLAT 3B,", "Heol y Llan,", "náměstí 12, ",
    "4111 1111 ", "(555) 123-4567 ", "3 ÷ ", "12 'x", "7631 ", "5", "/", "s/n", "\u0130",
    "\u0131", "\u017f", "\u212a", "\u0218", "Ș", "\n", "\t", " ", ",", ".",
    "-", ":", "** ", "'", '"', "(", "x", "this",
]  # fmt: skip
_NAME_TEXTS = st.lists(st.sampled_from(_NAME_PIECES), max_size=14).map("".join)


def _finds(pattern: object, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]  # type: ignore[attr-defined]


@settings(max_examples=600, deadline=None)
@given(_NAME_TEXTS)
def test_led_and_gated_forms_find_what_the_plain_forms_find(text: str) -> None:
    for kind, new, plain in GATED:
        assert _finds(new, text) == _finds(plain, text), kind
        assert [m.groupdict() for m in new.finditer(text)] == [  # type: ignore[attr-defined]
            m.groupdict() for m in plain.finditer(text)
        ], kind


def test_led_and_gated_forms_on_typical_text() -> None:
    from leakguard.evaluation.devset import generate  # templated texts full of names and addresses

    hits: dict[str, int] = {kind: 0 for kind, _, _ in GATED}
    mail = (
        "From: Jane Doe <jane@example.org>\ncc: Ana de la Cruz <ana@example.org>, (Bo Li <b@x.io>)"
    )
    for text in [mail, *(item.text for item in generate("tune", count=600, seed=3))]:
        for kind, new, plain in GATED:
            got = _finds(new, text)
            assert got == _finds(plain, text), kind
            hits[kind] += len(got)
    assert all(hits.values()), hits


_PHONE_PIECES = [
    "+1 415 555 0134", "+44 (0)20 7946 0958", "(+49) 30 901820", "0049 30 901820",
    "(212) 555-0147", "212.555.0147", "555-0147 x12", " ext. 7", "#12", "2024-01-05",
    "10.0.0.1", "4111 1111 1111 1111", "12:30", "1,234,567", "v1.2.3", "@5551234567",
    "a5551234567", "-5551234567", "/5551234567", "0", "7", "+", "(", ")", " ", "\t", "\n",
    ".", ",", ":", "x", "٣٤٥٦٧٨٩",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PHONE_PIECES), max_size=10).map("".join))
def test_the_phone_gate_searches_like_the_plain_regex_from_every_position(text: str) -> None:
    gate = phone._CANDIDATE
    at = gate.at(text)
    for pos in range(len(text) + 1):
        found, plain = gate.search(text, pos, at), gate.regex.search(text, pos)
        assert (found and found.span()) == (plain and plain.span()), pos
