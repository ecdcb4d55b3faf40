"""Phone numbers in international and national formats, any region, with near misses
(dates, times, versions, IP addresses, card numbers, SSNs, ISBNs, year ranges) left alone.

One regex pass finds digit runs with phone-like separators; each candidate is scored by its
shape: ``+``/``00`` numbers that ``phonenumbers`` accepts score high, grouped national
numbers medium, bare digit runs low (they need a context word such as "phone" or "call").
"""

from __future__ import annotations

import re

from leakguard.checksums import luhn_valid
from leakguard.pii.recognizers.base import Recognizer, StartGate

_CANDIDATE = StartGate(
    re.compile(
        r"(?<![\w.+/#@-])(?<!\d[:,])"
        r"(?P<number>(?:\+\s?\(?|\(\+?|00)?\d[\d \t().\-/]{4,22}\d)"
        r"(?P<ext>\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?"
        r"(?![\w@]|[.,/-]\d)"
    ),
    # its first character ('+', '(' or a digit) where both lookbehinds hold: the regex
    # alone, beginning with lookbehinds, is tried at every position of the text
    r"[+(\d](?<![\w.+/#@-][+(\d])(?<!\d[:,][+(\d])",
    lead=0,
)
_DATE = re.compile(r"\d{1,4}([-/.])\d{1,2}\1\d{2,4}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?")  # with a prefix: "10.1.2.0/24"
_SSN = re.compile(r"\d{3}[- ]\d{2}[- ]\d{4}")
# Dotted numbers with a one-digit group are versions ("11.12.9.14"); phones group by 2+.
_VERSIONISH = re.compile(r"(?=(?:.*\.)?\d(?:\.|$))\d{1,4}(?:\.\d{1,4}){2,}")
_YEARS = re.compile(r"(?:19|20)\d{2}\s?[-/]\s?(?:19|20)\d{2}")
_ISBN = re.compile(r"97[89][- ]\d{1,5}[- ]\d{1,7}[- ]\d{1,7}[- ]\d")
_GROUPED_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
# A standard's number and year: POSIX "1003.1-2004", "802.11-2020".
_STANDARD = re.compile(r"\d{3,5}(?:\.\d{1,2})+-(?:19|20)\d{2}")
# A date inside the run: "30736 2007-01-31 00" (an `ls -l` size, date and hour), "v1.6
# 2019/01/29 02" (an RCS id).
_ISO_DATE = re.compile(
    r"(?<!\d)(?:19|20)\d{2}([-/])(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])(?!\d)"
)
# A version with a build or package revision: "3.10.0-862" (a kernel release).
_REVISED_VERSION = re.compile(r"\d{1,4}(?:\.\d{1,4}){2,}-\d+")
# Columns of numbers: phones are written with single separators ("16  11  10  16" is a
# table row, "20.6.7  21.0.0" two versions side by side): a run is cut at a wider gap.
_COLUMNS = re.compile(r"\d[ \t]{2,}\d")
# Limits of 32-bit integers, common in docs ("2147483647 is the lowest priority").
_INT_LIMITS = frozenset({"2147483647", "2147483648", "4294967295", "4294967296"})
_ZIP4 = re.compile(r"\d{5}-\d{4}")
_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH"
    " NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP"
)
_US_STATES = frozenset(_STATE_CODES.split())
_STATE_BEFORE = re.compile(r"\b([A-Z]{2}),?[ \t]+$")
_RANGE = re.compile(r"(\d{4,})[ \t]?-[ \t]?(\d{4,})")
_RANGE_CUE = re.compile(r"(?i)\b(?:range|ranges|between|from|ports?|ids?|uids?|gids?)\b")


def _rejected(number: str, digits: str) -> bool:
    if not 7 <= len(digits) <= 15:
        return True
    if len(set(digits)) == 1 or number.count("(") != number.count(")"):
        return True
    shapes = (_DATE, _IPV4, _SSN, _VERSIONISH, _YEARS, _ISBN, _GROUPED_THOUSANDS)
    if any(p.fullmatch(number) for p in shapes):
        return True
    return len(digits) >= 13 and luhn_valid(digits) and not number.startswith(("+", "00"))


