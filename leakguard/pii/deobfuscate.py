"""A normalised view of a text, for finding values written so that patterns miss them.

``deobfuscate(text)`` returns a :class:`Deobfuscated` view: the text with obfuscations undone
(``jane [at] example [dot] com`` → ``jane@example.com``, full-width ``4111`` → ``4111``, zero-width
characters removed, ...) and a sparse edit list that maps every span of the normalised text
back to the original. The PII detector runs on the normalised text and reports findings on
the original text (:meth:`Deobfuscated.restore`): a finding covers the whole obfuscated
original, separators, brackets and invisible characters included, so redaction stays exact.
This is the one place where a detector does not read the original text; nothing else
rewrites text before detection (DESIGN.md, "The core pipeline").

What is undone (each edit names its form, which the finding reports as ``obfuscation``):

* ``invisible``: zero-width spaces and joiners, word joiners, soft hyphens, bidi controls;
* ``digits``: decimal digits of any script (Arabic-Indic, Devanagari, full-width, ...);
* ``fullwidth``: full-width ASCII (U+FF20 at, U+FF0E full stop, letters), small and
  ideographic full stops between letters or digits, the small commercial at;
* ``dashes``: Unicode hyphens, dashes and minus signs between digits;
* ``spaces``: no-break, thin, figure and other Unicode spaces beside a digit;
* ``entities``: ``&#64;``, ``&#x40;``, ``&commat;``, ``%40`` (and the ``.`` entities);
* ``at_dot``: ``[at]``, ``(at)``, ``{at}``, ``[@]``, ``[dot]``, ``(dot)``, ``[.]``; the
  bare words ``at`` and ``dot`` only inside an e-mail shape whose domain is written with
  ``dot``/``[dot]``, or whose local part is e-mail-like (a ``.``, ``_``, ``+``, ``-`` or
  digit beside letters): "look at example.com" stays as it is;
* ``email_spaces``: spaces around ``@`` or before a dot of the domain (``@acme-corp .com``);
* ``defang``: ``203[.]0[.]113[.]77``, ``hxxp://``, ``[:]//``;
* ``dotted_card``: card-length digit groups joined by ``.``, ``/`` or ``_``;
* ``table_card``: 13 to 19 digits spread over the cells of one markdown table row, when the
  rows next to it are not rows of numbers too;
* ``spaced_key``: AWS access key IDs with spaces, dashes or dots between their characters;
* ``spaced_digits``: 13 to 19 single digits separated by single spaces;
* ``digit_words``: seven or more digits spelled out as words ("four one one one ...").

Whether a normalised value is a finding is still the recognizers' call (checksums, issuer
ranges, public suffixes): a rewrite alone never makes one.

Plain text costs one ``str.isascii`` and one regex search (:data:`_ASCII_CUES`) before the
view is known to be the identity.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from leakguard.findings import Finding

__all__ = ["OBFUSCATION_KEY", "Deobfuscated", "Edit", "deobfuscate"]

# The key of Finding.details that names the forms a finding was found through.
OBFUSCATION_KEY = "obfuscation"


@dataclass(frozen=True, slots=True)
class Edit:
    """``original[start:end]`` reads ``text`` in the normalised view; ``form`` says why."""

    start: int
    end: int
    text: str
    form: str


@dataclass(frozen=True, slots=True, eq=False)
class Deobfuscated:
    """A text and its normalised view. ``edits`` are sorted and never overlap; between
    them the two texts are the same. ``starts`` holds where each edit begins in the
    normalised text (searched with :mod:`bisect`)."""

    original: str
    text: str
    edits: tuple[Edit, ...] = ()
    starts: tuple[int, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.edits)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised ``start:end``: a span that touches an edit
        covers all of the edit's original text."""
        return self._origin(start, start=True), self._origin(end, start=False)

    def _origin(self, pos: int, *, start: bool) -> int:
        # A start at an edit's normalised position belongs to that edit (a deletion there
        # is skipped); an end at it belongs to the text before.
        i = (bisect.bisect_right if start else bisect.bisect_left)(self.starts, pos) - 1
        if i < 0:
            return pos
        edit = self.edits[i]
        norm_end = self.starts[i] + len(edit.text)
        if pos < norm_end or (not start and pos == norm_end):
            return edit.start if start else edit.end
        return edit.end + (pos - norm_end)

    def forms(self, start: int, end: int) -> list[str]:
        """The forms of the edits inside original ``start:end``, each once, sorted."""
        names = {
            name
            for e in self.edits
            if e.start < end and start < e.end
            for name in e.form.split("+")
        }
        return sorted(names)

    def restore(self, findings: Iterable[Finding]) -> list[Finding]:
        """Findings on the normalised text, moved onto the original text; one that covers
        a rewrite says which forms in ``details["obfuscation"]``."""
        if not self.edits:
            return list(findings)
        out = []
        for f in findings:
            start, end = self.span(f.start, f.end)
            moved = f.moved(start, end)
            forms = self.forms(start, end)
            if forms:
                details = {**f.details, OBFUSCATION_KEY: "+".join(forms)}
                moved = Finding(
                    moved.detector,
                    moved.label,
                    moved.start,
                    moved.end,
                    moved.score,
                    moved.action,
                    moved.replacement,
                    details,
                    moved.members,
                )
            out.append(moved)
        return out


