"""Presidio pattern recognizers that search only where their patterns can match.

A Presidio pattern recognizer tries each of its regexes at every position of the text, yet
some of them can only ever match a run of characters from a class C that holds a match of
a short, rarer regex R made of C-characters: an e-mail address needs an ``@``, an IP
address a digit and a '.' (IPv4) or a ``::`` or a ``:`` between hex digits (IPv6), a
licence, passport or DEA number a digit, a bitcoin address a '1' or '3' and 25 letters or
digits after it.
:func:`windowed` wraps such a recognizer in one (:class:`WindowedRecognizer`, composition:
the Presidio recognizer is held, never changed) whose ``analyze`` finds the *windows* (the
maximal runs of C-characters holding an R-match) with two linear scans, runs the Presidio
recognizer's own ``analyze`` over the windows joined by single spaces, and shifts the
results back to offsets in the full text.

Why the results are exactly the same: every match lies inside one window (it consists of
C-characters and holds an R-match). The characters just outside a window are not in C,
and no test in these patterns tells such a character from a space (which is not in C
either) or from the ends of the text: consuming tests only accept C-characters, and the
assertions (``\\b``, ``(?<![\\w:])``, ``(?![\\w:]|\\.\\d)``) only ask whether a character
is in ``\\w``, ``\\d``, ``:`` or ``.``, all inside C. So at every position inside a window each
pattern does the same thing on both texts, and ``finditer`` yields the same matches in the
same order; the recognizer validates the same matched substrings, and Presidio's
de-duplication only compares spans, whose order and nesting the shift keeps.

The classes were derived from the regexes of presidio-analyzer 2.2.366, compiled with its
``IGNORECASE | MULTILINE | DOTALL`` (under which ``[A-Z]`` also matches the long s, the
Kelvin sign and the dotless i, all in ``\\w``). ``_SHAPES`` keeps a digest of those
patterns; a recognizer whose patterns or flags differ is left as it is.

Card numbers, bank accounts, ITINs, SSNs and NHS numbers may be grouped by spaces, so C
holds the space, which the patterns' ``\b`` tells from a letter: a window of such a run
keeps the character on either side of it (``margin``; that character is not in C, so never
part of a match, and it is all the assertions at the run's ends look at), and windows are
joined by a line break. R asks for eight digits (every match of those patterns holds at
least eight), so the short numbers of prose ("30 seconds", "200") open no window, and a
text without a long number is not searched at all.

Presidio's IBAN pattern may run across spaces, so runs of its characters are long (a
sentence of words and numbers); but every match *begins* with a country code and check
digits (``[A-Z]{2}[0-9]{2}``, under the recognizer's own flags; two of these never
overlap) and is at most 43 characters long, and its assertions look one character before
it and one after. So only the spots around those four characters are searched (``_GATES``:
from one character before them to 40 after; spots that overlap are one), joined by a line
break, and a text without one is not searched at all: a match found from a spot's start
reads only characters of the spot, the same as in the full text, and the line break is
neither consumed nor one of the characters its assertions ask about.

One difference: Presidio gives each regex search 60 seconds (``REGEX_TIMEOUT_SECONDS``)
before it skips the pattern; the windows are searched sooner, so a text on which the full
search would time out may be searched to the end here.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import regex

# Presidio is loaded with transformers hidden (leakguard.pii.recognizers.base) first.
import leakguard.pii.recognizers.base  # noqa: F401  # isort: skip
from presidio_analyzer import EntityRecognizer

from leakguard.pii.regex_gil import concurrent_for

__all__ = [
    "GatedRecognizer",
    "NarrowedRecognizer",
    "WindowedRecognizer",
    "patterns_digest",
    "windowed",
]

# The flags Presidio compiles pattern regexes with (PatternRecognizer.global_regex_flags).
_FLAGS = regex.IGNORECASE | regex.MULTILINE | regex.DOTALL


@dataclass(frozen=True, slots=True)
class _Shape:
    chars: str  # C: a character class every character of a match belongs to
    required: str  # R: a short regex every match holds a match of, made of C-characters
    digest: str  # patterns_digest() of the recognizer the classes were derived from
    # False: no assertion of the patterns tells a character outside C from a space, so
    # windows are joined by single spaces. True (C holds the space): each window keeps
    # the character on either side of its run (never part of a match, as it is not in C;
    # it is what the assertions at the run's ends look at), and windows are joined by a
    # line break (not in C).
    margin: bool = False


# C and R of runs of eight digits or more, in groups: R finds the first eight digits of a
# run of C-characters that holds them (the run's characters between two digits are [ .-]).
_DIGIT_RUNS = (r"[\d .\-]", r"\d(?:[ .\-]*\d){7}")

# ASCII letters and digits and the letters that fold into them under IGNORECASE.
_ALNUM = r"[A-Za-z0-9\u0130\u0131\u017f\u212a]"

# "d." or "::" or "h:h" (d a digit, h a hex digit), found from its digit or colon.
_IP_REQUIRED = r"[0-9:](?:(?<=[0-9])\.|(?<=:)(?:(?<=::)|(?=:)|(?<=[0-9A-Fa-f]:)[0-9A-Fa-f]))"

# Keyed by Presidio's class name. A space must not be in ``chars`` unless ``margin``.
_SHAPES = {
    # local part and domain: \w, '.', '-', '@' and the RFC 5322 specials; needs the '@'.
    "EmailRecognizer": _Shape(r"[\w!#$%&'*+\-/=?^_`{|}~.@]", "@", "004723abbb67ff6c"),
    # letters and ASCII digits; one alternative spells "A-Z]{2}" (a typo in Presidio), which
    # matches a literal "A-Z]]", so '-' and ']' belong too; every alternative has [0-9].
    "UsLicenseRecognizer": _Shape(r"[\w\-\]]", "[0-9]", "a5ad4472a28cc70f"),
    # (Searched for \d, not [0-9]: more windows, rarely, but the same as the DEA numbers'.)
    "UsPassportRecognizer": _Shape(r"\w", r"\d", "4d39378952a1fd07"),
    # DEA numbers: two letters (or a letter and 9) and seven \d, which is any Unicode digit.
    "MedicalLicenseRecognizer": _Shape(r"\w", r"\d", "8b00da21c7ca480a"),
    # hex and decimal digits, '.', ':', a '%' zone and a '/' prefix length. Every IPv4
    # octet but the last ends in an ASCII digit and a '.' (25[0-5], 2[0-4][0-9] and
    # [01]?[0-9][0-9]? all end in [0-9]); every IPv6 form holds a '::' or a ':' between two
    # hex digits (eight groups, or six and an IPv4 address). R says so starting at the
    # digit or the ':' (a cheap scan for [0-9:]); the hex class matches ASCII only, with
    # IGNORECASE too. (A '.' alone would be in every sentence of prose, a digit in every
    # number, a ':' after every "Note".)
    "IpRecognizer": _Shape(r"[\w.:%/]", _IP_REQUIRED, "2e5b4e8ccce1e531"),
    # Long numbers, maybe grouped by spaces, dashes or dots: card numbers, bank accounts,
    # ITINs, SSNs, NHS numbers. Every match of these holds only digits (\d: any Unicode
    # digit) and [- .], and at least 8 digits; the assertions (\b, and the card pattern's
    # (?!1\d{12}(?!\d))) look at digits of the run and at most one character past it.
    "CreditCardRecognizer": _Shape(*_DIGIT_RUNS, "f619fa242c932c37", margin=True),
    "UsBankRecognizer": _Shape(*_DIGIT_RUNS, "77ff5492baf67207", margin=True),
    "UsItinRecognizer": _Shape(*_DIGIT_RUNS, "1dc3ba3379d4812d", margin=True),
    "UsSsnRecognizer": _Shape(*_DIGIT_RUNS, "99e2c61f6a973b04", margin=True),
    "NhsRecognizer": _Shape(*_DIGIT_RUNS, "d813b701023b5188", margin=True),
    # Bitcoin addresses: "bc1", "1" or "3" and 25 to 59 letters and digits (no assertions;
    # under IGNORECASE the class also takes the dotted capital I, the long s and the Kelvin
    # sign). R: a '1' or '3' and the 25 characters after it.
    "CryptoRecognizer": _Shape(_ALNUM, f"[13]{_ALNUM}{{25}}", "9d9a993fd6aee894"),
}


@dataclass(frozen=True, slots=True)
class _Gate:
    # A regex whose matches (under the recognizer's own flags) never overlap, found where
    # every match of the recognizer begins: ``before`` characters before a gate match's
    # start to ``after`` characters past its end hold all that a match found there reads.
    needed: str
    before: int
    after: int
    digest: str  # patterns_digest() of the recognizer the spots were derived from


# Recognizers whose matches may hold spaces, so that runs of their characters are long,
# but every match begins at a match of a short regex (compiled with the recognizer's own
# flags, as its patterns are) and is short: they search only the spots around those (a
# text without one not at all), joined by a line break, which no match holds or asks about.
_GATES: dict[str, _Gate] = {
    # Every IBAN begins with its country code and check digits ("GB82 WEST ..."); groups of
    # capitals and digits follow, which spaces or dashes may separate, 43 characters at
    # most ("GB82" + 6 x " WEST" + " 1234" + " 123"), with (?<![A-Z0-9]) before and
    # (?![A-Z0-9]) after. Presidio's class compiles it case-sensitively (MULTILINE |
    # DOTALL), its registry with IGNORECASE too. The gate is [A-Z]{2}[0-9]{2} written from
    # its digits (a lookbehind for the letters): the same places, found ~5x faster than by
    # trying the letters at every position; a spot runs from the character before the
    # letters (3 before the digits) to the one after the longest match (40 after them).
    "IbanRecognizer": _Gate(r"[0-9]{2}(?<=[A-Z]{2}[0-9]{2})", 3, 40, "1f98697e78e08d67"),
}


def patterns_digest(recognizer: Any) -> str:
    """A short digest of a pattern recognizer's regexes (to notice when Presidio's change)."""
    joined = "\n".join(pattern.regex for pattern in recognizer.patterns)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


def windowed(recognizer: Any, *, stock: str | None = None) -> Any:
    """``recognizer``, or a :class:`NarrowedRecognizer` holding it that searches only the
    windows where it can match (or, for the ones in ``_GATES``, only texts where it can
    match).

    ``stock`` names the Presidio class whose patterns the recognizer uses, for a subclass
    that only changes validation (leakguard's offline e-mail check); by default the
    recognizer must be an instance of Presidio's own class. Anything else (a deny list,
    user-configured patterns, other flags, patterns that are not the ones the classes were
    derived from, a class with its own context step) is returned unchanged.
    """
    name = stock
    if name is None:
        if not type(recognizer).__module__.startswith("presidio_analyzer."):
            return recognizer
        name = type(recognizer).__name__
    if type(recognizer).enhance_using_context is not EntityRecognizer.enhance_using_context:
        return recognizer  # the wrapper would have to hand results back for that step
    gate = _GATES.get(name)
    if gate is not None:
        if getattr(recognizer, "deny_list", None) or patterns_digest(recognizer) != gate.digest:
            return recognizer
        return GatedRecognizer(recognizer, gate)
    shape = _SHAPES.get(name)
    if (
        shape is None
        or getattr(recognizer, "deny_list", None)
        or getattr(recognizer, "global_regex_flags", None) != _FLAGS
        or patterns_digest(recognizer) != shape.digest
    ):
        return recognizer
    return WindowedRecognizer(recognizer, shape)


# Where a recognizer searches ``text``: spans of it, or None for all of it. The last
# argument is a dict for the windows found in this text (see ``_found``), or None.
_Narrowing = Callable[
    [Any, str, "int | None", "dict[Any, Any] | None"], "list[tuple[int, int]] | None"
]


class NarrowedRecognizer(EntityRecognizer):
    """A Presidio pattern recognizer (``inner``) that searches only part of each text.

    It runs the recognizer's own ``analyze`` over the parts its :data:`_Narrowing` picks,
    joined by ``joiner``, and moves the results back to offsets in the full text. It stands
    for the recognizer in the registry: same name, entities, language, context words and
    score thresholds, and the same ``id``, which the results carry in their metadata (the
    inner recognizer puts it there) and by which Presidio finds their recognizer again.
    """

    def __init__(self, inner: Any, narrow: _Narrowing, joiner: str) -> None:
        self.inner = inner
        self._narrow = narrow
        self._joiner = joiner
        super().__init__(
            supported_entities=list(inner.supported_entities),
            name=inner.name,
            supported_language=inner.supported_language,
            version=inner.version,
            context=list(inner.context),
            country_code=inner.country_code(),
            score_thresholds=inner.score_thresholds,
        )

    @property
    def id(self) -> str:
        return str(self.inner.id)

    @property
    def patterns(self) -> list[Any]:
        """The inner recognizer's patterns (read-only here)."""
        return list(self.inner.patterns)

    def load(self) -> None:
        pass  # the inner recognizer was loaded when it was made

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: Any = None,
        regex_flags: int | None = None,
    ) -> list[Any]:
        inner = self.inner
        # Presidio's engine hands every recognizer the same artifacts for a text; leakguard's
        # carry a dict in which recognizers with the same windows (the five of the digit
        # runs) find them computed once.
        spans = self._narrow(inner, text, regex_flags, getattr(nlp_artifacts, "windows", None))
        if spans is None:
            return inner.analyze(  # type: ignore[no-any-return]
                text=text, entities=entities, nlp_artifacts=nlp_artifacts, regex_flags=regex_flags
            )
        if not spans:
            return []
        # The NLP artifacts describe the full text; pattern recognizers do not read them.
        joined = self._joiner.join(text[a:b] for a, b in spans)
        found = inner.analyze(text=joined, entities=entities, regex_flags=regex_flags)
        return _shift(found, spans)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


