# ruff: noqa: RUF001
"""Is a PERSON span from the NER shaped like a person's name? A lexicon gate, and the
lexicons and word tests that :mod:`leakguard.pii.name_finder` (names the NER missed)
builds on.

On ordinary prose an NER also tags capitalised terms ("New Features", "Inspector",
"PRESENTNOTIFY", "documentation updates"). A span is kept when one of its words is
evidence of a name:

* a given or family name from the lexicons (``leakguard/data/names_*.txt.gz``: Faker's
  person names over all its locales, built by ``models/pii-ner/build_lexicons.py``), unless
  it is also an ordinary English word ("Will", "Page": ``names_common`` and spaCy's stop
  words) and no other word of the span is a name or unknown ("Job Control");
* a capitalised word with a letter outside ASCII ("Siobhán", "Ekström");
* a title before a capitalised word ("Mr. Abernathy");
* failing those, every word unknown to every vocabulary: no lexicon name, not written in
  lower case in real English or technical prose (``names_english``), no place word
  (``names_places``), not in WordNet (``names_wordnet``), no English ending ("Tevita",
  "Rangi Parata");

and none of its words looks like code (a capital inside a word other than after Mc, Mac,
O', D' or a hyphen: "DevTools") or is a short acronym no lexicon knows ("Cyrus SASL"). An
all lower-case span needs every word in the lexicons ("ravi shankar"). Names found by a cue
("Name: X", "Dear X,") do not pass through here: the cue is the evidence.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

__all__ = ["has_acronym", "lexicon_name", "name_like"]

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
        "ap",  # Welsh: "Dafydd ap Gruffydd"
        "bint",
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


# The last word of a place named after a person.
_PLACE_TYPES = frozenset(
    [
        "week",  # and days named after people or things: "Golden Week", "Boxing Day"
        "day",
        "festival",
        "street",
        "st",
        "road",
        "rd",
        "avenue",
        "ave",
        "lane",
        "ln",
        "boulevard",
        "blvd",
        "drive",
        "way",
        "place",
        "square",
        "sq",
        "gardens",
        "close",
        "court",
        "terrace",
        "crescent",
        "park",
        "bridge",
        "station",
        "hall",
        "hill",
        "line",
        "airport",
        "hospital",
        "school",
        "college",
        "university",
        "library",
        "museum",
        "stadium",
        "arena",
        "centre",
        "center",
        "building",
        "tower",
        "house",
        "castle",
        "church",
        "cathedral",
        "mosque",
        "temple",
        "market",
        "mall",
        "river",
        "lake",
        "mountain",
        "mount",
        "island",
        "bay",
        "beach",
        "valley",
        "county",
        "district",
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


@cache
def _english() -> frozenset[str]:
    return _lexicon("english")


def place_named(words: Sequence[str]) -> bool:
    """Whether capitalised ``words`` name a place or a day after someone ("Baker Street",
    "King Street", "Golden Week"), not a person: the last word is a kind of place, unless
    a given name comes first and the last word is also a family name ("Jane Park")."""
    last = words[-1].casefold()
    if len(words) < 2 or last not in _PLACE_TYPES:
        return False
    given = _word_kind(words[0]) == "given" or words[0].casefold() in _lexicon("given")
    return not (given and last in _lexicon("family"))


def place_only(value: str) -> bool:
    """Whether every word of ``value`` is a place's and none a name's ("Addis Ababa"; not
    "Aquila Macedo Costa")."""
    words = [w.casefold() for w in _NAME_WORD.findall(value)]
    places, given, family = _lexicon("places"), _lexicon("given"), _lexicon("family")
    return bool(words) and all(w in places and w not in given and w not in family for w in words)


def name_like(value: str) -> bool:
    """Whether ``value`` (one NER PERSON span, one line) is shaped like a person's name."""
    pieces = value.split()
    if any(_CODE_CAPS.search(p.strip("'’.,")) for p in pieces):
        return False
    words = _NAME_WORD.findall(value)
    if not words:
        return False
    if place_named(words):  # "Baker Street"; "Jane Park" and "Mark Hall" are people
        return False
    if value.islower():
        return all(_is_name_word(w) or w in _PARTICLES or w in _TITLES for w in words)
    if any(w[0].islower() and w not in _PARTICLES for w in words):
        return False  # "documentation updates", "Present development"
    if any(_acronym(w) and not _is_name_word(w) for w in words):
        return False  # an acronym in a capitalised span: "Cyrus SASL", "Mac OS X"
    if len(words) > 1 and words[0].casefold() in _TITLES and not words[0].isupper():
        return True  # "Mr. Abernathy": the title is the evidence
    ordinary = _ordinary()
    for word in words:
        if not word.isascii() and word[0].isupper():
            return True
        # An ordinary word is a name's evidence only beside another name or a word no
        # vocabulary knows ("Will Smith", "Mark Twain"; not "Job Control", "Server Requests").
        if _is_name_word(word) and word.casefold() not in ordinary:
            return True
        others = [w for w in words if w is not word]
        if _is_name_word(word) and any(
            _is_name_word(w) or _unknown_word(w, wordnet=False) for w in others
        ):
            return True
    # No lexicon knows it, and no English or technical text on this machine writes any of
    # its words in lower case ("Tevita", "Rangi Parata", "Hyun-woo"): the NER's reading of
    # the context decides. An initial counts as such a word ("T. Nakashima"), and so does a
    # word that is also a place's, or an unknown word with an English ending, beside one
    # that is unknown ("Giorgi Beridze", "Nasrin Akter").
    if value.isupper():
        return False
    initials = {p.rstrip(".") for p in pieces if re.fullmatch(r"[A-Z]\.", p)}
    kinds = [
        "initial"
        if w in initials and len(words) > 1
        else "particle"
        if w in _PARTICLES
        else "unknown"
        if _unknown_word(w) and not _acronym(w)
        else "place"
        if w.casefold() in _lexicon("places") and w.casefold() not in ordinary
        else "ending"
        if w[0].isupper() and _unknown_word(w, endings=False) and not _acronym(w)
        else "other"
        for w in words
    ]
    return "other" not in kinds and "unknown" in kinds


