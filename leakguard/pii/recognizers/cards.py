"""Payment card numbers of every major scheme (Presidio's pattern misses the Mastercard
2-series and 19-digit cards): 13-19 digits, one consistent separator, a known issuer
prefix and a valid Luhn check digit."""

from __future__ import annotations

import re

from leakguard.pii.recognizers.base import Recognizer, led_by

# A digit not right after a word character, '.' or '-', then 12 to 18 more.
_CANDIDATE = re.compile(led_by(r"\d", r"[\w.-]") + r"(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
# Issuer identification number ranges (ISO/IEC 7812): Visa, Mastercard (51-55 and
# 2221-2720), Amex, Discover, JCB, Diners, UnionPay, Maestro.
_ISSUER = re.compile(
    r"^(?:4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6011|65|64[4-9]"
    r"|35(?:2[89]|[3-8]\d)|3(?:0[0-5]|[68])|62|5018|5020|5038|6304|6759|676[1-3])"
)


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class LeakGuardCardRecognizer(Recognizer):
    ENTITY = "CREDIT_CARD"
    CONTEXT = ("card", "credit", "debit", "visa", "mastercard", "amex", "payment", "cc")

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        found = []
        for m in _CANDIDATE.finditer(text):
            value = m.group(0)
            digits = value.replace(" ", "").replace("-", "")
            if len({c for c in value if not c.isdigit()}) > 1 or len(set(digits)) == 1:
                continue
            if _ISSUER.match(digits) and luhn(digits):
                found.append((m.start(), m.end(), 0.9, "card"))
        return found
