"""US driver licence numbers in the grouped forms states print them (Presidio's pattern
covers unseparated ones only): Illinois/Wisconsin ``A123-4567-8901``, Florida
``A123-456-78-901-0``, Michigan ``A 123 456 789 012``, New York ``123 456 789``,
Pennsylvania ``12 345 678``. Digit-only forms score low and need a context word.

:func:`licence_near_miss` judges every licence match, Presidio's included: no state's
number is a letter and one or two digits ("v3", "h3": versions, headings), and Presidio's
weak patterns (which pass only with a context word, found by Presidio inside any word:
"lic" in "public", "policy", "implicit") need one as a whole word."""

from __future__ import annotations

import re

from leakguard.pii.recognizers.base import Recognizer, led_by, table_header

# Each form not right after a word character or '-': (?<![\w-]) on its first character.
_FORMS: tuple[tuple[float, re.Pattern[str]], ...] = tuple(
    (score, re.compile(led_by(first, r"[\w-]") + rest + r"(?![\w-])"))
    for score, first, rest in (
        (0.6, r"[A-Z]", r"\d{3}-\d{4}-\d{4}(?:-\d{2})?"),
        (0.6, r"[A-Z]", r"\d{3}-\d{3}-\d{2}-\d{3}-\d"),
        (0.5, r"[A-Z]", r" \d{3} \d{3} \d{3} \d{3}"),
        (0.25, r"\d", r"\d{2} \d{3} \d{3}"),
        (0.25, r"\d", r"\d \d{3} \d{3}"),
    )
)

# Every form holds three digits, a '-' or space, and three digits more: a text without
# them (most texts) is not searched five times.
_GROUPS = re.compile(r"\d{3}[- ]\d{3}")


# Presidio's context words, matched as whole words (plural, possessive or "#" allowed).
_STOCK_CUE = re.compile(
    r"(?i)\b(?:driver|driving|licen[cs]e|lic|dls?|cdls?|permit|identification)"
    r"(?:s|'s|s'|#)?(?![\w-])"
)
_CUE_WINDOW = 40  # characters before the match, as leakguard's recognizers read context
# A letter and one or two digits: shorter than any state's format (Colorado's one letter
# and three digits is the shortest).
_TOO_SHORT = re.compile(r"[A-Za-z]{1,2}\d{1,2}")


def licence_near_miss(text: str, start: int, end: int, *, stock: bool) -> bool:
    """Is the licence match at ``text[start:end]`` something else? ``stock``: found by
    Presidio's ``UsLicenseRecognizer``, whose weak patterns need a whole-word cue."""
    if _TOO_SHORT.fullmatch(text[start:end]):
        return True
    if not stock or _STOCK_CUE.search(text, max(0, start - _CUE_WINDOW), start):
        return False
    header = table_header(text, start)
    return header is None or _STOCK_CUE.search(header) is None


class LeakGuardLicenceRecognizer(Recognizer):
    ENTITY = "US_DRIVER_LICENSE"
    CONTEXT = ("driver", "drivers", "driving", "licence", "license", "dl", "lic", "permit")

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        if _GROUPS.search(text) is None:
            return []
        return [
            (m.start(), m.end(), score, "grouped")
            for score, pattern in _FORMS
            for m in pattern.finditer(text)
        ]
