"""Obfuscated values: each form's text, the label a guard must report, and the obfuscated
value whose whole span the finding must cover (shared by tests/test_deobfuscate.py and
bench/bench_deobfuscate.py).

Written by hand for this table; every value is a documented test value (card numbers of the
schemes' test ranges, the AWS documentation's example key, RFC 5737 addresses, 555-01xx
phones, example.com domains). Non-ASCII characters are written as escapes, so the table
reads the same in any editor.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FORMS", "NEGATIVES", "Form"]


@dataclass(frozen=True, slots=True)
class Form:
    form: str  # the class of obfuscation (bench: recall per class)
    value: str  # the obfuscated value, as it appears in ``text``
    label: str
    template: str = "Here you go: {} (from the customer record)."

    @property
    def text(self) -> str:
        return self.template.format(self.value)

    @property
    def span(self) -> tuple[int, int]:
        start = self.template.index("{}")
        return start, start + len(self.value)


def _fw(text: str) -> str:
    """``text`` in full-width characters (U+FF01..U+FF5E), spaces kept."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _digits(text: str, zero: int) -> str:
    """``text`` with its ASCII digits written in the script whose zero is ``zero``."""
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)


ROW = "| Field | Value |\n|---|---|\n| Card on file | {} |\nThanks."
LINE = "Payment details\n{}\nend of record"

FORMS: tuple[Form, ...] = (
    # zero-width characters, word joiners, soft hyphens
    Form("invisible", "jane\u200b.doe@example.com", "EMAIL_ADDRESS"),
    Form("invisible", "jane.doe@exam\u200cple.com", "EMAIL_ADDRESS"),
    Form("invisible", "jane@\ufeffexample.com", "EMAIL_ADDRESS"),
    Form("invisible", "jane.doe@exam\u00adple.com", "EMAIL_ADDRESS"),
    Form("invisible", "4111\u200b1111\u200b1111\u200b1111", "CREDIT_CARD"),
    Form("invisible", "4111 1111\u2060 1111 1111", "CREDIT_CARD"),
    Form("invisible", "536\u200d-22-1845", "US_SSN"),
    Form("invisible", "+1 415\u200b 555 0134", "PHONE_NUMBER"),
    Form("invisible", "GB82\u200bWEST12345698765432", "IBAN_CODE"),
    Form("invisible", "AKIA\u200bIOSFODNN7EXAMPLE", "SECRET"),
    Form("invisible", "81.2\u200b.69.160", "IP_ADDRESS"),
    # decimal digits of other scripts
    Form("digits", _fw("4111 1111 1111 1111"), "CREDIT_CARD"),
    Form("digits", _digits("536-22-1845", 0x0660), "US_SSN"),  # Arabic-Indic
    Form("digits", _digits("536-22-1845", 0x0966), "US_SSN"),  # Devanagari
    Form("digits", _digits("536-22-1845", 0x0E50), "US_SSN"),  # Thai
    Form("digits", _digits("+1 415 555 0134", 0x06F0), "PHONE_NUMBER"),  # Persian
    Form("digits", _digits("4111 1111 1111 1111", 0x09E6), "CREDIT_CARD"),  # Bengali
    Form("digits", "4111 " + _digits("1111", 0x0660) + " 1111 1111", "CREDIT_CARD"),
    Form("digits", _digits("5555 5555 5555 4444", 0x1D7CE), "CREDIT_CARD"),  # math bold
    Form("digits", _fw("81.2.69.160"), "IP_ADDRESS"),
    Form("digits", _fw("(415) 555-0134"), "PHONE_NUMBER"),
    # Unicode hyphens, dashes and minus signs
    Form("dashes", "536\u201322\u20131845", "US_SSN"),
    Form("dashes", "536\u201422\u20141845", "US_SSN"),
    Form("dashes", "536\u201122\u20111845", "US_SSN"),
    Form("dashes", "(415) 555\u22120134", "PHONE_NUMBER"),
    Form("dashes", "+1 415\u2010555\u20100134", "PHONE_NUMBER"),
    Form("dashes", "4111\u20121111\u20121111\u20121111", "CREDIT_CARD"),
    # Unicode spaces
    Form("spaces", "4111\u00a01111\u00a01111\u00a01111", "CREDIT_CARD"),
    Form("spaces", "+1\u202f415\u202f555\u202f0134", "PHONE_NUMBER"),
    Form("spaces", "GB82\u2009WEST\u20091234\u20095698\u20097654\u200932", "IBAN_CODE"),
    # full-width and small forms of @ and .
    Form("fullwidth", "jane\uff20example\uff0ecom", "EMAIL_ADDRESS"),
    Form("fullwidth", _fw("jane@example.com"), "EMAIL_ADDRESS"),
    Form("fullwidth", "jane\ufe6bexample.com", "EMAIL_ADDRESS"),
    Form("fullwidth", "jane@example\u3002com", "EMAIL_ADDRESS"),
    # HTML entities and percent-encoding
    Form("entities", "jane&#64;example.com", "EMAIL_ADDRESS"),
    Form("entities", "jane&#x40;example.com", "EMAIL_ADDRESS"),
    Form("entities", "jane&commat;example&period;com", "EMAIL_ADDRESS"),
    Form("entities", "jane%40example.com", "EMAIL_ADDRESS"),
    Form("entities", "jane&#64;example&#46;com", "EMAIL_ADDRESS"),
    # [at], (at), at, [dot], dot
    Form("at_dot", "jane [at] example [dot] com", "EMAIL_ADDRESS"),
    Form("at_dot", "jane(at)example(dot)com", "EMAIL_ADDRESS"),
    Form("at_dot", "jane {at} example {dot} com", "EMAIL_ADDRESS"),
    Form("at_dot", "jane<at>example<dot>com", "EMAIL_ADDRESS"),
    Form("at_dot", "jane [@] example.com", "EMAIL_ADDRESS"),
    Form("at_dot", "jane [at] example.com", "EMAIL_ADDRESS"),
    Form("at_dot", "jane at example dot com", "EMAIL_ADDRESS"),
    Form("at_dot", "jane.doe at example.com", "EMAIL_ADDRESS"),
    Form("at_dot", "j.doe AT example DOT org", "EMAIL_ADDRESS"),
    Form("at_dot", "jane_doe at example dot co dot uk", "EMAIL_ADDRESS"),
    Form("at_dot", "jane.doe(at)example[.]com", "EMAIL_ADDRESS"),
    # spaces inside an address
    Form("email_spaces", "jane@acme-corp .com", "EMAIL_ADDRESS"),
    Form("email_spaces", "jane @ example.com", "EMAIL_ADDRESS"),
    Form("email_spaces", "jane.doe @example.org", "EMAIL_ADDRESS"),
    # defanged addresses
    Form("defang", "81[.]2[.]69[.]160", "IP_ADDRESS"),
    Form("defang", "81(.)2(.)69(.)142", "IP_ADDRESS"),
    Form("defang", "81[dot]2[dot]69[dot]160", "IP_ADDRESS"),
    Form("defang", "jane@example[.]com", "EMAIL_ADDRESS"),
    Form("defang", "81[.]2[.]69[.]160", "IP_ADDRESS", "Beacon to hxxp://{}/gate.php seen."),
    # card numbers written in pieces
    Form("dotted_card", "4111.1111.1111.1111", "CREDIT_CARD"),
    Form("dotted_card", "5555/5555/5555/4444", "CREDIT_CARD"),
    Form("dotted_card", "3782.822463.10005", "CREDIT_CARD"),
    Form("dotted_card", "6011_1111_1111_1117", "CREDIT_CARD"),
    Form("table_card", "4111 | 1111 | 1111 | 1111", "CREDIT_CARD", LINE.replace("{}", "| {} |")),
    Form("table_card", "5555 | 5555 | 5555 | 4444", "CREDIT_CARD", ROW),
    Form("table_card", "3782 | 822463 | 10005", "CREDIT_CARD", LINE.replace("{}", "|{}|")),
    # keys written in pieces
    Form("spaced_key", "AKIA IOSF ODNN 7EXA MPLE", "SECRET"),
    Form("spaced_key", "AKIA-IOSF-ODNN-7EXA-MPLE", "SECRET"),
    Form("spaced_key", " ".join("AKIAIOSFODNN7EXAMPLE"), "SECRET"),
    # numbers in words
    Form("digit_words", " ".join(["four"] + ["one"] * 15), "CREDIT_CARD"),
    Form(
        "digit_words",
        "five five five five, five five five five, five five five five, four four four four",
        "CREDIT_CARD",
    ),
    # several forms in one value
    Form("combined", "j\u200bane [at] exa\u200bmple [dot] com", "EMAIL_ADDRESS"),
    Form("combined", _fw("4111.1111.1111.1111"), "CREDIT_CARD"),
    Form("combined", "jane\uff20example [dot] com", "EMAIL_ADDRESS"),
)

