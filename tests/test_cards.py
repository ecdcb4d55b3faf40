"""Payment cards of every scheme: IIN range, length and Luhn, grouped or not; numbers no
scheme issues stay clean, in the recognizer, in Guard.scan and in `leakguard sanitize`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakguard.checksums import luhn_check_digit, luhn_valid
from leakguard.config import parse_config
from leakguard.guard import Guard
from leakguard.pii.recognizers.cards import SCHEMES, LeakGuardCardRecognizer, scheme_of
from leakguard.sanitize.run import sanitize_corpus


def card(prefix: str, length: int) -> str:
    """A Luhn-valid number of ``length`` digits that begins with ``prefix``."""
    body = (prefix + "7355608142953618427")[: length - 1]
    return body + str(luhn_check_digit(body))


def found(text: str) -> list[tuple[str, str]]:
    return [(text[s:e], kind) for s, e, _, kind in LeakGuardCardRecognizer().find(text)]


@pytest.fixture(scope="module")
def pattern_guard() -> Guard:
    return Guard(parse_config({"pii": {"spacy_model": "none"}}))


# The schemes' own published test numbers where they exist; numbers built on their IIN
# ranges (with a valid check digit) where they don't.
PER_SCHEME = [
    ("visa", "4111111111111111"),
    ("visa", "4222222222222"),  # 13 digits
    ("visa", card("4", 19)),
    ("mastercard", "5555555555554444"),
    ("mastercard", "2223000048400011"),  # the 2-series
    ("mastercard", card("2720", 16)),
    ("amex", "378282246310005"),
    ("amex", "341111111111111"),
    ("discover", "6011111111111117"),
    ("discover", card("649", 19)),
    ("discover", card("622126", 16)),
    ("jcb", "3530111333300000"),
    ("jcb", card("3589", 19)),
    ("jcb", card("3088", 16)),
    ("jcb", card("2131", 15)),
    ("jcb", card("1800", 15)),
    ("diners", "30569309025904"),
    ("diners", "36227206271667"),
    ("diners", card("3095", 16)),
    ("unionpay", "6200000000000005"),
    ("unionpay", card("62", 19)),
    ("maestro", "6759649826438453"),
    ("maestro", card("501800", 12)),
    ("maestro", card("5600", 12)),
    ("maestro", card("6390", 12)),
    ("maestro", card("69", 19)),
    ("rupay", card("81", 16)),
    ("rupay", card("508", 16)),
    ("mir", card("2200", 16)),
    ("mir", card("2204", 19)),
    ("borica", card("2205", 16)),
    ("uatp", card("1", 15)),
    ("china_t_union", card("31", 19)),
    ("verve", card("506099", 18)),
    ("troy", card("9792", 16)),
    ("uzcard", card("8600", 16)),
    ("humo", card("9860", 16)),
    ("napas", card("9704", 19)),
    ("gpn", card("1946", 18)),
]


@pytest.mark.parametrize(("scheme", "number"), PER_SCHEME)
def test_a_card_of_each_scheme_is_found_and_named(scheme: str, number: str) -> None:
    assert luhn_valid(number)
    assert scheme_of(number) == scheme
    assert found(f"pay with {number} today") == [(number, scheme)]


def test_every_scheme_in_the_table_has_a_test() -> None:
    assert {s.name for s in SCHEMES} == {scheme for scheme, _ in PER_SCHEME}


@pytest.mark.parametrize(
    "number",
    [
        card("7", 16),  # no scheme issues 7...
        card("32", 16),
        card("80", 16),
        card("99", 16),
        card("1", 16),  # UATP is 15 digits only
        card("34", 16),  # Amex is 15 digits only
        card("51", 15),  # Mastercard is 16 digits only
        card("2721", 16),  # one past the Mastercard 2-series
        card("2219", 16),
        card("4", 12),  # Visa starts at 13
        card("0", 16),
    ],
)
def test_luhn_valid_numbers_outside_every_iin_range_stay_clean(
    pattern_guard: Guard, number: str
) -> None:
    assert luhn_valid(number)
    assert scheme_of(number) is None
    assert all(kind == "unlisted" for _, kind in found(f"order {number} shipped"))
    assert pattern_guard.scan(f"order {number} shipped").findings == ()


@pytest.mark.parametrize("number", [card("3517", 16), card("3595", 16), card("51", 15)])
def test_a_luhn_valid_number_in_no_listed_range_is_a_card_only_after_a_card_word(
    pattern_guard: Guard, number: str
) -> None:
    """Schemes add ranges; a number of a card's shape right after "card" is one."""
    assert found(f"order {number}") == [(number, "unlisted")]
    assert pattern_guard.scan(f"order {number} shipped").findings == ()
    outcome = pattern_guard.scan(f"paid by card {number}")
    assert [f.label for f in outcome.findings] == ["CREDIT_CARD"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("card 5018 0000 0009", "5018 0000 0009"),
        ("card: 2131-0000-0000-001", "2131-0000-0000-001"),
        ("Amex 3782 822463 10005.", "3782 822463 10005"),
        ("(5555-5555-5555-4444)", "5555-5555-5555-4444"),
        ("visa 4111 1111 1111 1111, exp 12/29", "4111 1111 1111 1111"),
    ],
)
def test_grouped_cards_are_found_with_their_separators(text: str, number: str) -> None:
    assert [value for value, _ in found(text)] == [number]


