# ruff: noqa: RUF001, RUF003  (look-alike letters are the point of these tests)
"""Windowed Presidio pattern recognizers give exactly the results of the unwindowed ones."""

from __future__ import annotations

import functools
import random
import sys
from collections.abc import Callable
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MedicalLicenseRecognizer,
    NhsRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)

from leakguard.config import PIIConfig
from leakguard.pii.analyzer import _offline_email_recognizer
from leakguard.pii.detector import PIIDetector
from leakguard.pii.windows import (
    _DIGIT_RUNS,
    _GATES,
    _SHAPES,
    GatedRecognizer,
    NarrowedRecognizer,
    WindowedRecognizer,
    _Shape,
    windowed,
)


@functools.cache
def _plain(name: str) -> Any:
    if name == "EmailRecognizer":
        return _offline_email_recognizer("en")  # Presidio's own one would go online
    classes = (
        CryptoRecognizer,
        IpRecognizer,
        MedicalLicenseRecognizer,
        UsLicenseRecognizer,
        UsPassportRecognizer,
        CreditCardRecognizer,
        UsBankRecognizer,
        UsItinRecognizer,
        UsSsnRecognizer,
        NhsRecognizer,
    )
    return {cls.__name__: cls for cls in classes}[name]()


@functools.cache
def _windowed(name: str) -> Any:
    recognizer = windowed(_plain(name), stock=name if name == "EmailRecognizer" else None)
    assert isinstance(recognizer, WindowedRecognizer), "Presidio's patterns changed"
    return recognizer


def _results(recognizer: Any, text: str) -> list[tuple[str, int, int, float, str]]:
    found = recognizer.analyze(text, recognizer.supported_entities)
    return [
        (r.entity_type, r.start, r.end, r.score, r.analysis_explanation.pattern_name) for r in found
    ]


# Characters the classes turn on: letters that case-fold into [A-Z] ("ſ", "K", "ı"), other
# letters, ASCII and Arabic-Indic digits, every character these patterns consume or test.
_ALPHABET = "aAbdefFHkKRsVXzZſKıéß0123456789٣٤@@..::--]]%%//  \n\t,;!#$&'*+=?^_`{|}~()[<>\"x"
_PLANTED = [
    "jane.doe@example.com",
    "o'brien+tag@mail.example.co.uk",
    "a@b.c",
    "user@xn--80ak6aa92e.com",
    "x@münchen.de",
    "192.168.12.7",
    "10.0.0.1/24",
    "256.1.1.1",
    "1.2.3.4.5",
    "::ffff:10.0.0.1",
    "::ffff:0:192.0.2.1",
    "64:ff9b::192.0.2.33",
    "fe80::1%eth0",
    "2001:db8::8a2e:370:7334",
    "2001:0db8:0000:0000:0000:ff00:0042:8329/64",
    "::",
    "::/0",
    "A1234567",
    "AB123456",
    "A-Z]]123",
    "12ABC12345",
    "123456789",
    "C12345678",
    "AB1234563",
    "BM9123456",
    "١٢٣٤٥٦٧",
    "AB١٢٣٤٥٦٣",
    # long numbers in groups: cards, bank accounts, ITINs, SSNs, NHS numbers
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "378282246310005",
    "1234567890123",
    "078-05-1120",
    "078 05 1120",
    "078.05.1120",
    "943 476 5919",
    "912-70-1234",
    "912 70 1234",
    "12345678901",
    "1 2 3 4 5 6 7 8 9",
    "١٢٣٤٥٦٧٨٩٠١٢٣",
    # bitcoin addresses, one inside a longer word, one with look-alike letters
    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "x3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "1ſKıİ0123456789012345678901234",
]
_TEXTS = st.lists(
    st.one_of(st.text(alphabet=_ALPHABET, max_size=10), st.sampled_from(_PLANTED)),
    max_size=14,
).map("".join)


_EVERY_CHARACTER = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


# The characters of R where R is not a single class.
_REQUIRED_CHARACTERS = {
    "IpRecognizer": "[0-9A-Fa-f.:]",
    "CryptoRecognizer": "[0-9A-Za-z\u0130\u0131\u017f\u212a]",
} | {name: r"[\d .\-]" for name, shape in _SHAPES.items() if shape.required == _DIGIT_RUNS[1]}