class WindowedRecognizer(NarrowedRecognizer):
    """Searches only the windows of a :class:`_Shape` (runs of its characters holding a
    match of its required regex)."""

    def __init__(self, inner: Any, shape: _Shape) -> None:
        super().__init__(inner, _windowing(shape), " " if not shape.margin else "\n")
        self.shape = shape


class GatedRecognizer(NarrowedRecognizer):
    """Searches only the spots around a :class:`_Gate`'s matches (``_GATES``)."""

    def __init__(self, inner: Any, gate: _Gate) -> None:
        super().__init__(inner, _gate(gate), "\n")
        self.gate = gate


def _windowing(shape: _Shape) -> _Narrowing:
    find = _windows(shape.chars, shape.required, 0)

    def narrow(
        recognizer: Any, text: str, regex_flags: int | None, memo: dict[Any, Any] | None
    ) -> list[tuple[int, int]] | None:
        if (regex_flags or recognizer.global_regex_flags) != _FLAGS:
            return None  # the classes were derived for these flags only
        spans = _found(find, text, memo)
        return _widened(spans, 1, 1, len(text)) if shape.margin else spans

    return narrow


def _found(
    find: Callable[[str], list[tuple[int, int]]], text: str, memo: dict[Any, Any] | None
) -> list[tuple[int, int]]:
    """``find(text)``, remembered in ``memo`` (one text's) for the next recognizer that asks
    about the same text object; the list is shared, so nobody changes it."""
    if memo is None:
        return find(text)
    known: tuple[str, list[tuple[int, int]]] | None = memo.get(find)
    if known is not None and known[0] is text:
        return known[1]
    spans = find(text)
    memo[find] = (text, spans)
    return spans