# Ordinary text that looks a little like the forms above: none of it is personal data.
NEGATIVES: tuple[str, ...] = (
    "Look at example.com for the details, and at the docs dot page later.",
    "We met at home. Then we went at noon to the office at Main Street.",
    "Version 2.4.1 at github.com fixed it; see release 2024.01.15.",
    "The build (at) night takes 12.5 minutes [dot] matrix printers are loud.",
    "| Year | Q1 | Q2 | Q3 | Q4 |\n|---|---|---|---|---|\n| 2021 | 4100 | 4200 | 4300 | 4400 |\n"
    "| 2022 | 4500 | 4600 | 4700 | 4800 |\n| 2023 | 4900 | 5000 | 5100 | 5200 |",
    "| id | a | b | c |\n|----|---|---|---|\n| 1001 | 2002 | 3003 | 4004 |\n"
    "| 1002 | 2003 | 3004 | 4005 |",
    "Ranges: 1990\u20132000 and pages 10\u201320; 3 \u2212 2 = 1.",
    "Prices\u00a0rose 3\u202f% in 2021; caf\u00e9 na\u00efve r\u00e9sum\u00e9.",
    "I will be at one two three, then at four five, then at six seven.",
    "Read the FAQ at docs.example.org, or write to the list at lists dot debian.",
    "The file is at /usr/share/doc/README.Debian and at src/main.c line 42.",
    "Use 192.168.1.1 as the gateway? No: that is an RFC 1918 address at home.",
    "Shipped at 10.30 on 2023.11.04; batch 1234.5678 was late.",
    "Step one: two eggs. Step two: three cups. Step three: four spoons.",
    "HTTP headers &amp; entities like &lt;br&gt; and %20 spaces are escaped.",
    "AKA the alpha team, the ASIA region and ACCA members met at ten.",
)
