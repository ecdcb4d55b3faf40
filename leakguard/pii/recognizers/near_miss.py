"""Rules that reject a pattern match by what surrounds it, for every recognizer."""

from __future__ import annotations

import re

# Labels whose values are whole tokens: a match glued to letters or digits on either
# side ("EC7644582" inside tracking number "1ZEC76445829760688") is part of something else.
TOKEN_LABELS = frozenset(
    {
        "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN", "US_PASSPORT", "US_DRIVER_LICENSE",
        "US_BANK_NUMBER", "IP_ADDRESS", "PHONE_NUMBER", "MEDICAL_LICENSE", "UK_NHS", "CRYPTO",
    }
)  # fmt: skip
_VERSION_BEFORE = re.compile(r"(?i)(?:\bversion|\bv|\brelease|\bbuild|_version|\bver)\W{0,4}$")


def glued(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before.isalnum() or after.isalnum()


def looks_like_version(text: str, start: int) -> bool:
    """A dotted number right after "version", "v", "release", "build" ...."""
    return _VERSION_BEFORE.search(text[max(0, start - 20) : start]) is not None


def is_near_miss(text: str, start: int, end: int, label: str) -> bool:
    if label in TOKEN_LABELS and glued(text, start, end):
        return True
    return label == "IP_ADDRESS" and looks_like_version(text, start)
