"""The rules of :mod:`leakguard.pii.deobfuscate`: each pass finds the edits that undo one
family of obfuscations, behind a cheap gate. Passes run in order, each on the text the ones
before it left; rules within a pass search the same text, and an edit that overlaps an
earlier rule's is dropped."""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PASSES", "RawEdit"]

# One edit a rule asks for: start, end (in the text the rule searched), replacement, form.
RawEdit = tuple[int, int, str, str]
Rewrite = Callable[[re.Match[str]], Sequence[RawEdit]]


@dataclass(frozen=True, slots=True)
class _Rule:
    """A pattern, and for each match the edits it asks for (none: the match is not one)."""

    pattern: re.Pattern[str]
    rewrite: Rewrite


@dataclass(frozen=True, slots=True)
class _Pass:
    """Edits found on the text the passes before left; ``gate`` is the cheap test (C-speed
    substring searches, or a regex that starts with a literal) that skips the pass on text
    it cannot change."""

    gate: Callable[[str], bool]
    edits: Callable[[str], list[RawEdit]]


def _whole(replacement: str, form: str) -> Rewrite:
    return lambda m: [(m.start(), m.end(), replacement, form)]


def _rules(*rules: _Rule) -> Callable[[str], list[RawEdit]]:
    return lambda text: _edits(text, rules)


def _edits(text: str, rules: Sequence[_Rule]) -> list[RawEdit]:
    """The edits the rules ask for on ``text``; a later rule's edit that overlaps an
    earlier one is dropped."""
    taken: list[RawEdit] = []
    for rule in rules:
        for match in rule.pattern.finditer(text):
            for edit in rule.rewrite(match):
                start, end, repl, _ = edit
                if text[start:end] == repl:
                    continue
                if any(start < e and s < end for s, e, _, _ in taken):
                    continue
                taken.append(edit)
    taken.sort()
    return taken


