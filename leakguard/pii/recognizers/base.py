"""What every leakguard recognizer shares: Presidio's ``LocalRecognizer`` contract with
results that carry the recognizer's identity (so Presidio's context enhancer can find it)
and the kind of value found (copied into ``Finding.details``, never the value itself)."""

from __future__ import annotations

import bisect
import itertools
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from leakguard.pii.recognizers import KIND_KEY


@contextmanager
def _transformers_hidden() -> Iterator[None]:
    """Make ``import transformers`` fail inside the block, unless it is already loaded.

    Presidio's package ``__init__`` imports its optional Hugging Face NLP engine, which runs
    ``from transformers import pipeline`` whenever transformers is installed: that more than
    doubled ``import presidio_analyzer`` (2.9 s to 6.8 s, measured) in an environment that
    also has leakguard's ``[dp-hf]`` extra. leakguard only uses spaCy engines, so Presidio is
    loaded with transformers hidden; Presidio's own transformers engine then reports
    transformers as unavailable in this process (the first to import Presidio decides).
    """
    hide = "transformers" not in sys.modules
    if hide:
        sys.modules["transformers"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if hide:
            sys.modules.pop("transformers", None)


with _transformers_hidden():
    from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult


class Recognizer(LocalRecognizer):
    """A Presidio recognizer whose ``find`` yields ``(start, end, score, kind)``."""

    ENTITY = ""
    # Words that, shortly before a match, make it likelier ("phone", "ship to", ...).
    # Matched by prefix in the raw text (stop words included, no lemmas needed), instead of
    # Presidio's lemma-based enhancer, which skips stop words such as "call".
    CONTEXT: tuple[str, ...] = ()
    CONTEXT_BOOST = 0.35
    CONTEXT_WINDOW = 40  # characters before the match
    MAX_SCORE = 0.95  # a pattern is never certain

    def __init__(self, *, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            supported_language=supported_language,
            name=type(self).__name__,
        )
        words = "|".join(re.escape(w) for w in self.CONTEXT)
        self._context = re.compile(rf"(?i)\b(?:{words})s?\b") if words else None

    def load(self) -> None:
        """Nothing to load: regexes are compiled at import time."""

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        raise NotImplementedError

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        results = []
        name = type(self).__name__
        for start, end, score, kind in self.find(text):
            boosted = self._context_before(text, start)
            results.append(
                RecognizerResult(
                    entity_type=self.ENTITY,
                    start=start,
                    end=end,
                    score=min(self.MAX_SCORE, score + self.CONTEXT_BOOST * boosted),
                    # Presidio's context enhancer writes the supporting word in here.
                    analysis_explanation=AnalysisExplanation(
                        recognizer=name, original_score=score, textual_explanation=kind
                    ),
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        # Context is handled here; Presidio's enhancer leaves it alone.
                        RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
                        KIND_KEY: kind,
                    },
                )
            )
        return results

    def _context_before(self, text: str, start: int) -> bool:
        if self._context is None:
            return False
        if self._context.search(text, max(0, start - self.CONTEXT_WINDOW), start):
            return True
        header = table_header(text, start)
        return header is not None and self._context.search(header) is not None


def table_header(text: str, pos: int) -> str | None:
    """The header cell above ``pos`` when ``pos`` is inside a markdown table body cell."""
    line_start = text.rfind("\n", 0, pos) + 1
    if not text.startswith("|", line_start):
        return None
    column = text.count("|", line_start, pos)
    lines = text[:line_start].split("\n")[:-1]
    rows: list[str] = []
    while lines and lines[-1].lstrip().startswith("|"):
        rows.append(lines.pop())
    if len(rows) < 2 or not set(rows[-2].replace("|", "").strip()) <= set("-: "):
        return None
    cells = rows[-1].split("|")
    return cells[column] if column < len(cells) else None


def led_by(first: str, not_after: str) -> str:
    """A regex for ``(?<!not_after)first`` that begins with ``first`` itself.

    A pattern that begins with a lookbehind makes Python's ``re`` attempt a match at every
    position of the text; one that begins with a character class lets it skip straight to
    the characters the class accepts (a tight loop in C), which for a digit or a capital
    letter is a few positions in a hundred. ``first`` must match exactly one character
    and ``not_after`` a fixed width; ``first(?<!not_after first)`` asks the same of the
    same characters: the one just matched is in ``first`` anyway, so the lookbehind fails
    exactly when the text before it matches ``not_after``.
    """
    return f"{first}(?<!(?:{not_after}){first})"


# The non-ASCII characters that ``re`` (IGNORECASE) matches to an ASCII letter, or whose
# lower case holds one: dotted and dotless i, long s, the Kelvin sign (a test checks every
# code point).
ASCII_FOLDS = "\u0130\u0131\u017f\u212a"


class CaselessWords:
    """Does a text contain any of some ASCII words, in any case? The answer
    ``re.search("(?i)w1|w2|...", text)`` gives, without trying the alternation at every
    position: the lower-cased text is searched for each word (substring tests, in C). A
    text holding one of :data:`ASCII_FOLDS` is left to the regex."""

    __slots__ = ("_regex", "_words")

    def __init__(self, *words: str) -> None:
        if not all(w.isascii() and w == w.lower() and w for w in words):
            raise ValueError("CaselessWords takes non-empty lower-case ASCII words")
        self._words = words
        self._regex = re.compile("(?i)" + "|".join(re.escape(w) for w in words))

    def found_in(self, text: str) -> bool:
        if any(c in text for c in ASCII_FOLDS):
            return self._regex.search(text) is not None
        lowered = text.lower()
        return any(word in lowered for word in self._words)


