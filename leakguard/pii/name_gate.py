# ruff: noqa: RUF001
"""Is a PERSON span from the NER shaped like a person's name? A lexicon gate.

The shipped NER learned names from generated text; on ordinary prose it also tags
capitalised terms ("New Features", "Inspector", "PRESENTNOTIFY", "documentation updates").
A span is kept when at least one of its words is evidence of a name:

* a given or family name from the lexicons (``leakguard/data/names_*.txt.gz``: Faker's
  person names over all its locales, built by ``models/pii-ner/build_lexicons.py``), unless
  it is also an ordinary English word ("Will", "Page": ``names_common`` and spaCy's stop
  words) written in lower case or at the start of the span alone;
* a capitalised word with a letter outside ASCII ("Siobhán", "Ekström");

and none of its words looks like code: a capital inside a word other than after Mc, Mac,
O', D' or a hyphen ("DevTools", "PresentIdleNotify"). An all lower-case span needs every
word in the lexicons ("ravi shankar"). Names found by a cue ("Name: X", "Dear X,") do not
pass through here: the cue is the evidence.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

__all__ = ["name_like"]

_DATA = Path(__file__).resolve().parent.parent / "data"
_WORD = re.compile(r"[^\W\d_]+")
_CODE_CAPS = re.compile(r"(?<!^M)(?<!^Ma)[a-zà-ÿ][A-ZÀ-Þ]")  # not McX, MacX
_PARTICLES = frozenset(
    [
        "de",
        "da",
        "do",
        "dos",
        "das",
        "del",
        "della",
        "di",
        "du",
        "la",
        "le",
        "van",
        "von",
        "der",
        "den",
        "ter",
        "ten",
        "bin",
        "binti",
        "al",
        "el",
        "ibn",
        "y",
        "e",
        "mac",
        "mc",
        "st",
    ]
)
# Titles written in lower case ("mr eric brown", "ing. augusto rubio", "pani róża kielan").
_TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "ing",
        "pan",
        "pani",
        "herr",
        "frau",
        "sr",
        "sra",
        "srta",
    ]
)


@cache
def _lexicon(name: str) -> frozenset[str]:
    data = gzip.decompress((_DATA / f"names_{name}.txt.gz").read_bytes()).decode("utf-8")
    return frozenset(data.split())


@cache
def _ordinary() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return _lexicon("common") | frozenset(STOP_WORDS)


def _is_name_word(word: str) -> bool:
    folded = word.casefold()
    return folded in _lexicon("given") or folded in _lexicon("family")


def name_like(value: str) -> bool:
    """Whether ``value`` (one NER PERSON span, one line) is shaped like a person's name."""
    pieces = value.split()
    if any(_CODE_CAPS.search(p.strip("'’.,")) for p in pieces):
        return False
    words = _WORD.findall(value)
    if not words:
        return False
    if value.islower():
        return all(_is_name_word(w) or w in _PARTICLES or w in _TITLES for w in words)
    if any(w.islower() and w not in _PARTICLES for w in words):
        return False  # "documentation updates", "Present development"
    ordinary = _ordinary()
    for word in words:
        if not word.isascii() and word[0].isupper():
            return True
        if _is_name_word(word) and (len(words) > 1 or word.casefold() not in ordinary):
            return True
    return False


# --- names the NER missed, found by the lexicons -----------------------------------------
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ŽƏİ][^\W\d_]*(?:['’-][^\W\d_]+)*"  # letters of any script after
_PARTICLE_RE = "|".join(sorted(_PARTICLES))
_RUN = re.compile(
    rf"(?<![\w@./-]){_CAP}(?:[ \t]+(?:(?:{_PARTICLE_RE})[ \t]+)?{_CAP}){{0,2}}(?![\w@/])"
)
# A lone given name needs a cue next to it: a verb of saying or doing after it, "'s", or
# a word before it that takes a person ("ask X", "thanks X", "said X to Y").
_AFTER_ONE = re.compile(
    r"(?:'s|’s)\b|[ \t]+(?:said|says|asked|asks|wrote|writes|told|tells|replied|thinks|agreed"
    r"|called|fixed|found|joined|pushed|merged|reviewed|approved|signed|will|was|has|had"
    r"|and|is|did|does|can|could|would|should|ever|already|here)\b"
    r"|[ \t]+(?:[a-z]{3,}(?:ed|es)|[a-z]{2,}[^s\W]s)\b"
    r"|[ \t]*[:,][ \t]*(?:lgtm|\+1|thanks|done|ok)\b"
)
_BEFORE_ONE = re.compile(
    r"(?i)(?:^|[\s(\"'])(?:ask|asked|tell|told|thanks|thank you|ping|cc|with|and|by|from|said"
    r"|hi|hey|hello|dear|congrats to|congratulations to|welcome|except|met|to|mail|email"
    r"|call|is|owe|invite|remind|then|when|did|has|does|think|need|notes:|reviewers:)[ \t]+$"
)


def _word_kind(word: str) -> str:
    folded = word.casefold()
    if folded in _ordinary():
        return "ordinary"
    if folded in _lexicon("given"):
        return "given"
    if folded in _lexicon("family"):
        return "family"
    return "other"


def lexicon_names(text: str) -> list[tuple[int, int]]:
    """Spans of capitalised names in ``text`` that the lexicons vouch for: a given name
    followed by one or two capitalised words that are not ordinary English words ("Thanks
    to Jane Doe"), two family names, or a lone given name with a cue beside it ("said
    Priya", "Ahmed's proposal", "Tariq found")."""
    spans = []
    for match in _RUN.finditer(text):
        words = match[0].split()
        kinds = [_word_kind(w) for w in words]
        # A given name then capitalised words that are no ordinary words ("Helmut Grohne":
        # the family-name lexicon cannot hold every surname), or two family names.
        several = len(words) > 1 and "ordinary" not in kinds and not match[0].isupper()
        if several and (kinds[0] == "given" or kinds[0] == kinds[-1] == "family"):
            spans.append((match.start(), match.end()))
            continue
        if kinds[0] != "given" or words[0].isupper():
            continue
        end = match.start() + len(words[0])
        before = text[max(0, match.start() - 24) : match.start()]
        if _AFTER_ONE.match(text, end) or _BEFORE_ONE.search(before):
            spans.append((match.start(), end))
    return spans