# One rewrite rule: a pattern, and for each match the edits it asks for (start, end,
# replacement, form; spans of the text searched), or none.
RawEdit = tuple[int, int, str, str]
Rewrite = Callable[[re.Match[str]], Sequence[RawEdit]]


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    rewrite: Rewrite


def _whole(replacement: str, form: str) -> Rewrite:
    return lambda m: [(m.start(), m.end(), replacement, form)]


def deobfuscate(text: str) -> Deobfuscated:
    """The normalised view of ``text`` (see the module docstring for what is undone)."""
    ascii_only = text.isascii()
    if ascii_only and _ASCII_CUES.search(text) is None:
        return Deobfuscated(text, text)
    view = Deobfuscated(text, text)
    for rules, cue, needs_unicode in _PASSES:
        if (needs_unicode and ascii_only) or cue.search(view.text) is None:
            continue
        raw = _edits(view.text, rules)
        if raw:
            view = _compose(view, raw)
    return view


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


def _compose(view: Deobfuscated, raw: Sequence[RawEdit]) -> Deobfuscated:
    """``view`` with further edits made on its normalised text, as one edit list on the
    original. New edits whose original spans meet (several inside one older replacement)
    become one edit, and an older edit they touch is taken into it: the merged edit's text
    is the older normalised text with the new edits applied."""
    old = view.edits
    merged: list[Edit] = []
    i = 0
    for group in _groups(view, raw):
        o_start, o_end = view.span(group[0][0], group[-1][1])
        while i < len(old) and old[i].end <= o_start:
            merged.append(old[i])
            i += 1
        n_start, n_end = group[0][0], group[-1][1]
        forms = {form for _, _, _, form in group}
        while i < len(old) and old[i].start < o_end:  # inside o_start..o_end (see span)
            n_start = min(n_start, view.starts[i])
            n_end = max(n_end, view.starts[i] + len(old[i].text))
            forms.update(old[i].form.split("+"))
            i += 1
        parts, pos = [], n_start
        for start, end, repl, _ in group:
            parts += [view.text[pos:start], repl]
            pos = end
        parts.append(view.text[pos:n_end])
        merged.append(Edit(o_start, o_end, "".join(parts), "+".join(sorted(forms))))
    merged.extend(old[i:])
    return _build(view.original, merged)


def _groups(view: Deobfuscated, raw: Sequence[RawEdit]) -> list[list[RawEdit]]:
    """``raw`` (sorted) in runs whose original spans overlap."""
    groups: list[list[RawEdit]] = []
    last_end = -1
    for edit in raw:
        start, end = view.span(edit[0], edit[1])
        if groups and start < last_end:
            groups[-1].append(edit)
        else:
            groups.append([edit])
        last_end = max(last_end, end)
    return groups