def _rejected_here(text: str, start: int, number: str) -> bool:
    """Near misses told by what the run holds or what stands before it: a date inside, a
    standard's number ("1003.1-2004"), a revised version ("3.10.0-862"), a 32-bit
    limit, a ZIP+4 code after a state ("MA 02110-1301"), a numeric range ("the static
    range 60000-64999": a rounded block, or a range cue)."""
    if _ISO_DATE.search(number) or _STANDARD.fullmatch(number):
        return True
    if _REVISED_VERSION.fullmatch(number) or re.sub(r"\D", "", number)[-10:] in _INT_LIMITS:
        return True
    before = text[max(0, start - 32) : start]
    if _ZIP4.fullmatch(number):
        state = _STATE_BEFORE.search(before)
        if state is not None and state.group(1) in _US_STATES:
            return True
    span = _RANGE.fullmatch(number)
    if span is None or int(span.group(2)) <= int(span.group(1)):
        return False
    low, high = span.groups()
    return (low.endswith("0") and high.endswith("9")) or _RANGE_CUE.search(before) is not None


def _international_valid(number: str) -> bool:
    import phonenumbers

    text = "+" + number[2:] if number.startswith("00") else number
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(parsed))


def _national_shape(digits: str) -> bool:
    if digits.startswith("0") and not digits.startswith("00"):
        return len(digits) in (10, 11)
    if len(digits) != 10 or digits[0] in "01":
        return False
    import phonenumbers

    return bool(phonenumbers.is_valid_number(phonenumbers.parse(digits, "US")))


def score(number: str) -> float | None:
    """The confidence that ``number`` (the digits and separators only) is a phone number."""
    digits = re.sub(r"\D", "", number)
    if _rejected(number, digits):
        return None
    if _international(number):
        return 0.85 if _international_valid(_bare(number)) else 0.6
    separators = len(re.findall(r"[ \t().\-/]+", number))
    if separators == 0:
        # A bare digit run: order numbers, epochs, ids ... only with context, unless it has
        # a national phone shape (trunk prefix 0 and 10-11 digits, or a valid US number).
        return 0.45 if _national_shape(digits) else 0.3
    if separators == 1 and len(digits) < 9:
        return 0.35
    return 0.6


class LeakGuardPhoneRecognizer(Recognizer):
    """Phone numbers of any region; extensions are part of the span."""

    ENTITY = "PHONE_NUMBER"
    CONTEXT = (
        "phone", "telephone", "tel", "mobile", "mob", "cell", "call", "fax", "contact", "reach",
        "whatsapp", "text", "dial", "ring", "hotline", "ph", "landline", "sms", "reached",
    )  # fmt: skip

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        found = []
        pos = 0
        at = _CANDIDATE.at(text)
        while (m := _CANDIDATE.search(text, pos, at)) is not None:
            pos = m.end()
            number = m.group("number").rstrip(" \t(-./")
            start = m.start()
            if (
                number.startswith("(")
                and _nested(number[1:])
                and text[start + len(number) : start + len(number) + 1] == ")"
            ):
                # "(+351 21 555 0166)": the parenthesis wraps the number, it is no area code
                number, start = number[1:], start + 1
            has_ext = m.group("ext") is not None
            if (gap := _COLUMNS.search(number)) is not None:
                number, has_ext = number[: gap.start() + 1], False
                pos = start + len(number)
            if _international(number) and not _international_valid(_bare(number)):
                # "+1 415 555 0134 4111 1111 ...": the run took in the next number's
                # digits; the longest prefix (whole groups) that is a valid number wins.
                shorter = _valid_international_prefix(number)
                if shorter is not None:
                    number, has_ext = shorter, False
                    pos = start + len(number)
            value = None if _rejected_here(text, start, number) else score(number)
            if value is None:
                # "536-22-1845 (415) 555-0134": the run took in a number that follows; a
                # later group opening as phones do ('(' or '+' after a space) starts again.
                pos = _next_phone_start(text, start, pos)
                continue
            end = m.end() if has_ext else start + len(number)
            found.append((start, end, value, "phone"))
        return found


def _nested(number: str) -> bool:
    """Does every ')' in ``number`` close a '(' before it, and every '(' close?"""
    depth = 0
    for char in number:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0


_OPENING = re.compile(r"[ \t]+(?=[(+]\d|\(\+)")


def _next_phone_start(text: str, start: int, end: int) -> int:
    """The first '(' or '+' group after a space inside ``text[start:end]``, else ``end``."""
    m = _OPENING.search(text, start + 1, end)
    return m.end() if m is not None else end


def _international(number: str) -> bool:
    return number.startswith(("+", "00", "(+"))


def _bare(number: str) -> str:
    return number.replace("(", "").replace(")", "")


def _valid_international_prefix(number: str) -> str | None:
    cuts = [m.start() for m in re.finditer(r"[ \t]+", number)]
    for cut in reversed(cuts):
        prefix = number[:cut].rstrip(" \t(-./")
        if len(re.sub(r"\D", "", prefix)) >= 7 and _international_valid(_bare(prefix)):
            return prefix
    return None
