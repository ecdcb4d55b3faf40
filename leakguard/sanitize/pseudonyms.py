"""Corpus-wide replacements for redacted values: keyed pseudonyms or format-preserving fakes.

Both are pure functions of (key, label, normalized value): every worker process, on every
machine, in every run with the same key gives the same value the same replacement, with
no shared state. That keeps the structure of a training corpus ("<PERSON_3f9a0c1d2b> wrote
to <PERSON_77ab01c9e4> ...") without its secrets. The key must stay secret: anyone holding
it can test guesses of a value against its pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string
from collections.abc import Callable
from typing import Any, Protocol

from leakguard.checksums import luhn_check_digit
from leakguard.config import SanitizeConfig
from leakguard.exceptions import ConfigError, MissingExtraError
from leakguard.policy import keyed_fingerprint, normalize_value

__all__ = [
    "FakeValues",
    "KeyedPseudonyms",
    "Pseudonymizer",
    "build_pseudonymizer",
    "key_check",
    "resolve_pseudonym_key",
]


class Pseudonymizer(Protocol):
    """Gives a detected value its corpus-wide replacement."""

    def __call__(self, label: str, value: str) -> str: ...


def resolve_pseudonym_key(config: SanitizeConfig) -> bytes:
    """The pseudonym key the config resolved when it was built: ``sanitize.pseudonym_key``,
    or the environment variable ``sanitize.pseudonym_key_env`` names."""
    if config.pseudonym_key is not None:
        return config.pseudonym_key.get_secret_value().encode()
    env = config.pseudonym_key_env
    raise ConfigError(
        "the sanitizer needs a secret key for corpus-wide pseudonyms: set the environment "
        f"variable {env!r} (sanitize.pseudonym_key_env) or sanitize.pseudonym_key. Keep it "
        "secret and reuse it, so later runs and resumed runs give the same pseudonyms."
    )


def key_check(key: bytes) -> str:
    """A short, non-reversible tag of the key, so a resumed run can tell it is the same key."""
    return hmac.new(key, b"leakguard pseudonym key check", hashlib.sha256).hexdigest()[:12]


class KeyedPseudonyms:
    """``<PERSON_3f9a0c1d2b>``: label plus a keyed HMAC-SHA256 of the normalized value."""

    def __init__(self, key: bytes, *, template: str = "<{label}_{id}>", length: int = 10) -> None:
        self._key = key
        self._template = template
        self._length = length

    def __call__(self, label: str, value: str) -> str:
        digest = keyed_fingerprint(self._key, label, value, length=self._length)
        return self._template.format(label=label, id=digest)


def _seed(key: bytes, label: str, value: str, attempt: int) -> int:
    message = f"fake\x00{label}\x00{attempt}\x00{normalize_value(value)}".encode()
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:8], "big")


def _shape_digits(rng: random.Random, value: str) -> str:
    """Every digit replaced by a keyed random digit, letters by letters of the same case;
    separators and layout kept (``+1 (415) 555-0134`` stays ``+1 (NNN) NNN-NNNN``)."""
    out = []
    for char in value:
        if char.isdigit():
            out.append(rng.choice(string.digits))
        elif char.isascii() and char.isupper():
            out.append(rng.choice(string.ascii_uppercase))
        elif char.isascii() and char.islower():
            out.append(rng.choice(string.ascii_lowercase))
        else:
            out.append(char)
    return "".join(out)


def _with_luhn_digit(value: str) -> str:
    """``value`` with its last digit set so the digits pass the Luhn check."""
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    if len(positions) < 2:
        return value
    check = luhn_check_digit("".join(value[i] for i in positions[:-1]))
    last = positions[-1]
    return value[:last] + str(check) + value[last + 1 :]


def _person(fake: Any, rng: random.Random, value: str) -> str:
    words = value.split()
    if len(words) == 1:
        name = str(fake.first_name() if rng.random() < 0.5 else fake.last_name())
    elif len(words) == 2:
        name = f"{fake.first_name()} {fake.last_name()}"
    else:
        name = " ".join([fake.first_name(), *(fake.last_name() for _ in words[1:])])
    return name.upper() if value.isupper() else name


def _ip(fake: Any, rng: random.Random, value: str) -> str:
    return str(fake.ipv6() if ":" in value else fake.ipv4_public())


def _ssn(fake: Any, rng: random.Random, value: str) -> str:
    ssn = str(fake.ssn())  # valid area/group/serial, ddd-dd-dddd
    return ssn if "-" in value else ssn.replace("-", "")


_FakeMaker = Callable[[Any, random.Random, str], str]

_FAKERS: dict[str, _FakeMaker] = {
    "PERSON": _person,
    "EMAIL_ADDRESS": lambda fake, rng, value: str(fake.email()),
    "IBAN_CODE": lambda fake, rng, value: str(fake.iban()),
    "IP_ADDRESS": _ip,
    "US_SSN": _ssn,
    "CREDIT_CARD": lambda fake, rng, value: _with_luhn_digit(_shape_digits(rng, value)),
}


class FakeValues:
    """Realistic fakes of the same kind (names with names, e-mails with e-mails), seeded by
    a keyed HMAC of the value, so the same value gets the same fake everywhere. Labels
    without a generator keep their shape: digits become other digits, letters other
    letters, separators stay. A fake never equals the value it replaces."""

    def __init__(self, key: bytes, *, locale: str = "en_US", cache_size: int = 100_000) -> None:
        try:
            from faker import Faker
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise MissingExtraError("format-preserving fakes", "sanitize", "faker") from None
        self._key = key
        self._fake = Faker(locale)
        self._cache: dict[tuple[str, str], str] = {}
        self._cache_size = cache_size

    def __call__(self, label: str, value: str) -> str:
        cache_key = (label, normalize_value(value))
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = self._make(label, value)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[cache_key] = cached
        return cached

    def _make(self, label: str, value: str) -> str:
        maker = _FAKERS.get(label)
        for attempt in range(16):
            seed = _seed(self._key, label, value, attempt)
            rng = random.Random(seed)
            if maker is None:
                fake = _shape_digits(rng, value)
            else:
                self._fake.seed_instance(seed)
                fake = maker(self._fake, rng, value)
            if normalize_value(fake) != normalize_value(value):
                return fake
        # A value with nothing to vary (e.g. only punctuation): a keyed pseudonym instead.
        return KeyedPseudonyms(self._key)(label, value)


def build_pseudonymizer(config: SanitizeConfig, key: bytes) -> Pseudonymizer:
    """The replacement the config asks for: keyed pseudonyms, or format-preserving fakes."""
    if config.format_preserving:
        return FakeValues(key)
    return KeyedPseudonyms(key, template=config.pseudonym, length=config.pseudonym_length)
