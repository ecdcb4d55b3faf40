"""US driver licence numbers in the grouped forms states print them (Presidio's pattern
covers unseparated ones only): Illinois/Wisconsin ``A123-4567-8901``, Florida
``A123-456-78-901-0``, Michigan ``A 123 456 789 012``, New York ``123 456 789``,
Pennsylvania ``12 345 678``. Digit-only forms score low and need a context word."""

from __future__ import annotations

import re

from leakguard.pii.recognizers.base import Recognizer, led_by

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