def _build(original: str, edits: Sequence[Edit]) -> Deobfuscated:
    parts = []
    starts = []
    pos = 0
    norm = 0
    for edit in edits:
        parts.append(original[pos : edit.start])
        norm += edit.start - pos
        starts.append(norm)
        parts.append(edit.text)
        norm += len(edit.text)
        pos = edit.end
    parts.append(original[pos:])
    return Deobfuscated(original, "".join(parts), tuple(edits), tuple(starts))


# --- characters (only texts that are not plain ASCII) ---------------------------------

_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff"
)
_DASHES = "\u2010-\u2015\u2043\u2212\ufe58\ufe63\uff0d"
_SPACES = "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_STOPS = "\u2024\u3002\ufe52\uff61"
_UNICODE_CUE = re.compile(
    rf"[{_INVISIBLE}{_DASHES}{_SPACES}{_STOPS}\ufe6b\uff01-\uff5e]|(?![0-9])\d"
)


def _digit(m: re.Match[str]) -> list[RawEdit]:
    digits = "".join(str(unicodedata.decimal(c)) for c in m.group())
    return [(m.start(), m.end(), digits, "digits")]


def _fullwidth(m: re.Match[str]) -> list[RawEdit]:
    return [(m.start(), m.end(), "".join(chr(ord(c) - 0xFEE0) for c in m.group()), "fullwidth")]


_CHARACTER_RULES = (
    _Rule(re.compile(rf"[{_INVISIBLE}]+"), _whole("", "invisible")),
    _Rule(re.compile(r"[\uff01-\uff5e]+"), _fullwidth),
    _Rule(re.compile(r"(?:(?![0-9\uff10-\uff19])\d)+"), _digit),
    _Rule(re.compile(r"\ufe6b"), _whole("@", "fullwidth")),
    _Rule(
        re.compile(rf"(?<=[A-Za-z0-9\uff10-\uff5a])[{_STOPS}](?=[A-Za-z0-9\uff10-\uff5a])"),
        _whole(".", "fullwidth"),
    ),
    # Only beside a digit: a no-break space in prose stays (the NER reads it as it is).
    _Rule(re.compile(rf"(?<=\d)[{_SPACES}](?=\w)|(?<=\w)[{_SPACES}](?=\d)"), _whole(" ", "spaces")),
)
_DASH_RULES = (_Rule(re.compile(rf"(?<=[0-9])[{_DASHES}](?=[0-9])"), _whole("-", "dashes")),)
_DASH_CUE = re.compile(rf"[{_DASHES}]")


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
    form = "email_spaces" if spaced_only else "at_dot"
    return [(a, b, repl, form) for a, b, repl in edits]


_EMAIL_RULES = (_Rule(_EMAIL, _email),)
_EMAIL_CUE = re.compile(
    r"\b(?:at|AT|dot|DOT)\b|[\[({<](?:at|AT|At|@|dot|DOT|Dot)[\])}>]|\s@|@\s|\w\s+\.\w"
)


# --- entities, defanged addresses ------------------------------------------------------


def _inner(m: re.Match[str]) -> list[RawEdit]:
    return [(m.start(), m.end(), m.group()[1:-1], "defang")]


_ENTITY_RULES = (
    _Rule(re.compile(r"&#0*64;|&#[xX]0*40;|&commat;"), _whole("@", "entities")),
    _Rule(re.compile(r"&#0*46;|&#[xX]0*2[eE];|&period;"), _whole(".", "entities")),
    _Rule(re.compile(r"(?<=[\w.+-])%40(?=\w)"), _whole("@", "entities")),
    _Rule(
        re.compile(rf"(?<=[A-Za-z0-9]){_OPEN}(?:\.|dot|DOT){_CLOSE}(?=[A-Za-z0-9])"),
        _whole(".", "defang"),
    ),
    _Rule(re.compile(r"\bh(?:xx|XX|\*\*)p(?=s?(?:\[:\]|:)//)"), _whole("http", "defang")),
    _Rule(re.compile(r"\[:\](?=//)|\[://\]"), _inner),
)
_ENTITY_CUE = re.compile(
    r"&#|&commat;|&period;|%40|[\[({<](?:\.|dot|DOT)[\])}>]|h(?:xx|XX|\*\*)p|\[:"
)


# --- layout: numbers and keys written in pieces ----------------------------------------

