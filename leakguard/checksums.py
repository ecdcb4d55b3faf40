"""Check-digit algorithms, once: Luhn (payment cards, IMEIs), ISO 7064 mod 97-10 (IBANs) and
the NHS number's mod 11.

Every function takes the characters to check as they are written and decides on its
digits (or, for mod 97, its letters and digits) alone; none of them raises on bad input.
"""

from __future__ import annotations

__all__ = ["luhn_check_digit", "luhn_valid", "mod97_valid", "nhs_valid"]


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits added


def luhn_valid(text: str) -> bool:
    """The digits of ``text`` (separators ignored) end in a valid Luhn check digit; needs 2+."""
    if text.isascii() and text.isdigit():  # the common case: digits only
        digits = list(map(int, text))
    else:
        digits = [int(c) for c in text if c.isdigit()]
    if len(digits) < 2:
        return False
    total = sum(digits[-1::-2]) + sum(_DOUBLED[d] for d in digits[-2::-2])
    return total % 10 == 0


def luhn_check_digit(payload: str) -> int:
    """The digit that, appended to the digits of ``payload``, makes them Luhn-valid."""
    digits = [int(c) for c in payload if c.isdigit()]
    total = sum(_DOUBLED[d] for d in digits[-1::-2]) + sum(digits[-2::-2])
    return (10 - total % 10) % 10


def mod97_valid(text: str) -> bool:
    """ISO 7064 mod 97-10 as IBANs use it: country code and check digits moved to the end,
    letters as 10..35, the number modulo 97 is 1. Spaces and dashes are ignored."""
    compact = "".join(c for c in text if not (c.isspace() or c == "-")).upper()
    if len(compact) < 5 or not (compact.isascii() and compact.isalnum()):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def nhs_valid(text: str) -> bool:
    """A ten-digit NHS number: weights 10..2 over the first nine digits, 11 minus the sum
    modulo 11 is the tenth (11 counts as 0; a result of 10 is never issued)."""
    digits = [int(c) for c in text if c.isdigit()]
    if len(digits) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=False)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == digits[9]