@pytest.mark.parametrize(
    "text",
    [
        "card 5018 0000-0009",  # two kinds of separator
        "card 5018  0000 0009",  # a double space breaks the number
        "card 4111 1111 1111 1112",  # Luhn fails
        "ref 45018000000091",  # in range, Luhn fails
        "v1.501800000009",  # part of a dotted number
        "id 501800000009-2",  # a longer token
        "card 6011111111111117111111",  # 22 digits: no card is that long
        "pin 1111 1111 1111",
    ],
)
def test_near_misses_stay_clean(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "number", [card("501800", 12), card("2131", 15), card("1800", 15), card("6759", 19)]
)
def test_the_guard_redacts_the_cards_it_missed_also_right_after_the_word_card(
    pattern_guard: Guard, number: str
) -> None:
    for text in (f"card {number}", f"My card is {number}.", f"{number}"):
        outcome = pattern_guard.scan(text)
        assert number not in outcome.text, text
        assert [f.label for f in outcome.findings] == ["CREDIT_CARD"], text


def test_the_guard_leaves_a_luhn_valid_number_of_no_scheme(pattern_guard: Guard) -> None:
    """Presidio's card pattern took any Luhn-valid 13-17 digits starting 1, 3, 4, 5, 6."""
    number = card("32", 16)
    assert pattern_guard.scan(f"tracking {number}").findings == ()


def test_sanitize_replaces_12_digit_maestro_and_15_digit_jcb_cards(tmp_path: Path) -> None:
    maestro, jcb = card("501800", 12), card("2131", 15)
    src = tmp_path / "in" / "a.jsonl"
    src.parent.mkdir()
    rows = [{"text": f"Refund issued to card {maestro}."}, {"text": f"Card {jcb} on file."}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = parse_config({"pii": {"spacy_model": "none"}, "sanitize": {"pseudonym_key": "k" * 16}})
    sanitize_corpus([src.parent], tmp_path / "out", config=cfg, key=b"k" * 16, workers=1)
    out = (tmp_path / "out" / "data" / "in" / "a.jsonl").read_text()
    assert maestro not in out
    assert jcb not in out
    assert out.count("<CREDIT_CARD_") == 2


def test_a_card_right_after_another_number_is_found(pattern_guard: Guard) -> None:
    """Found by the streaming property test: the candidate of the phone's last groups plus
    the card's first group failed, and the card behind it was never looked at (a one-shot
    scan let it out; a stream, cut between the two, redacted it)."""
    text = "+1 415 555 0134 4111 1111 1111 1111 jane.doe@example.com "
    outcome = pattern_guard.scan(text)
    assert [f.label for f in outcome.findings] == ["PHONE_NUMBER", "CREDIT_CARD", "EMAIL_ADDRESS"]
    assert "4111" not in outcome.text
    # Inside a longer run of digits, a Luhn-valid stretch not grouped as cards are is not one
    # ("415 555 0134 4111 1111" would be an 18-digit Visa-range number).
    labels = [f.label for f in pattern_guard.scan("call +1 415 555 0134 4111 1111").findings]
    assert "CREDIT_CARD" not in labels


def test_an_ungrouped_card_after_a_number_is_found(pattern_guard: Guard) -> None:
    number = card("4", 16)
    assert [f.label for f in pattern_guard.scan(f"order 2024 {number} done").findings] == [
        "CREDIT_CARD"
    ]