def test_every_ip_match_holds_a_digit_and_a_dot_or_a_double_colon_or_a_colon_in_hex() -> None:
    """The IP windows' R: a claim about Presidio's patterns, checked on their matches
    (every IPv6 form among them, the eight-group one and the IPv4-embedded one too)."""
    plain, needed = _plain("IpRecognizer"), regex.compile(_SHAPES["IpRecognizer"].required)
    texts = [
        ", ".join(_PLANTED),
        "1.2.3.4 10.0.0.255/8 ::1 fe80::1%eth0 ::ffff:1.2.3.4",
        "2001:db8:85a3:0:0:8a2e:370:7334 and 1:2:3:4:5:6:1.2.3.4, ff:ff:ff:ff:ff:ff:10.0.0.1",
    ]
    spans = [(t, r[1], r[2]) for t in texts for r in _results(plain, t)]
    assert len(spans) >= 11
    assert all(needed.search(t[a:b]) for t, a, b in spans)


def test_the_ip_required_regex_is_the_plain_one_written_from_its_digit_or_colon() -> None:
    plain = regex.compile(r"[0-9]\.|::|[0-9A-Fa-f]:[0-9A-Fa-f]")
    gate = regex.compile(_SHAPES["IpRecognizer"].required)
    pieces = ["1.", "a:b", "::", ":", "g:h", "F:0", "x.", ". ", "9", "ff:", ":ff", "Note: "]
    rng = random.Random(3)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        assert bool(gate.search(text)) == bool(plain.search(text)), text
    # The hex class takes nothing but ASCII hex digits, under IGNORECASE too.
    assert regex.findall("[0-9A-Fa-f]", _EVERY_CHARACTER, flags=regex.I) == list(
        "0123456789ABCDEFabcdef"
    )


def test_the_crypto_window_class_holds_every_character_the_pattern_takes() -> None:
    shape = _SHAPES["CryptoRecognizer"]
    taken = regex.findall("[a-zA-HJ-NP-Z0-9]", _EVERY_CHARACTER, flags=regex.I | regex.M | regex.S)
    assert all(regex.fullmatch(shape.chars, c) for c in taken)


def test_the_iban_gate_finds_the_same_places_as_the_plain_one() -> None:
    plain = r"[A-Z]{2}[0-9]{2}"
    gate = _GATES["IbanRecognizer"].needed
    rng = random.Random(4)
    for flags in (regex.MULTILINE | regex.DOTALL, regex.I | regex.M | regex.S):
        a, b = regex.compile(plain, flags), regex.compile(gate, flags)
        for _ in range(3000):
            text = "".join(rng.choice("aGBK\u212a\u0131 12-") for _ in range(rng.randint(0, 12)))
            assert [m.end() for m in a.finditer(text)] == [m.end() for m in b.finditer(text)]


@pytest.mark.parametrize("name", sorted(_SHAPES))
def test_required_characters_lie_in_the_window_class_and_spaces_do_not(name: str) -> None:
    shape = _SHAPES[name]
    required = _REQUIRED_CHARACTERS.get(name, shape.required)
    assert regex.search(f"(?V1)[{required}--{shape.chars}]", _EVERY_CHARACTER) is None
    # The joiner: a space between windows, or a line break when C holds the space.
    assert not regex.fullmatch(shape.chars, "\n" if shape.margin else " ")


def test_every_digit_run_match_holds_eight_digits_in_its_groups() -> None:
    """The digit runs' R (eight digits with [ .-] between) and C ([\\d .-]): a claim
    about Presidio's patterns, checked on their matches."""
    needed, chars = regex.compile(_DIGIT_RUNS[1]), regex.compile(f"{_DIGIT_RUNS[0]}+")
    texts = [", ".join(_PLANTED), "id 4111111111111111 acct 0012345678 ssn 123-45-6789"]
    names = [n for n, shape in _SHAPES.items() if shape.margin]
    spans = [(t, r[1], r[2]) for n in names for t in texts for r in _results(_plain(n), t)]
    assert len(spans) >= 15
    assert all(needed.search(t[a:b]) for t, a, b in spans)
    assert all(chars.fullmatch(t[a:b]) for t, a, b in spans)