def _any_of(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(n in text for n in needles)


# --- characters (only texts that are not plain ASCII) ---------------------------------


def _chars(*spans: str) -> frozenset[str]:
    """The characters of ``spans``: single characters, or "first-last" ranges."""
    out: set[str] = set()
    for span in spans:
        first, _, last = span.partition("-")
        out.update(map(chr, range(ord(first), ord(last or first) + 1)))
    return frozenset(out)


_INVISIBLE = _chars(
    "\u00ad", "\u034f", "\u061c", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u180e",
    "\u200b-\u200f", "\u202a-\u202e", "\u2060-\u2064", "\u2066-\u206f", "\ufeff",
)  # fmt: skip
_DASHES = _chars("\u2010-\u2015", "\u2043", "\u2212", "\ufe58", "\ufe63")
_SPACES = _chars("\u00a0", "\u1680", "\u2000-\u200a", "\u202f", "\u205f", "\u3000")
_STOPS = _chars("\u2024", "\u3002", "\ufe52", "\uff61")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _characters(text: str) -> list[RawEdit]:
    edits = []
    for m in _NON_ASCII.finditer(text):
        i = m.start()
        edit = _character(text, i)
        if edit is not None:
            edits.append(edit)
    return edits


def _character(text: str, i: int) -> RawEdit | None:
    """The edit for the non-ASCII character at ``i``, if it is one of the forms. Stops,
    dashes and spaces count only between the characters of a value (a no-break space in
    prose stays: the NER reads it as it is)."""
    c = text[i]
    if c in _INVISIBLE:
        return (i, i + 1, "", "invisible")
    if "\uff01" <= c <= "\uff5e":
        return (i, i + 1, chr(ord(c) - 0xFEE0), "fullwidth")
    if c.isdecimal():
        return (i, i + 1, str(unicodedata.decimal(c)), "digits")
    if c == "\ufe6b":
        return (i, i + 1, "@", "fullwidth")
    before, after = text[i - 1 : i], text[i + 1 : i + 2]
    if c in _STOPS and _value_char(before) and _value_char(after):
        return (i, i + 1, ".", "fullwidth")
    if c in _DASHES and before.isdecimal() and after.isdecimal():
        return (i, i + 1, "-", "dashes")
    if c in _SPACES and (
        (before.isdecimal() and after.isalnum()) or (before.isalnum() and after.isdecimal())
    ):
        return (i, i + 1, " ", "spaces")
    return None


def _value_char(c: str) -> bool:
    return (c.isascii() and c.isalnum()) or "\uff10" <= c <= "\uff5a"


# --- entities, defanged addresses ------------------------------------------------------


def _percent_at(m: re.Match[str]) -> list[RawEdit]:
    text, i = m.string, m.start()
    if i and (text[i - 1].isalnum() or text[i - 1] in "._+-") and text[i + 3 : i + 4].isalnum():
        return [(i, i + 3, "@", "entities")]
    return []


def _bracket_dot(m: re.Match[str]) -> list[RawEdit]:
    text, i, j = m.string, m.start(), m.end()
    if _ascii_alnum(text[i - 1 : i]) and _ascii_alnum(text[j : j + 1]):
        return [(i, j, ".", "defang")]
    return []


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _hxxp(m: re.Match[str]) -> list[RawEdit]:
    i = m.start()
    if i and (m.string[i - 1].isalnum() or m.string[i - 1] == "_"):
        return []
    return [(i, m.end(), "http", "defang")]


def _inner(m: re.Match[str]) -> list[RawEdit]:
    return [(m.start(), m.end(), m.group()[1:-1], "defang")]


# Each starts with a literal, so that the search skips ahead at C speed (a pattern that
# starts with a class or an alternation tries every position).
_ENTITY_GATES = tuple(
    re.compile(p)
    for p in (
        r"&(?:#|commat;|period;)", r"%40", r"\[(?:\.|dot|DOT)\]", r"\((?:\.|dot|DOT)\)",
        r"\{(?:\.|dot|DOT)\}", r"<(?:\.|dot|DOT)>", r"xxp", r"XXp", r"\*\*p", r"\[:",
    )
)  # fmt: skip
_ENTITIES = _Pass(
    lambda text: any(g.search(text) for g in _ENTITY_GATES),
    _rules(
        _Rule(re.compile(r"&#0*64;|&#[xX]0*40;|&commat;"), _whole("@", "entities")),
        _Rule(re.compile(r"&#0*46;|&#[xX]0*2[eE];|&period;"), _whole(".", "entities")),
        _Rule(re.compile(r"%40"), _percent_at),
        _Rule(re.compile(r"[\[({<](?:\.|dot|DOT)[\])}>]"), _bracket_dot),
        _Rule(re.compile(r"h(?:xx|XX|\*\*)p(?=s?(?:\[:\]|:)//)"), _hxxp),
        _Rule(re.compile(r"\[:\](?=//)|\[://\]"), _inner),
    ),
)


# --- e-mail addresses ------------------------------------------------------------------

_LOCAL = r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9])?"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_OPEN, _CLOSE = r"[\[({<]", r"[\])}>]"
# The "at" and "dot" of an address, every way they are written.
_AT = (
    rf"(?P<at>[ \t]*{_OPEN}[ \t]*(?:at|AT|At|@)[ \t]*{_CLOSE}[ \t]*"
    r"|[ \t]+(?:at|AT)[ \t]+|[ \t]*@[ \t]*)"
)
_DOT = (
    rf"(?:[ \t]*{_OPEN}[ \t]*(?:dot|DOT|Dot|\.)[ \t]*{_CLOSE}[ \t]*"
    r"|[ \t]+(?:dot|DOT)[ \t]+|[ \t]*\.)"
)
_EMAIL = re.compile(
    rf"(?<![\w.+%/@-])(?P<local>{_LOCAL}){_AT}"
    rf"(?P<domain>{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}[A-Za-z]{{2,24}})(?![\w@-]|\.\w)"
)
_DOT_IN_DOMAIN = re.compile(_DOT)
# A local part that is not a plain word: letters with a digit or one of ._+- .
_LOCAL_LIKE = re.compile(r"[A-Za-z].*[._+\-0-9]|[._+\-0-9].*[A-Za-z]")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
# Where the "at" of an address may be: each pattern starts with a literal (see above).
_AT_GATES = tuple(
    re.compile(p)
    for p in (
        r"@", r" (?:at|AT) ", r"\t(?:at|AT)[ \t]", r"\[ ?(?:at|AT|At|@) ?\]",
        r"\( ?(?:at|AT|At|@) ?\)", r"\{ ?(?:at|AT|At|@) ?\}", r"< ?(?:at|AT|At|@) ?>",
    )
)  # fmt: skip


