"""Corpus-wide pseudonyms and format-preserving fakes: same value, same replacement."""

from __future__ import annotations

import re

import pytest

from leakguard.config import SanitizeConfig
from leakguard.exceptions import ConfigError
from leakguard.sanitize.pseudonyms import (
    FakeValues,
    KeyedPseudonyms,
    build_pseudonymizer,
    key_check,
    resolve_pseudonym_key,
)


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if i % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def test_pseudonym_is_keyed_and_ignores_case_and_spacing() -> None:
    one, two = KeyedPseudonyms(b"key-1"), KeyedPseudonyms(b"key-2")
    assert one("PERSON", "Jane Doe") == one("PERSON", "jane   DOE")
    assert re.fullmatch(r"<PERSON_[0-9a-f]{10}>", one("PERSON", "Jane Doe"))
    assert one("PERSON", "Jane Doe") != two("PERSON", "Jane Doe")
    assert one("PERSON", "Jane Doe") != one("PERSON", "John Doe")


def test_pseudonym_template_and_length_come_from_the_config() -> None:
    config = SanitizeConfig(pseudonym="[{label}:{id}]", pseudonym_length=16)
    assert re.fullmatch(
        r"\[EMAIL_ADDRESS:[0-9a-f]{16}\]",
        build_pseudonymizer(config, b"k")("EMAIL_ADDRESS", "a@b.io"),
    )


def test_a_pseudonym_template_without_id_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\{id\}"):
        SanitizeConfig(pseudonym="<{label}>")


def test_fakes_are_stable_across_instances_and_spellings() -> None:
    first, second = FakeValues(b"k"), FakeValues(b"k")
    assert first("PERSON", "Jane Doe") == second("PERSON", " jane doe ")
    assert first("EMAIL_ADDRESS", "a@corp.io") == second("EMAIL_ADDRESS", "A@CORP.IO")
    assert FakeValues(b"other")("PERSON", "Jane Doe") != first("PERSON", "Jane Doe")


@pytest.mark.parametrize(
    ("label", "value", "shape"),
    [
        ("PERSON", "Jane Doe", r"[A-Z][a-z'-]+ [A-Z][a-z'-]+"),
        ("PERSON", "JANE", r"[A-Z'-]+"),
        ("EMAIL_ADDRESS", "jane.doe@corp.io", r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),
        ("PHONE_NUMBER", "+1 (415) 555-0134", r"\+\d \(\d{3}\) \d{3}-\d{4}"),
        ("CREDIT_CARD", "4111 1111 1111 1111", r"\d{4} \d{4} \d{4} \d{4}"),
        ("US_SSN", "123-45-6789", r"\d{3}-\d{2}-\d{4}"),
        ("IP_ADDRESS", "10.1.2.3", r"\d+\.\d+\.\d+\.\d+"),
        ("IP_ADDRESS", "2001:db8::1", r"[0-9a-f:]+"),
        ("IBAN_CODE", "DE89370400440532013000", r"[A-Z]{2}\d{2}[A-Z0-9]+"),
        ("US_DRIVER_LICENSE", "X1234567", r"[A-Z]\d{7}"),
    ],
)
def test_fakes_have_the_kind_and_shape_of_the_value(label: str, value: str, shape: str) -> None:
    fake = FakeValues(b"k")(label, value)
    assert re.fullmatch(shape, fake), fake
    assert fake.casefold() != value.casefold()


def test_fake_credit_cards_pass_the_luhn_check() -> None:
    fakes = FakeValues(b"k")
    for n in range(20):
        assert luhn_ok(fakes("CREDIT_CARD", f"4111 1111 1111 {1000 + n}"))


def test_missing_key_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORPUS_KEY", raising=False)
    with pytest.raises(ConfigError, match="'CORPUS_KEY'"):
        resolve_pseudonym_key(SanitizeConfig(pseudonym_key_env="CORPUS_KEY"))
    monkeypatch.setenv("CORPUS_KEY", "s3cret")
    assert resolve_pseudonym_key(SanitizeConfig(pseudonym_key_env="CORPUS_KEY")) == b"s3cret"


def test_key_check_tells_keys_apart() -> None:
    assert key_check(b"a") == key_check(b"a") != key_check(b"b")
    assert re.fullmatch(r"[0-9a-f]{12}", key_check(b"a"))