def test_digit_run_windows_keep_the_character_on_either_side() -> None:
    """Windows of digit runs joined by spaces would read "x536224712y" (no word boundary
    at either end) as a number; each window keeps its neighbours, and so finds what the
    full text holds."""
    text = "x536224712y and 53 62 24 71 2 then 536-22-4712y or 536 22 4712."
    found = _results(_windowed("UsSsnRecognizer"), text)
    assert found == _results(_plain("UsSsnRecognizer"), text)
    assert [(a, b) for _, a, b, _, _ in found] == [(51, 62)]
    glued = _results(_plain("UsSsnRecognizer"), " ".join(["536224712", "536-22-4712"]))
    assert len(glued) == 2  # what the windows would find without their neighbours


@pytest.mark.parametrize("name", sorted(_SHAPES))
@settings(max_examples=250, deadline=None)
@given(text=_TEXTS)
def test_windowed_recognizer_finds_what_presidio_finds(name: str, text: str) -> None:
    assert _results(_windowed(name), text) == _results(_plain(name), text)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("EmailRecognizer", "Mail jane.doe@example.com, or not.", [(5, 25)]),
        ("IpRecognizer", "at 10.0.0.1 or fe80::1%eth0.", [(3, 11), (15, 27)]),
        ("UsLicenseRecognizer", "licence: (A-Z]]123) D1234567", [(10, 18), (20, 28)]),
        ("MedicalLicenseRecognizer", "DEA: x AB1234563.", [(7, 16)]),
        ("UsPassportRecognizer", "passport\n912803456", [(9, 18)]),
    ],
)
def test_windowed_results_carry_offsets_into_the_full_text(
    name: str, text: str, expected: list[tuple[int, int]]
) -> None:
    spans = [(start, end) for _, start, end, _, _ in _results(_windowed(name), text)]
    assert spans == expected
    assert spans == [(start, end) for _, start, end, _, _ in _results(_plain(name), text)]


def test_a_character_class_that_misses_a_character_changes_results() -> None:
    """The comparison can fail: without Presidio's stray "A-Z]" the licence class is wrong."""
    narrow = _Shape(r"\w", "[0-9]", _SHAPES["UsLicenseRecognizer"].digest)
    recognizer = UsLicenseRecognizer()
    wrong = WindowedRecognizer(recognizer, narrow)
    text = "code A-Z]]123 here"
    name = "Driver License - Alphanumeric (weak)"
    assert _results(recognizer, text) == [("US_DRIVER_LICENSE", 5, 13, 0.3, name)]
    assert wrong.analyze(text, ["US_DRIVER_LICENSE"]) == []


def test_a_text_without_the_required_character_is_not_searched() -> None:
    class Searching(UsPassportRecognizer):
        def analyze(self, *args: Any, **kwargs: Any) -> list[Any]:
            raise AssertionError("searched")

    windowed_analyze = WindowedRecognizer(Searching(), _SHAPES["UsPassportRecognizer"]).analyze
    assert windowed_analyze("no numbers in here", ["US_PASSPORT"]) == []
    with pytest.raises(AssertionError, match="searched"):
        windowed_analyze("one number: 7", ["US_PASSPORT"])


def _with_flags(recognizer: Any, flags: int) -> Any:
    recognizer.global_regex_flags = flags
    return recognizer


@pytest.mark.parametrize(
    "make",
    [
        lambda: IpRecognizer(patterns=[Pattern("IPv4 only", r"\b\d+\.\d+\.\d+\.\d+\b", 0.6)]),
        lambda: _with_flags(IpRecognizer(), regex.MULTILINE),
        lambda: PatternRecognizer(supported_entity="X", deny_list=["secret"]),
        lambda: _offline_email_recognizer("en"),  # a subclass, unless named as the stock class
    ],
    ids=["changed patterns", "other flags", "deny list", "subclass"],
)
def test_recognizers_the_classes_were_not_derived_for_are_left_alone(
    make: Callable[[], Any],
) -> None:
    recognizer = make()
    assert windowed(recognizer) is recognizer


