"""Payment card numbers of every scheme: 12 to 19 digits, ungrouped or grouped by one kind
of separator (spaces or dashes), an issuer identification number (IIN) range of a scheme
at a length that scheme issues, and a valid Luhn check digit.

Presidio's own card pattern takes any Luhn-valid 13-17 digits that begin with 1, 3, 4, 5
or 6 (so it flags numbers no scheme issues) and misses the Mastercard 2-series, 12-digit
Maestro, 15-digit JCB (1800, 2131) and 18-19 digit cards; the analyzer uses this
recognizer instead when leakguard's recognizers are on.

The ranges come from ISO/IEC 7812 as the schemes publish them (the IIN tables of the
Discover Global Network acceptance guide, the Mastercard and Maestro BIN ranges, Visa's,
Amex's, JCB's, UnionPay's, NPCI's RuPay and NSPK's Mir), as collected on Wikipedia's
"Payment card number" page. A number in no range, or at a length its scheme does not use,
is not a card, however its check digit comes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leakguard.checksums import luhn_valid
from leakguard.pii.recognizers.base import Recognizer, led_by

__all__ = ["SCHEMES", "LeakGuardCardRecognizer", "Scheme", "scheme_of"]


@dataclass(frozen=True, slots=True)
class Scheme:
    """A card scheme: its IIN ranges (``"2221-2720"``: every number whose first four digits
    lie in 2221..2720; ``"4"``: a one-digit prefix) and the lengths it issues."""

    name: str
    ranges: tuple[str, ...]
    lengths: tuple[int, ...]

    def bounds(self) -> list[tuple[str, str]]:
        """Each range as its lowest and highest prefix (of one length)."""
        out = []
        for spec in self.ranges:
            lo, _, hi = spec.partition("-")
            out.append((lo, hi or lo))
        return out

    def issued(self, digits: str) -> bool:
        return len(digits) in self.lengths and any(
            lo <= digits[: len(lo)] <= hi for lo, hi in self.bounds()
        )


def _lengths(lo: int, hi: int) -> tuple[int, ...]:
    return tuple(range(lo, hi + 1))


# The most specific schemes first: the first scheme that issues a number names it. Maestro's
# wide ranges (50, 56-69, 12-19 digits) come last, so a Discover or UnionPay number is named
# after its own scheme, and one at a length its scheme does not use is still a Maestro card.
SCHEMES: tuple[Scheme, ...] = (
    Scheme("amex", ("34", "37"), (15,)),
    Scheme("mastercard", ("51-55", "2221-2720"), (16,)),
    Scheme("mir", ("2200-2204",), _lengths(16, 19)),
    Scheme("borica", ("2205",), (16,)),
    Scheme("visa", ("4",), _lengths(13, 19)),
    Scheme("jcb", ("3528-3589",), _lengths(16, 19)),
    # JCB's older ranges, which Discover's network still routes to JCB.
    Scheme("jcb", ("3088-3094", "3096-3102", "3112-3120", "3158-3159", "3337-3349"), (16,)),
    Scheme("jcb", ("1800", "2131"), (15,)),  # JCB's 15-digit cards
    Scheme("diners", ("300-305", "3095", "36", "38-39"), _lengths(14, 19)),
    Scheme("uatp", ("1",), (15,)),  # airline cards (Universal Air Travel Plan)
    Scheme("china_t_union", ("31",), (19,)),
    Scheme("discover", ("6011", "644-649", "65", "622126-622925"), _lengths(16, 19)),
    Scheme("unionpay", ("62",), _lengths(16, 19)),
    Scheme("rupay", ("353", "356", "508", "60", "65", "81", "82"), (16,)),
    Scheme("verve", ("506099-506198", "507865-507964", "650002-650027"), (16, 18, 19)),
    Scheme("troy", ("65", "9792"), (16,)),
    Scheme("uzcard", ("8600",), (16,)),
    Scheme("humo", ("9860",), (16,)),
    Scheme("napas", ("9704",), (16, 19)),
    Scheme("gpn", ("1946",), (16, 18, 19)),
    # 0604: a Maestro range of the old BIN tables, still in issuers' test data.
    Scheme("maestro", ("50", "56-69", "0604"), _lengths(12, 19)),
)


def _prefix_index() -> dict[tuple[int, str], int]:
    """(length, prefix) -> the table position of the first scheme that issues it: every
    range spelled out (the widest, 622126-622925, is 800 prefixes)."""
    index: dict[tuple[int, str], int] = {}
    for rank, scheme in enumerate(SCHEMES):
        for lo, hi in scheme.bounds():
            for prefix in range(int(lo), int(hi) + 1):
                for length in scheme.lengths:
                    index.setdefault((length, f"{prefix:0{len(lo)}d}"), rank)
    return index


_INDEX = _prefix_index()
_PREFIX_LENGTHS = sorted({len(lo) for s in SCHEMES for lo, _ in s.bounds()})
_NONE = len(SCHEMES)


def scheme_of(digits: str) -> str | None:
    """The scheme that issues card numbers like ``digits`` (digits only), or ``None``."""
    n = len(digits)
    rank = min(_INDEX.get((n, digits[:p]), _NONE) for p in _PREFIX_LENGTHS)
    return SCHEMES[rank].name if rank < _NONE else None


# A Luhn-valid number of a card's length and major industry (3: travel, 4-6: banking) in
# no listed range: a card of a range this table lacks (schemes add ranges) or just digits.
# Below the default threshold alone; a card word before it (``CONTEXT``) lifts it above.
UNLISTED_SCORE = 0.3
_UNLISTED_LENGTHS = range(13, 20)


# A digit not right after a word character, '.' or '-', then 11 to 18 more, each maybe
# after one space or dash; not followed by a word character, a dash or a decimal part.
_CANDIDATE = re.compile(led_by(r"\d", r"[\w.-]") + r"(?:[ -]?\d){11,18}(?![\w-]|[.,]\d)")


class LeakGuardCardRecognizer(Recognizer):
    ENTITY = "CREDIT_CARD"
    CONTEXT = (
        "card",
        "credit",
        "debit",
        "visa",
        "mastercard",
        "maestro",
        "amex",
        "jcb",
        "discover",
        "diners",
        "unionpay",
        "rupay",
        "payment",
        "pay",
        "paid",
        "charge",
        "charged",
        "billing",
        "cc",
    )

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        found = []
        pos, inside = 0, False
        while (m := _CANDIDATE.search(text, pos)) is not None:
            card = self._card(m.group(0))
            if card is not None and (not inside or _card_grouping(m.group(0))):
                found.append((m.start(), m.end(), *card))
                pos, inside = m.end(), False
                continue
            # Not a card: a card may still begin at a later group of this run of digits
            # ("+1 415 555 0134 4111 1111 1111 1111": the phone's last groups, then a card),
            # if it is written as cards are (so that any Luhn-valid stretch of a long number
            # is not one).
            pos = _next_group(text, m.start(), m.end())
            inside = pos < m.end()
        return found

    @staticmethod
    def _card(value: str) -> tuple[float, str] | None:
        digits = value.replace(" ", "").replace("-", "")
        # one kind of separator; a run of one digit is a placeholder, not a card
        if len({c for c in value if not c.isdigit()}) > 1 or len(set(digits)) == 1:
            return None
        scheme = scheme_of(digits)
        if scheme is not None:
            return (0.9, scheme) if luhn_valid(digits) else None
        if digits[0] in "3456" and len(digits) in _UNLISTED_LENGTHS and luhn_valid(digits):
            return UNLISTED_SCORE, "unlisted"
        return None


def _card_grouping(value: str) -> bool:
    """Grouped as printed cards are: fours (the last group shorter), 4-6-5 or 4-6-4."""
    groups = [len(g) for g in re.split(r"[ -]", value)]
    if len(groups) == 1:
        return True
    return groups in ([4, 6, 5], [4, 6, 4]) or (
        all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4
    )


def _next_group(text: str, start: int, end: int) -> int:
    """Where the next group of digits after ``start`` begins (after a separator), or ``end``."""
    for i in range(start + 1, end):
        if text[i] in " -":
            return i + 1
    return end