def _email_edits(text: str) -> list[RawEdit]:
    """Addresses found from each place an "at" may be: the local part before it is found
    by walking back over its characters, then the address pattern is matched there."""
    candidates = sorted({m.start() for gate in _AT_GATES for m in gate.finditer(text)})
    edits: list[RawEdit] = []
    done = 0
    for at in candidates:
        if at < done:
            continue
        end = at
        while end and text[end - 1] in " \t":
            end -= 1
        start = end
        while start and end - start < 64 and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        while start < end and text[start] in "._%+-":
            start += 1
        m = _EMAIL.match(text, start) if start < end else None
        if m is not None and m.start("at") <= at < m.end("at"):
            edits += _email(m)
            done = m.end()
    return edits


def _email(m: re.Match[str]) -> list[RawEdit]:
    """The "at" and every "dot" of an address as ``@`` and ``.``. A bare word "at" counts
    only with a spelled "dot" in the domain or an e-mail-like local part."""
    at = m.group("at").strip()
    spaced_only = at == "@"
    edits = [(m.start("at"), m.end("at"), "@")]
    spelled = False
    offset = m.start("domain")
    for dot in _DOT_IN_DOMAIN.finditer(m.group("domain")):
        if dot.group() != ".":
            edits.append((offset + dot.start(), offset + dot.end(), "."))
            spaced_only = spaced_only and dot.group().strip() == "."
            spelled = spelled or dot.group().strip() != "."
    if at in ("at", "AT") and not (spelled or _LOCAL_LIKE.search(m.group("local"))):
        return []  # "look at example.com": prose, not an address
    edits = [(a, b, repl) for a, b, repl in edits if m.string[a:b] != repl]
    if not edits or not _public_suffix(_DOT_IN_DOMAIN.sub(".", m.group("domain"))):
        return []  # "GB82... at j.doe": no such domain (and "j.doe" may start an address)
    form = "email_spaces" if spaced_only else "at_dot"
    return [(a, b, repl, form) for a, b, repl in edits]


@functools.cache
def _suffix_extractor() -> Callable[[str], Any]:
    import tldextract  # its bundled public-suffix snapshot: never fetched, no cache directory

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _public_suffix(domain: str) -> bool:
    """Whether ``domain`` ends in a public suffix and has a name before it (as the e-mail
    recognizer checks in the end: the rewrite is only made where it can be an address)."""
    return bool(_suffix_extractor()(domain).fqdn)


_EMAILS = _Pass(lambda text: any(g.search(text) for g in _AT_GATES), _email_edits)


# --- layout: numbers and keys written in pieces ----------------------------------------

_DOTTED_CARD = re.compile(
    r"(?<![\d.,/_-])\d{4}([./_])\d{4}\1\d{4}\1\d{1,7}(?![\d/_-]|[.,]\d)"
    r"|(?<![\d.,/_-])\d{4}([./_])\d{6}\2\d{4,5}(?![\d/_-]|[.,]\d)"
)
# Each starts with a literal, so that the search skips ahead at C speed.
_DOTTED_GATES = tuple(re.compile(rf"{re.escape(sep)}\d{{4,6}}{re.escape(sep)}") for sep in "./_")


def _dotted_card(m: re.Match[str]) -> list[RawEdit]:
    sep = m.group(1) or m.group(2)
    start = m.start()
    return [
        (start + i, start + i + 1, "-", "dotted_card") for i, c in enumerate(m.group()) if c == sep
    ]


# One row of digit-only cells: "| 4111 | 1111 | 1111 | 1111 |", maybe after a label cell.
_CELLS = r"(?:\|[ \t]*\d{3,6}[ \t]*){3,5}\|"
_LABEL_CELL = r"(?:\|(?![ \t]*\d{3,6}[ \t]*\|)[^|\n]*)?"
_TABLE_ROW = re.compile(rf"(?m)^[ \t]*{_LABEL_CELL}(?P<cells>{_CELLS})[ \t]*$")
_NUMBER_ROW = re.compile(rf"[ \t]*{_LABEL_CELL}{_CELLS}[ \t]*")
_RULE_LINE = re.compile(r"[ \t]*\|[ \t|:-]*")
_CELL_DIGITS = re.compile(r"\d+")