def test_pattern_only_analyzer_windows_the_nine_recognizers() -> None:
    """Presidio's card and NHS recognizers are replaced by leakguard's (issue 19 item 3,
    issue 25 item 13); with leakguard's recognizers off they are windowed too (below)."""
    analyzer = PIIDetector(PIIConfig(spacy_model="none")).analyzer
    names = [_narrowed_name(r) for r in analyzer.registry.recognizers]
    assert "LeakGuardCardRecognizer" in names
    assert "LeakGuardNhsRecognizer" in names
    stock = PIIDetector(PIIConfig(spacy_model="none", builtin_recognizers=False)).analyzer
    stock_names = [_narrowed_name(r) for r in stock.registry.recognizers]
    assert {"WindowedCreditCardRecognizer", "WindowedNhsRecognizer"} <= set(stock_names)
    assert sorted(n for n in names if n.startswith("Windowed")) == [
        "WindowedCryptoRecognizer",
        "WindowedIpRecognizer",
        "WindowedMedicalLicenseRecognizer",
        "WindowedOfflineEmailRecognizer",
        "WindowedUsBankRecognizer",
        "WindowedUsItinRecognizer",
        "WindowedUsLicenseRecognizer",
        "WindowedUsPassportRecognizer",
        "WindowedUsSsnRecognizer",
    ]
    # Same names as before: results carry them in their metadata.
    assert "UsLicenseRecognizer" in [r.name for r in analyzer.registry.recognizers]
    assert "GatedIbanRecognizer" in names


def _narrowed_name(recognizer: Any) -> str:
    """ "Windowed"/"Gated" and the held recognizer's class name for a narrowed recognizer,
    the class name for any other."""
    if isinstance(recognizer, WindowedRecognizer):
        return f"Windowed{type(recognizer.inner).__name__}"
    if isinstance(recognizer, GatedRecognizer):
        return f"Gated{type(recognizer.inner).__name__}"
    return type(recognizer).__name__


def test_a_narrowed_recognizer_stands_for_the_presidio_one_it_holds() -> None:
    """Composition: the Presidio recognizer is held, not changed; the wrapper carries its
    name, entities, language, context words, thresholds and id (results name it)."""
    plain: Any = UsSsnRecognizer()
    wrapped: Any = windowed(plain)
    assert wrapped.inner is plain
    assert (wrapped.name, wrapped.supported_entities, wrapped.supported_language) == (
        plain.name,
        plain.supported_entities,
        plain.supported_language,
    )
    assert (wrapped.context, wrapped.score_thresholds, wrapped.id) == (
        plain.context,
        plain.score_thresholds,
        plain.id,
    )
    assert wrapped.country_code() == plain.country_code() == "us"
    (result,) = wrapped.analyze("ssn 536-22-4712 on file", ["US_SSN"])
    assert result.recognition_metadata["recognizer_identifier"] == wrapped.id
    assert type(plain) is UsSsnRecognizer  # unchanged
    assert isinstance(wrapped, NarrowedRecognizer)


_IBAN_TEXTS = st.lists(
    st.one_of(
        st.text(alphabet="GBDEFRaeK0123456789 -\n.x", max_size=30),
        st.sampled_from(
            [
                "GB82 WEST 1234 5698 7654 32",
                "DE89370400440532013000",
                "FR14-2004-1010-0505-0001-3M02-606",
                "gb82west12345698765432",
                "XX00 0000 0000",
            ]
        ),
    ),
    max_size=6,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=_IBAN_TEXTS)
def test_gated_iban_recognizer_finds_what_presidio_finds(text: str) -> None:
    gated = windowed(IbanRecognizer())
    assert _narrowed_name(gated) == "GatedIbanRecognizer", "Presidio's IBAN pattern changed"
    assert _results(gated, text) == _results(IbanRecognizer(), text)
    # Presidio's registry compiles it with IGNORECASE too
    caseless = _with_flags(IbanRecognizer(), regex.IGNORECASE | regex.MULTILINE | regex.DOTALL)
    assert _results(windowed(caseless), text) == _results(caseless, text)