def _widened(
    spans: Iterable[tuple[int, int]], before: int, after: int, size: int
) -> list[tuple[int, int]]:
    """Spans (in order) widened by ``before`` and ``after`` characters (within a text of
    ``size``); widened spans that overlap or touch become one (a margin character two runs
    share, a spot reaching the next)."""
    widened: list[tuple[int, int]] = []
    for span_start, span_end in spans:
        start, end = max(span_start - before, 0), min(span_end + after, size)
        if widened and start <= widened[-1][1]:
            widened[-1] = (widened[-1][0], end)
        else:
            widened.append((start, end))
    return widened


def _gate(gate: _Gate) -> _Narrowing:
    def narrow(
        recognizer: Any, text: str, regex_flags: int | None, memo: dict[Any, Any] | None
    ) -> list[tuple[int, int]] | None:
        if regex_flags is not None:
            return None
        # The patterns are searched with the recognizer's own flags: so is the gate.
        find = _spots(gate, recognizer.global_regex_flags)
        return _found(find, text, memo)

    return narrow


class _Spots:
    """The spots around a :class:`_Gate`'s matches, overlapping ones merged."""

    __slots__ = ("_after", "_before", "_needed")

    def __init__(self, gate: _Gate, flags: int) -> None:
        self._needed = regex.compile(gate.needed, flags)
        self._before = gate.before
        self._after = gate.after

    def __call__(self, text: str) -> list[tuple[int, int]]:
        hits = self._needed.finditer(text, concurrent=concurrent_for(text))
        return _widened((hit.span() for hit in hits), self._before, self._after, len(text))


