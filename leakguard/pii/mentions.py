# ruff: noqa: RUF001
"""Later mentions of a name already found: "Park Ji-yeon presented the results; Park also
fielded most of the questions", "Maria Lopes ... Maria later said".

Once a text has named a person, a word of that name standing alone further on is the same
person. :func:`name_words` takes the words of the PERSON findings (with where each was
first seen), :func:`mention_spans` finds their later occurrences. Only forward: a word
counts from the end of its first finding on, so a stream (which keeps the words of what
it already scanned, :class:`leakguard.online.streaming.StreamGuard`) finds what a one-shot
scan finds.

Which words carry over:

* a word of the name lexicons that is no English word or place ("Priya", "Maria",
  "Okonkwo"), or one no vocabulary knows ("Olamide"): every later occurrence in the same
  letter case, except after an article ("the Baker line");
* a name that is also an English word or a place ("Rose", "Grace", "Maria"): not before
  another capitalised word ("Rose Street"); one that is also a common word ("Will",
  "Hope", "Mark") moreover not at the start of a sentence ("Will the build pass?");
* titles, particles ("van", "de"), months, weekdays, function words and words of other
  kinds ("Street", "Silicon") never do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from leakguard.pii.name_finder import _CALENDAR, eponym
from leakguard.pii.name_gate import (
    _PARTICLES,
    _TITLES,
    _english,
    _lexicon,
    _ordinary,
    _unknown_word,
    _word_kind,
)

__all__ = ["MAX_NAME_WORDS", "mention_spans", "name_words"]

# A stream keeps at most this many name words (its memory stays bounded).
MAX_NAME_WORDS = 256

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:\"“(*>|#-]|\n)[ \t]*$")
_DETERMINER = re.compile(r"(?i)\b(?:the|a|an|this|that|these|those|our|my|your|its)[ \t]+$")
_NEXT_CAPITAL = re.compile(r"[ \t]+[A-Z]")
_POSSESSIVE_CAPITAL = re.compile(r"['’]s[ \t]+[A-Z]")

_DOUBLE = re.compile(r"[^\W\d_][^\W\d_]+(?:['’-][A-ZÀ-Þ][^\W\d_]+)+")

FREE, CAREFUL, ORDINARY = "free", "careful", "ordinary"


def _carried(word: str) -> str | None:
    """How a word of a found name carries over to later mentions (None: it does not)."""
    folded = word.casefold()
    if len(word) < 2 or not word[0].isupper() or (word.isupper() and len(word) <= 3):
        return None
    if folded in _TITLES or folded in _PARTICLES or folded in _CALENDAR:
        return None
    if folded in _lexicon("given") or folded in _lexicon("family"):
        if folded in _ordinary():
            return ORDINARY
        return CAREFUL if folded in _english() or folded in _lexicon("places") else FREE
    if _word_kind(word) == "other" and _unknown_word(word):
        return FREE
    if _DOUBLE.fullmatch(word) and folded not in _english():
        return FREE  # "Al-Farsi", "Obi-Adeyemi", "Llewellyn-Jones"
    return None


def name_words(text: str, spans: Sequence[tuple[int, int]]) -> dict[str, int]:
    """The words of the name spans that later mentions may repeat, each with the offset
    from which it counts (the end of its first occurrence in a span)."""
    words: dict[str, int] = {}
    for start, end in spans:
        for match in _WORD.finditer(text, start, end):
            word = match[0]
            if word.endswith(("'s", "’s")):
                word = word[:-2]
            if _carried(word) is not None and match.end() < words.get(word, len(text) + 1):
                words[word] = match.end()
    return words


def mention_spans(
    text: str, words: Mapping[str, int], taken: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Occurrences in ``text`` of ``words`` (word -> offset from which it counts; negative
    when it was seen before ``text``) that no span in ``taken`` touches."""
    if not words:
        return []
    pattern = re.compile(
        r"(?<![\w@./'’-])("
        + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?![\w@/-]|['’](?![sS]\b))"
    )
    spans = []
    for match in pattern.finditer(text):
        start, end = match.span()
        word = match[0]
        if start < words[word] or any(a < end and start < b for a, b in taken):
            continue
        if eponym(text, end) or _POSSESSIVE_CAPITAL.match(text, end):
            continue  # "Dijkstra's algorithm", "King's College"
        if _DETERMINER.search(text, max(0, start - 8), start):
            continue  # "the Baker line"
        carried = _carried(word)
        if carried != FREE and _NEXT_CAPITAL.match(text, end):
            continue  # "Rose Street", "Grace Hopper" (a name of its own)
        if carried == ORDINARY and _SENTENCE_START.search(text, max(0, start - 12), start):
            continue  # "Will the build pass?", "Hope you are well"
        spans.append((start, end))
    return spans