def _acronym(word: str) -> bool:
    return 1 < len(word) <= 4 and word.isupper()


def has_acronym(value: str) -> bool:
    """Whether a mixed-case ``value`` holds a short all-caps word that no name lexicon
    knows ("MS Crypto API", "Cyrus SASL"; not "Jo NG")."""
    if value.isupper():
        return False
    return any(_acronym(w) and not _is_name_word(w) for w in _NAME_WORD.findall(value))


# Endings of English words (and of few names): "Inspector", "Notification", "Settings".
_ENGLISH_ENDING = re.compile(
    r"(?:tion|sion|ing|ings|ness|ment|ments|able|ible|ity|ism|ist|ize|ise|ance|ence|ship|ous"
    r"|ics|ory|ary|ive|ure|er|ers|or|ors|ed|ly|al|ful|less|ware|s)$"
)


# Words of credit lines: the prose behind ``names_english`` drops such lines, so its
# vocabulary never holds them.
_CREDIT_WORDS = frozenset(
    ["copyright", "copyrights", "thanks", "thx", "author", "authors", "maintainer", "credits"]
)


def _unknown_word(word: str, *, endings: bool = True, wordnet: bool = True) -> bool:
    """No vocabulary holds ``word`` (``wordnet``: WordNet's neither), and (``endings``) it
    has no English ending."""
    folded = word.casefold()
    parts = re.split(r"['’-]", folded)
    if len(word) < 3 or folded in _CREDIT_WORDS:
        return False
    if endings and _ENGLISH_ENDING.search(folded):
        return False
    if wordnet and folded in _lexicon("wordnet"):  # whole: "woo" is in it, "Hyun-woo" not
        return False
    return not any(p in _english() or p in _ordinary() or p in _lexicon("places") for p in parts)


_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _is_name_word(word: str) -> bool:
    folded = word.casefold()
    if folded in _lexicon("given") or folded in _lexicon("family"):
        return True
    parts = re.split(r"['’-]", folded)  # "Seo-yeon", "O'Sullivan"
    return len(parts) > 1 and any(p in _lexicon("given") or p in _lexicon("family") for p in parts)


# Capitalised words of any script, and particles between them (the finder's runs).
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ŽƏİ][^\W\d_]*(?:['’-][^\W\d_]+)*"  # letters of any script after
_PARTICLE_RE = "|".join(sorted(_PARTICLES))


def _plain_word(word: str) -> bool:
    """An ordinary word, or an English or technical word that is no name ("Install")."""
    kind = _word_kind(word)
    return kind == "ordinary" or (kind == "other" and word.casefold() in _english())


_SYLLABLE = re.compile(r"^[bcdfghjklmnpqrstwxyz]{0,3}[aeiouy]{1,3}[ngm]{0,2}$")


def _word_kind(word: str) -> str:
    folded = word.casefold()
    if folded in _ordinary():
        return "ordinary"
    if folded in _lexicon("given"):
        return "given"
    if folded in _lexicon("family"):
        return "family"
    parts = folded.split("-")
    # "Seo-yeon", "Hyun-woo": a capitalised hyphenated given name of two syllables that are
    # no English words ("BSD-ism", "Wno-psabi" are not).
    syllables = len(parts) == 2 and all(_SYLLABLE.match(p) for p in parts)
    english = any(p in _english() or p in _ordinary() for p in parts)
    capitalised = word[0].isupper() and (word[1:].islower() or word.isupper())
    if syllables and capitalised and not english:
        return "given"
    return "other"


def lexicon_name(words: list[str]) -> bool:
    """Whether ``words`` (one value cut at its separators: ``jane-doe``) are all given or
    family names of the lexicons and not all ordinary words ("jane doe", "Jane"; not
    "will", "chat"). The lexicons alone decide, no context: for short identifiers such as
    path segments (:mod:`leakguard.audit.fields`), where :func:`name_like` has no NER
    reading to lean on."""
    ordinary = _ordinary()
    return (
        bool(words)
        and all(_is_name_word(w) for w in words)
        and any(w.casefold() not in ordinary for w in words)
    )


def __getattr__(name: str) -> object:
    # lexicon_names moved to leakguard.pii.name_finder (imported late: it builds on this).
    if name == "lexicon_names":
        from leakguard.pii.name_finder import lexicon_names

        return lexicon_names
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