def _table_card(m: re.Match[str]) -> list[RawEdit]:
    """The digit cells of a row joined by dashes, when they hold 13 to 19 digits
    and the row is alone: a table of numbers has rows of numbers around it, and those are
    left as they are."""
    text = m.string
    cells = list(_CELL_DIGITS.finditer(text, m.start("cells"), m.end("cells")))
    if not 13 <= sum(len(c.group()) for c in cells) <= 19:
        return []
    if _number_row_near(text, m.start(), above=True) or _number_row_near(
        text, m.end(), above=False
    ):
        return []
    return [(a.end(), b.start(), "-", "table_card") for a, b in itertools.pairwise(cells)]


def _number_row_near(text: str, pos: int, *, above: bool) -> bool:
    """Whether the nearest line above (or below) the line at ``pos`` that is not a rule
    line ("|---|---|") is a row of digit cells too."""
    for _ in range(3):
        if above:
            end = text.rfind("\n", 0, pos)
            if end < 0:
                return False
            pos = text.rfind("\n", 0, end) + 1
            line = text[pos:end]
        else:
            start = text.find("\n", pos)
            if start < 0:
                return False
            end = text.find("\n", start + 1)
            pos = len(text) if end < 0 else end
            line = text[start + 1 : pos]
        if not _RULE_LINE.fullmatch(line):
            return _NUMBER_ROW.fullmatch(line) is not None
    return False


_KEY_SEP = r"[ \t.-]?"
_SPACED_KEY = re.compile(
    rf"A{_KEY_SEP}(?:K{_KEY_SEP}I|S{_KEY_SEP}I|B{_KEY_SEP}I|C{_KEY_SEP}C)"
    rf"{_KEY_SEP}A(?:{_KEY_SEP}[A-Z2-7]){{16}}(?![A-Za-z0-9])"
)
_SPACED_DIGITS = re.compile(r"\d(?: \d){12,18}(?! ?\d)")


def _joined(form: str, *, number: bool) -> Rewrite:
    """The separators inside the match removed, unless the match continues a word (or, for
    a ``number``, is the tail of a longer run of spaced digits)."""

    def rewrite(m: re.Match[str]) -> list[RawEdit]:
        start, before = m.start(), m.string[max(0, m.start() - 2) : m.start()]
        if before[-1:].isalnum() or (number and before[-1:] == " " and before[:1].isdigit()):
            return []
        return [
            (start + i, start + i + 1, "", form) for i, c in enumerate(m.group()) if c in " \t.-"
        ]

    return rewrite


_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_WORD = "(?:" + "|".join(_DIGIT_WORDS) + ")"
_DIGIT_WORD_RUN = re.compile(rf"(?i)\b{_WORD}(?:(?:[ \t]*[,-][ \t]*|[ \t]+){_WORD}){{6,18}}\b")
_ONE_WORD = re.compile(_WORD, re.IGNORECASE)
# Two digit words in a row (in lower case, as inside a run), after a space: the literal
# first, so the search is fast.
_DIGIT_WORD_GATE = re.compile(rf" (?=[zotfsen]){_WORD}[ \t,-]+{_WORD}\b")


def _digit_words(m: re.Match[str]) -> list[RawEdit]:
    digits = "".join(_DIGIT_WORDS[w.group().lower()] for w in _ONE_WORD.finditer(m.group()))
    return [(m.start(), m.end(), digits, "digit_words")]


_DIGIT_GATE = re.compile(r" \d \d \d ")
_KEY_GATE = re.compile(r"A[ \t.-]?[KSBC][ \t.-]?[IC][ \t.-]?A")

# In order: characters first, so that a full-width address reaches the e-mail pass as
# ASCII, and entities before addresses ("jane&#64;example.com").
PASSES = (
    _Pass(lambda text: not text.isascii(), _characters),
    _ENTITIES,
    _EMAILS,
    _Pass(
        lambda text: any(g.search(text) for g in _DOTTED_GATES),
        _rules(_Rule(_DOTTED_CARD, _dotted_card)),
    ),
    _Pass(lambda text: "|" in text, _rules(_Rule(_TABLE_ROW, _table_card))),
    _Pass(
        lambda text: _KEY_GATE.search(text) is not None,
        _rules(_Rule(_SPACED_KEY, _joined("spaced_key", number=False))),
    ),
    _Pass(
        lambda text: _DIGIT_GATE.search(text) is not None,
        _rules(_Rule(_SPACED_DIGITS, _joined("spaced_digits", number=True))),
    ),
    _Pass(
        lambda text: _DIGIT_WORD_GATE.search(text) is not None,
        _rules(_Rule(_DIGIT_WORD_RUN, _digit_words)),
    ),
)