def test_the_iban_spots_hold_the_longest_match_and_what_its_assertions_read() -> None:
    """A spot runs from 3 characters before a gate match (the digits) to 40 after: one
    before the country code, and one past the longest match (43 characters)."""
    gate = _GATES["IbanRecognizer"]
    recognizer: Any = IbanRecognizer()
    (pattern,) = recognizer.patterns
    longest = "GB82" + " WEST" * 6 + " 1234" + " 123"
    for flags in (regex.MULTILINE | regex.DOTALL, regex.I | regex.M | regex.S):
        found = regex.compile(pattern.regex, flags).search(f"x {longest} 9")
        assert found is not None
        assert found.group() == longest
        assert len(longest) == 43
        hit = regex.compile(gate.needed, flags).search(longest)
        assert hit is not None
        assert (hit.start() - gate.before, hit.end() + gate.after) == (-1, len(longest) + 1)


def test_iban_spots_far_apart_are_searched_alone_and_close_ones_together() -> None:
    text = "x" * 100 + " GB82 WEST 1234 5698 7654 32 " + "y" * 100 + " DE89370400440532013000."
    gated = windowed(IbanRecognizer())
    assert _results(gated, text) == _results(IbanRecognizer(), text)
    assert [r[1:3] for r in _results(gated, text)] == [(101, 128), (230, 252)]
    close = "GB82 WEST 1234 5698 7654 32 and DE89 3704 0044 0532 0130 00"
    assert _results(gated, close) == _results(IbanRecognizer(), close)


def test_gated_iban_windows_are_joined_by_line_breaks() -> None:
    """Runs of the IBAN's characters joined by a space would read as one IBAN the text
    does not hold: "GB82 WEST 1234" and "5698 7654 32" around a '.'."""
    glued = "GB82 WEST 1234.5698 7654 32 and DE89 3704 0044 0532 0130 00"
    gated = windowed(IbanRecognizer())
    assert [r[1:3] for r in _results(gated, glued)] == [(32, 59)]
    assert _results(gated, glued) == _results(IbanRecognizer(), glued)
    assert [r[1:3] for r in _results(IbanRecognizer(), glued.replace(".", " "))] == [
        (0, 27),
        (32, 59),
    ]


def test_a_text_without_a_country_code_and_check_digits_is_not_searched() -> None:
    class Searching(IbanRecognizer):
        def analyze(self, *args: Any, **kwargs: Any) -> list[Any]:
            raise AssertionError("searched")

    gated = windowed(Searching(), stock="IbanRecognizer")
    assert gated.analyze("gb82 west 1234, G8 2W, 12GB", ["IBAN_CODE"]) == []
    with pytest.raises(AssertionError, match="searched"):
        gated.analyze("see GB82 below", ["IBAN_CODE"])


def test_windows_remembered_for_a_text_serve_only_that_text() -> None:
    """The NLP artifacts carry the windows found in their text for the next recognizer;
    a recognizer asked about another text (with those artifacts) finds that text's own."""
    analyzer = PIIDetector(PIIConfig(spacy_model="none")).analyzer
    ssn = next(r for r in analyzer.registry.recognizers if r.name == "UsSsnRecognizer")
    bank = next(r for r in analyzer.registry.recognizers if r.name == "UsBankRecognizer")
    first, second = "no numbers here at all", "ssn 536-22-4712 and acct 12345678901"
    artifacts = analyzer.nlp_engine.process_text(first, "en")
    assert ssn.analyze(first, ["US_SSN"], artifacts) == []
    assert artifacts.windows  # remembered
    assert [(r.start, r.end) for r in ssn.analyze(second, ["US_SSN"], artifacts)] == [(4, 15)]
    assert [(r.start, r.end) for r in bank.analyze(second, ["US_BANK_NUMBER"], artifacts)] == [
        (r.start, r.end) for r in _plain("UsBankRecognizer").analyze(second, ["US_BANK_NUMBER"])
    ]