class _Windows:
    """The maximal runs of ``chars`` characters that hold a ``required`` character."""

    __slots__ = ("_backward", "_forward", "_required")

    def __init__(self, chars: str, required: str, required_flags: int = 0) -> None:
        self._required = regex.compile(required, required_flags)
        self._forward = regex.compile(f"{chars}*")
        self._backward = regex.compile(f"(?r){chars}*")  # matches backwards from endpos

    def __call__(self, text: str) -> list[tuple[int, int]]:
        spans = []
        end = 0
        held = concurrent_for(text)  # keep the GIL on short texts (leakguard.pii.regex_gil)
        while (hit := self._required.search(text, end, concurrent=held)) is not None:
            at = hit.start()
            # C* matches the empty string, so both matches exist.
            before = self._backward.match(text, end, at, concurrent=held)
            assert before is not None
            after = self._forward.match(text, at, concurrent=held)
            assert after is not None
            spans.append((before.start(), after.end()))
            # R's match is made of C-characters, so the run holds it; max() only keeps a
            # wrong table from looping.
            end = max(after.end(), at + 1)
        return spans


# One of each per class, R and flags (per gate and flags): the recognizers that search the
# same windows share it, and the windows remembered for a text are keyed by it.
_windows = functools.cache(_Windows)
_spots = functools.cache(_Spots)


def _shift(results: list[Any], spans: Sequence[tuple[int, int]]) -> list[Any]:
    """Move results from the joined windows back to offsets in the full text."""
    joined_starts = []
    offset = 0
    for start, end in spans:
        joined_starts.append(offset)
        offset += end - start + 1
    for result in results:
        i = bisect.bisect_right(joined_starts, result.start) - 1
        shift = spans[i][0] - joined_starts[i]
        result.start += shift
        result.end += shift
    return results