_DOTTED_CARD = re.compile(
    r"(?<![\d.,/_-])\d{4}([./_])\d{4}\1\d{4}\1\d{1,7}(?![\d/_-]|[.,]\d)"
    r"|(?<![\d.,/_-])\d{4}([./_])\d{6}\2\d{4,5}(?![\d/_-]|[.,]\d)"
)


def _dotted_card(m: re.Match[str]) -> list[RawEdit]:
    sep = m.group(1) or m.group(2)
    start = m.start()
    return [
        (start + i, start + i + 1, " ", "dotted_card") for i, c in enumerate(m.group()) if c == sep
    ]


# One row of digit-only cells: "| 4111 | 1111 | 1111 | 1111 |", maybe after a label cell.
_CELLS = r"(?:\|[ \t]*\d{3,6}[ \t]*){3,5}\|"
_LABEL_CELL = r"(?:\|(?![ \t]*\d{3,6}[ \t]*\|)[^|\n]*)?"
_TABLE_ROW = re.compile(rf"(?m)^[ \t]*{_LABEL_CELL}(?P<cells>{_CELLS})[ \t]*$")
_NUMBER_ROW = re.compile(rf"[ \t]*{_LABEL_CELL}{_CELLS}[ \t]*")
_RULE_LINE = re.compile(r"[ \t]*\|[ \t|:-]*")
_CELL_DIGITS = re.compile(r"\d+")


def _table_card(m: re.Match[str]) -> list[RawEdit]:
    """The digit cells of a row joined by single spaces, when they hold 13 to 19 digits
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
    return [(a.end(), b.start(), " ", "table_card") for a, b in itertools.pairwise(cells)]


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
    rf"(?<![A-Za-z0-9])A{_KEY_SEP}(?:K{_KEY_SEP}I|S{_KEY_SEP}I|B{_KEY_SEP}I|C{_KEY_SEP}C)"
    rf"{_KEY_SEP}A(?:{_KEY_SEP}[A-Z2-7]){{16}}(?![A-Za-z0-9])"
)
_SPACED_DIGITS = re.compile(r"(?<!\d)(?<!\d )\d(?: \d){12,18}(?! ?\d)")


def _joined(form: str) -> Rewrite:
    def rewrite(m: re.Match[str]) -> list[RawEdit]:
        start = m.start()
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


def _digit_words(m: re.Match[str]) -> list[RawEdit]:
    digits = "".join(_DIGIT_WORDS[w.group().lower()] for w in _ONE_WORD.finditer(m.group()))
    return [(m.start(), m.end(), digits, "digit_words")]


_LAYOUT_RULES = (
    _Rule(_DOTTED_CARD, _dotted_card),
    _Rule(_TABLE_ROW, _table_card),
    _Rule(_SPACED_KEY, _joined("spaced_key")),
    _Rule(_SPACED_DIGITS, _joined("spaced_digits")),
    _Rule(_DIGIT_WORD_RUN, _digit_words),
)
_LAYOUT_CUE = re.compile(
    r"\d{4}[./_]\d{4}|\|[ \t]*\d{3,6}[ \t]*\||A[ \t.-]?[KSBC][ \t.-]?[IC][ \t.-]?A"
    r"|\d \d \d \d|(?i:\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b[ \t,-]+"
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b)"
)

# The passes, in order: each runs on the text the ones before it left, when its cue is
# found there. Characters come first, so that a full-width address reaches the
# e-mail pass as ASCII.
_PASSES: tuple[tuple[tuple[_Rule, ...], re.Pattern[str], bool], ...] = (
    (_CHARACTER_RULES, _UNICODE_CUE, True),
    (_DASH_RULES, _DASH_CUE, True),
    (_ENTITY_RULES, _ENTITY_CUE, False),
    (_EMAIL_RULES, _EMAIL_CUE, False),
    (_LAYOUT_RULES, _LAYOUT_CUE, False),
)
# Whether an ASCII text may need any pass at all.
_ASCII_CUES = re.compile("|".join(c.pattern for c in (_ENTITY_CUE, _EMAIL_CUE, _LAYOUT_CUE)))
