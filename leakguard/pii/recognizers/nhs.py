"""UK NHS numbers (and the Scottish CHI and Northern Irish H&C numbers of the same form):
ten digits, ungrouped or grouped 3-3-4 by one kind of separator, whose tenth digit is the
mod-11 check of the first nine — but only where the text speaks of health care.

One ten-digit number in eleven passes the check by chance, and "555 123 4567" is also the
shape of a North American phone number: Presidio's NHS recognizer labels every such phone
number whose digits happen to pass ``UK_NHS`` with a score of 1.0. Here a number needs a
label right before it ("NHS number: ", "CHI no. ") or an NHS column header; or, with no
phone word ("call", "phone", "tel", "mobile", ...) near, a word that names it ("NHS",
"CHI", "H&C") or a word of health care ("patient", "health", "hospital", "GP", ...) within
``WINDOW_BEFORE`` characters before it or ``WINDOW_AFTER`` after it on its line: "call
the patient on 555 105 1234" is a phone number. The rest is left to the phone recognizer.
"""

from __future__ import annotations

import re

from leakguard.checksums import nhs_valid
from leakguard.pii.recognizers.base import Recognizer, led_by, table_header

__all__ = ["LeakGuardNhsRecognizer"]

# Ten digits, 3-3-4 with one kind of separator or none, not inside a longer number or word.
_CANDIDATE = re.compile(
    led_by(r"\d", r"[\w.+-]") + r"\d\d(?P<sep>[ -]?)\d{3}(?P=sep)\d{4}(?![\w-]|[.,]\d)"
)
# Words that name the number itself ("NHS", "CHI", "H&C").
_NHS = re.compile(r"(?i)(?:\bnhs|\bn\.h\.s\.?|\bnational health service|\bchi\b|\bh&c\b)")
# Such a word right before the number, as its label: "NHS number: ", "CHI no. ", "NHS#".
_LABELLED = re.compile(
    r"(?i)(?:\bnhs|\bn\.h\.s\.?|\bchi|\bh&c)\s*(?:no\.?|num(?:ber)?|#|id)?\s*(?:is|[:#=(])?\s*$"
)
# Words of health care in general: enough where no phone word is near.
_HEALTH = re.compile(
    r"(?i)\b(?:health|healthcare|patients?|hospitals?|gps?|surgery|clinic|clinical|medical"
    r"|nurse|doctor|dr)\b"
)
_PHONE = re.compile(
    r"(?i)\b(?:call|called|calling|phone|phoned|telephone|tel|mobile|cell|fax|ring|dial"
    r"|text|sms|whatsapp|contact|reach|hotline|helpline|ext|extension|office|landline)\b"
)
WINDOW_BEFORE = 60
WINDOW_AFTER = 30


class LeakGuardNhsRecognizer(Recognizer):
    ENTITY = "UK_NHS"
    # Context is this recognizer's gate, not a boost (see the module docstring).
    CONTEXT = ()

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        found = []
        for m in _CANDIDATE.finditer(text):
            digits = m.group(0).replace(" ", "").replace("-", "")
            if len(set(digits)) > 1 and nhs_valid(digits) and self._health_care(text, m):
                found.append((m.start(), m.end(), 0.9, "nhs"))
        return found

    @staticmethod
    def _health_care(text: str, m: re.Match[str]) -> bool:
        before = text[max(0, m.start() - WINDOW_BEFORE) : m.start()]
        if _LABELLED.search(before):
            return True
        line_end = text.find("\n", m.end())
        hi = min(len(text), m.end() + WINDOW_AFTER, line_end if line_end >= 0 else len(text))
        around = [before, text[m.end() : hi]]
        header = table_header(text, m.start())
        if header is not None:
            if _NHS.search(header):
                return True
            around.append(header)
        if any(_PHONE.search(part) for part in around):
            return False  # "call NHS Direct on ...", "phone the patient on ...": a phone
        return any(_NHS.search(part) or _HEALTH.search(part) for part in around)