class StartGate:
    """``regex.finditer`` tried only where a match can begin.

    ``starts`` matches ``lead`` characters before each place where a match of ``regex``
    can begin (the text's start is always tried): a cheap search, in C, that passes over
    most of the text, where ``regex`` alone would attempt a match at every position. The
    matches are ``regex``'s own, found in the same order: each is the leftmost one that
    begins at or after the end of the previous one (``regex`` must not match the empty
    string). What ``starts`` must match is up to its caller: a test holds each gate to
    the plain ``regex.finditer``.
    """

    __slots__ = ("lead", "regex", "starts")

    def __init__(self, regex: re.Pattern[str], starts: str, lead: int = 1) -> None:
        self.regex = regex
        self.starts = re.compile(starts)
        self.lead = lead

    def at(self, text: str) -> list[int]:
        """Where in ``text`` a match may begin (besides 0); gates with the same ``starts``
        can share this list."""
        lead = self.lead
        return [found.start() + lead for found in self.starts.finditer(text)]

    def search(self, text: str, pos: int, at: list[int]) -> re.Match[str] | None:
        """``regex.search(text, pos)``, trying only 0 and the places in ``at`` (from
        :meth:`at`, in order)."""
        match = self.regex.match
        if pos <= 0 and (found := match(text, 0)) is not None:
            return found
        for start in itertools.islice(at, bisect.bisect_left(at, pos), None):
            if (found := match(text, start)) is not None:
                return found
        return None

    def finditer(self, text: str, at: list[int] | None = None) -> Iterator[re.Match[str]]:
        match = self.regex.match
        found = match(text, 0)
        pos = 0
        if found is not None:
            yield found
            pos = found.end()
        for start in self.at(text) if at is None else at:
            if start >= pos and (found := match(text, start)) is not None:
                yield found
                pos = found.end()


def alternation(words: str) -> str:
    """A regex matching any of the ``|``-separated ``words``, as a prefix trie.

    Python's ``re`` tries the branches of ``a|b|c`` one by one at every position; with a
    hundred street words that dominates the scan. Factoring common prefixes
    (``stra(?:ße|sse|at)``) makes each attempt a short walk down the trie.
    """
    return "(?:" + "|".join(trie_branches(words)) + ")"


def trie_branches(words: str) -> list[str]:
    """The top-level branches of :func:`alternation`'s trie, one per first letter."""
    trie: dict[str, dict[str, object]] = {}
    for word in {w.lower() for w in words.split("|") if w}:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})  # type: ignore[assignment]
        node[""] = {}
    return [re.escape(ch) + _trie_regex(child) for ch, child in sorted(trie.items())]  # type: ignore[arg-type]


def caseless_led(branches: Sequence[str], not_after: str | None = None) -> str:
    """A regex for ``(?<!not_after)(?i:b1|b2|...)`` (without the lookbehind when
    ``not_after`` is None) that ``re`` searches fast.

    Each branch begins with a letter written as itself. ``re`` attempts a pattern that
    begins with a lookbehind or a case-insensitive group at every position (see
    :func:`led_by`), and tries a case-insensitive alternation's branches one by one. Here
    each case form of each first letter (every character ``re``'s IGNORECASE takes for it)
    leads a branch of its own, as a literal: ``re`` then skips to the characters that can
    begin a match (a loop in C) and picks the branch by that character. Branches keep
    their order within a first letter, and two first letters never match the same
    character, so the matches are the same. ``not_after`` must have a fixed width.
    """
    groups: dict[str, list[str]] = {}
    for branch in branches:
        if not branch[:1].isalpha():
            raise ValueError("caseless_led takes branches that begin with a letter")
        groups.setdefault(branch[0].lower(), []).append(branch[1:])
    led = []
    taken: set[str] = set()
    for first, rests in groups.items():
        tails = f"(?i:{'|'.join(rests)})"
        for form in caseless_class(first):
            if form in taken:
                raise ValueError(f"two first letters match {form!r}")
            taken.add(form)
            behind = "" if not_after is None else f"(?<!(?:{not_after}){form})"
            led.append(f"{form}{behind}{tails}")
    return "(?:" + "|".join(led) + ")"


def caseless_class(letter: str) -> str:
    """Every character that ``re`` with IGNORECASE matches to ``letter``: its simple case
    forms and the special folds of :data:`ASCII_FOLDS` (a test checks every code point)."""
    plain = re.compile("(?i)" + re.escape(letter))
    forms = {letter, letter.lower(), letter.upper(), letter.title(), *ASCII_FOLDS}
    return "".join(sorted(c for c in forms if len(c) == 1 and plain.fullmatch(c)))


def _trie_regex(node: dict[str, dict[str, object]]) -> str:
    ends = "" in node
    branches = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]  # type: ignore[arg-type]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        body = f"(?:{body})?"
    return body
