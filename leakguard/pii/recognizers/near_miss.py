"""Rules that reject a pattern match by what surrounds it, for every recognizer."""

from __future__ import annotations

from leakguard.pii.recognizers.ip import version_like_ip
from leakguard.pii.recognizers.licence import licence_near_miss

# Labels whose values are whole tokens: a match glued to letters or digits on either
# side ("EC7644582" inside tracking number "1ZEC76445829760688") is part of something else.
TOKEN_LABELS = frozenset(
    {
        "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN", "US_PASSPORT", "US_DRIVER_LICENSE",
        "US_BANK_NUMBER", "IP_ADDRESS", "PHONE_NUMBER", "MEDICAL_LICENSE", "UK_NHS", "CRYPTO",
    }
)  # fmt: skip
# Presidio's licence recognizer (its weak patterns pass only with a context word).
STOCK_LICENCE = "UsLicenseRecognizer"


def glued(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before.isalnum() or after.isalnum()


def is_near_miss(
    text: str, start: int, end: int, label: str, *, recognizer: str | None = None
) -> bool:
    """Is the match of ``label`` at ``text[start:end]`` something else? ``recognizer``
    names the recognizer that found it (some rules judge Presidio's own patterns only)."""
    if label in TOKEN_LABELS and glued(text, start, end):
        return True
    if label == "IP_ADDRESS":
        return version_like_ip(text, start, end)
    if label == "US_DRIVER_LICENSE":
        return licence_near_miss(text, start, end, stock=recognizer == STOCK_LICENCE)
    return False
