# ruff: noqa: RUF001
"""Is a PERSON span from the NER shaped like a person's name? A lexicon gate, and a
lexicon name finder for names the NER missed (:func:`lexicon_names`).

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

__all__ = ["has_acronym", "lexicon_name", "lexicon_names", "name_like"]

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


def name_like(value: str) -> bool:
    """Whether ``value`` (one NER PERSON span, one line) is shaped like a person's name."""
    pieces = value.split()
    if any(_CODE_CAPS.search(p.strip("'’.,")) for p in pieces):
        return False
    words = _NAME_WORD.findall(value)
    if not words:
        return False
    last = words[-1].casefold()
    if len(words) > 1 and last in _PLACE_TYPES:
        # "Baker Street", "Bond Street": a place named after someone; "Jane Park" and
        # "Mark Hall" are people (a given name, then a family name).
        given = _word_kind(words[0]) == "given" or words[0].casefold() in _lexicon("given")
        if not (given and last in _lexicon("family")):
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
    r"|and|is|did|does|can|could|would|should|ever|already|here|took|gave|made|went|came|got"
    r"|left|sent|ran|broke|brought|bought|built|drove|kept|lost|won|saw|met|paid|put"
    r"|spoke|thought|knew|wants|needs|likes|loves|hates|owes|runs|knows)\b"
    r"|[ \t]+(?:[a-z]{3,}(?:ed|es)|[a-z]{2,}[^s\W]s)\b"
    r"|[ \t]*[:,][ \t]*(?:lgtm|\+1|thanks|done|ok)\b"
)
_BEFORE_ONE = re.compile(
    r"(?i)(?:^|[\s(\"'])(?:ask|asked|tell|told|thanks|thank you|ping|cc|with|and|by|from|said"
    r"|hi|hey|hello|dear|congrats to|congratulations to|welcome|except|met|to|mail|email"
    r"|call|is|owe|invite|remind|then|when|did|has|does|think|need|notes:|reviewers:)[ \t]+$"
)


def _plain_word(word: str) -> bool:
    """An ordinary word, or an English or technical word that is no name ("Install")."""
    kind = _word_kind(word)
    return kind == "ordinary" or (kind == "other" and word.casefold() in _english())


_SYLLABLE = re.compile(r"^[bcdghjklmnprstwy]{0,3}[aeiouy]{1,3}[ngm]{0,2}$")


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
    if syllables and word[0].isupper() and word[1:].islower() and not english:
        return "given"
    return "other"


def lexicon_names(text: str, known: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Spans of names in ``text`` that the lexicons vouch for: a given name followed by one
    or two capitalised words that are not ordinary English words ("Thanks to Jane Doe"),
    two family names, a lone given name with a cue beside it ("said Priya", "Ahmed's
    proposal", "Tariq found", "Did Mateus ever"), the other items of a list that holds such
    a name ("Reviewers: Ivo, Kalani, Bartholomew") or the other half of a pair ("Keoni and
    Malia"), a name after a title or a kinship word ("Professor Eitan Shapiro", "her
    brother Sipho"), the owner of an action item ("AI: Mensah to circulate"), and given
    names in chat written in lower case ("ask mehmet", "lol dana", "gaurav pls check").
    ``known``: PERSON spans found by other means (the NER, cues), for the list and pair
    rules."""
    spans = []
    for match in _RUN.finditer(text):
        start, words = match.start(), match[0].split()
        if words[-1].endswith(("'s", "’s")):  # "Ahmed's": the name without its 's
            words[-1] = words[-1][:-2]
        title = next((i for i, w in enumerate(words) if w.casefold() in _LONG_TITLES), None)
        if title is not None and title < len(words) - 1:
            # "Professor Ngozi Achebe": the name is the run after the title, whole.
            after = _RUN.match(text, text.index(words[title + 1], start))
            names = after[0].split() if after is not None else []
            if names and all(_name_or_unknown(w) for w in names):
                spans.append((after.start(), after.end()) if after is not None else (0, 0))
                continue
        # A capitalised ordinary word opens the run ("Did Mateus", "Our intern"): the name,
        # if any, starts after it.
        while len(words) > 1 and _plain_word(words[0]):
            start = text.index(words[1], start + len(words[0]))
            words = words[1:]
        span = _run_name(text, start, words)
        if span is not None:
            spans.append(span)
    spans += _kin_and_owners(text) + _address_owners(text) + _lower_after_cue(text)
    found = [*spans, *known]
    spans += _list_items(text, found) + _pairs(text, found) + _lower_names(text)
    return sorted(set(spans))


def _run_name(text: str, start: int, words: list[str]) -> tuple[int, int] | None:
    kinds = [_word_kind(w) for w in words]
    value = " ".join(words)
    if value.isupper():
        return _caps_name(text, start, words, kinds)
    # Family name first ("Park Ji-yeon", "Chen Jiahui", "Nagy Eszter").
    family_first = kinds[0] == "family" and words[0].casefold() not in _PARTICLES  # "Da Nang"
    if len(words) == 2 and family_first and _given_or_unknown(words[1], kinds[1]):
        return start, start + _width(text, start, words)
    # A given name then capitalised words that are no ordinary words ("Helmut Grohne":
    # the family-name lexicon cannot hold every surname), or two family names.
    acronyms = any(_acronym(w) and k == "other" for w, k in zip(words, kinds, strict=True))
    several = len(words) > 1 and "ordinary" not in kinds and not value.isupper() and not acronyms
    if several and (kinds[0] == "given" or kinds[0] == kinds[-1] == "family"):
        return start, start + _width(text, start, words)
    end = start + len(words[0])
    before = text[max(0, start - 24) : start]
    if (
        len(words) == 1
        and kinds[0] == "other"
        and _unknown_word(words[0])
        and _plain_shape(words[0])
    ):
        # A word no vocabulary knows, with a cue that only a person takes ("heard from
        # Bongani", "Kaveh wants").
        if _STRONG_BEFORE.search(before) or _STRONG_AFTER.match(text, end):
            return start, end
        return None
    if kinds[0] != "given" or words[0].isupper():
        return None
    if _AFTER_ONE.match(text, end) or _BEFORE_ONE.search(before):
        return start, end
    if _VOCATIVE_BEFORE.search(before) and _VOCATIVE_AFTER.match(text, end):
        return start, end  # "Sorry to hear that, Ravi."
    if _CELL_BEFORE.search(before) and _CELL_AFTER.match(text, end):
        return start, end  # "<user>Camila</user>", "| Camila |", "Camila,42,infra"
    return None


_STRONG_BEFORE = re.compile(
    r"(?i)(?:^|[\s(\"'])(?:said|told|ask|asked|tell|thanks|thank you|thx|ping|cc|heard from"
    r"|hear from|met|meet|invite|remind|hi|hey|hello|dear|congrats to|congratulations to"
    r"|welcome)[ \t]+$"
)
_STRONG_AFTER = re.compile(
    r"[ \t]+(?:said|says|told|asked|wrote|writes|replied|agreed|agrees|disagrees|thinks"
    r"|wants|texted|emailed|called|mentioned|promised|insisted)\b"
)
_LONG_TITLES = frozenset(
    ["professor", "doctor", "dame", "rabbi", "imam", "judge", "senator", "councillor",
     "governor", "mayor", "detective", "captain", "coach", "nurse", "pastor", "sheikh",
     "auntie", "uncle", "aunt"]
)  # fmt: skip


def _plain_shape(word: str) -> bool:
    """A capital then small letters, no capital inside ("ClientTlsPolicy" is code)."""
    return _CODE_CAPS.search(word) is None and word[1:].islower()


def _name_or_unknown(word: str) -> bool:
    kind = _word_kind(word)
    return kind in ("given", "family") or _given_or_unknown(word, kind)


def _given_or_unknown(word: str, kind: str) -> bool:
    return kind == "given" or (kind == "other" and _unknown_word(word) and not _acronym(word))


def _caps_name(text: str, start: int, words: list[str], kinds: list[str]) -> tuple[int, int] | None:
    """A name written in capitals: a given name then one or two family names or words no
    vocabulary knows ("SVETLANA IVANOVA"), or a lone given name after a greeting ("THANK
    YOU AMINA")."""
    while words and kinds[0] not in ("given", "family"):  # "THANK YOU AMINA"
        start = text.index(words[1], start + len(words[0])) if len(words) > 1 else start
        words, kinds = words[1:], kinds[1:]
    if not words:
        return None
    if len(words) > 1:
        if kinds[0] == "given" and all(
            k in ("given", "family") or _given_or_unknown(w, k)
            for w, k in zip(words[1:], kinds[1:], strict=True)
        ):
            return start, start + _width(text, start, words)
        return None
    before = text[max(0, start - 24) : start]
    if kinds[0] == "given" and len(words[0]) > 2 and _STRONG_BEFORE.search(before):
        return start, start + len(words[0])
    return None


# A kinship word before a name ("her brother Sipho"); the owner of an action item at a
# line's start ("AI: Mensah to circulate", "- Nakamura: draft", "- Dubois / Haddad: review").
_KIN = re.compile(
    r"(?i:\b(?:my|his|her|their|our|your)[ \t]+(?:little[ \t]+|big[ \t]+|older[ \t]+"
    r"|younger[ \t]+)?(?:brother|sister|son|daughter|wife|husband|partner|mother|father|mum"
    r"|mom|dad|friend|colleague|cousin|uncle|aunt|boss|manager|nephew|niece|grandson"
    r"|granddaughter|grandmother|grandfather|grandma|grandpa|fianc[ée]e?|girlfriend"
    r"|boyfriend|roommate|flatmate|neighbou?r|coworker|co-worker)[ \t]+)"
    rf"({_CAP}(?:[ \t]+{_CAP})?)(?![\w'’-])"
)
_OWNER_NAME = rf"(?:(?:{_PARTICLE_RE})[ \t]+)?{_CAP}"
_ACTION = re.compile(
    rf"(?m)^[ \t]*(?:[-*•][ \t]*)?(?i:ai|action(?:[ \t]+items?)?|todo|owner)[ \t]*:[ \t]*"
    rf"({_OWNER_NAME})(?=[ \t]+(?:to|will|and|&)\b|[ \t]*[:/,(])"
)
_BULLET_OWNERS = re.compile(
    rf"(?m)^[ \t]*[-*•][ \t]*({_CAP}(?:[ \t]*/[ \t]*{_CAP})*)[ \t]*:[ \t]+[a-z]"
)


def _kin_and_owners(text: str) -> list[tuple[int, int]]:
    found = []
    for match in _KIN.finditer(text):
        words = match[1].split()
        if not _plain_word(words[0]) and not any(_acronym(w) for w in words):
            found.append(match.span(1))
    for match in _ACTION.finditer(text):
        word = match[1].split()[-1]
        kind = _word_kind(word)
        if kind in ("given", "family") or _given_or_unknown(word, kind):
            found.append(match.span(1))
    for match in _BULLET_OWNERS.finditer(text):  # lexicon names only: "- Fixed: ..." is none
        for item in re.finditer(_CAP, match[1]):
            if _word_kind(item[0]) in ("given", "family"):
                found.append((match.start(1) + item.start(), match.start(1) + item.end()))
    return found


# A name right before its own e-mail address: "Bao Nguyen,bao.nguyen@example.org",
# "Kaito Mori <k.mori@...>", "| Ana Lima | alima@... |". The address comes within 32
# characters and its "@" within 60, so a stream's hold-back (64) still holds the name.
_OWNER_RUN = re.compile(rf"(?<![\w@./-]){_CAP}(?:[ \t]+{_CAP}){{1,2}}(?![\w@/-])")
_LOCAL_PART = re.compile(r"([\w.+-]{2,40})@[\w-]")


def _fold(word: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in plain if c.isalnum() and c.isascii())


def _address_owners(text: str) -> list[tuple[int, int]]:
    if "@" not in text:
        return []
    found = []
    for match in _OWNER_RUN.finditer(text):
        local = _LOCAL_PART.search(text, match.end(), match.end() + 64)
        if local is None or local.start() - match.end() > 32 or local.end() - match.end() > 60:
            continue  # the "@" must arrive while a stream still holds the name back
        if "\n" in text[match.end() : local.start()]:
            continue
        parts = [p for p in re.split(r"[._+\-\d]+", local[1].casefold()) if p]
        words = [_fold(w) for w in match[0].split()]
        if _owns(words, parts):
            found.append(match.span())
    return found


def _owns(words: list[str], parts: list[str]) -> bool:
    """Whether an address's local part (cut at its dots, dashes, digits) spells the name:
    every word ("bao.nguyen"), or the last word with the first word or its initial
    ("priya.r", "g.beridze", "lquispe", "kmori")."""
    if not words or not parts or any(len(w) < 2 for w in words):
        return False
    if all(w in parts for w in words):
        return True
    first, last = words[0], words[-1]
    joined = "".join(parts)
    return (
        joined in (first[0] + last, first + last[0], last + first[0])
        or (last in parts and first[0] in parts)
        or (first in parts and last[0] in parts)
    )


_PLACES_BEFORE = re.compile(r"(?i)\b(?:between|in|at|near|via|across|around)[ \t]+$")
_PAIR = re.compile(rf"(?<![\w'’-])({_CAP})[ \t]+(?:and|&|or)[ \t]+({_CAP})(?![\w'’-])")


def _pairs(text: str, names: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The other half of "A and B" where one half is a found name and the other is one word
    that is a lexicon name or known to no vocabulary ("Keoni and Malia")."""
    found = []
    for match in _PAIR.finditer(text):
        if _PLACES_BEFORE.search(text, max(0, match.start() - 12), match.start()):
            continue  # "between Paddington and Whitechapel"
        halves = [match.span(1), match.span(2)]
        for this, other in (halves, halves[::-1]):
            if not any(a <= this[0] and this[1] <= b for a, b in names):
                continue
            word = text[other[0] : other[1]]
            kind = _word_kind(word)
            if word.isupper() or _plain_word(word):
                continue
            if _given_or_unknown(word, kind):  # a family name alone may be a place's
                found.append(other)
    return found


_VOCATIVE_BEFORE = re.compile(r"\w,[ \t]+$")
_VOCATIVE_AFTER = re.compile(r"[ \t]*(?:[.!?]|$)", re.M)
_CELL_BEFORE = re.compile(r"(?:^|[>|\t]|(?<![ \t]),)[ \t]*$", re.M)
_CELL_AFTER = re.compile(r"[ \t]*(?:</|[|\t]|,(?![ \t])|$)", re.M)


def _width(text: str, start: int, words: list[str]) -> int:
    """Characters from ``start`` that hold ``words`` (separated by blanks in ``text``)."""
    at = start
    for word in words:
        at = text.index(word, at) + len(word)
    return at - start


# A list after a label or between commas: "Founders: A, B and C", "A, B, C".
_ITEM = rf"{_CAP}(?:[ \t]+{_CAP}){{0,2}}"
_ROLE = r"(?:[ \t]*\([a-z][a-z -]{1,30}\))?"  # "Nakamura (moderator), Okonkwo, ..."
_LIST = re.compile(
    rf"(?<![\w'’-]){_ITEM}{_ROLE}(?:[ \t]*,[ \t]*{_ITEM}{_ROLE})*"
    rf"(?:,?[ \t]+(?:and|&)[ \t]+{_ITEM}{_ROLE})?"
)
_ITEM_RE = re.compile(_ITEM)


def _list_items(text: str, names: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The items of a list of three or more capitalised items (or two after a label's
    colon) of which one is a found name or two hold a lexicon name; no item may hold an
    ordinary or English word or an all-caps word."""
    found = []
    for match in _LIST.finditer(text):
        items = [m.span() for m in _ITEM_RE.finditer(text, match.start(), match.end())]
        labelled = text[: match.start()].rstrip(" \t").endswith(":")
        if len(items) < (2 if labelled else 3):
            continue
        values = [text[a:b] for a, b in items]
        known = sum(any(_word_kind(w) in ("given", "family") for w in v.split()) for v in values)
        has_name = any(a <= n0 and n1 <= b for a, b in items for n0, n1 in names)
        if not has_name and known < 2:
            continue
        if any(_plain_word(w) or w.isupper() for v in values for w in v.split()):
            continue
        found += items
    return found


_LOWER_CUE = re.compile(
    r"(?:^|(?<=[\s(]))(?:ask|asked|tell|told|ping|thanks|thank you|met|lol|omg|btw|cc|hi|hey"
    r"|with|and|from|by|to|@)[ \t]+([a-zà-ÿ][a-zà-ÿ'-]{2,})(?![\w@./-])"
)


_CAPITAL_AFTER_START = re.compile(r"(?!\bI\b|\bI['’])[A-ZÀ-Þ]")  # "I" and "I'm" aside


# A lower-case name after a cue in text of any case: "Hi, I'm nakul.", "Thanks, dafina!",
# "Reporter: jane phạm", "NAME: pani róża kielan". The name ends at a sign or the line's end.
_LW = r"[^\W\d_]+(?:['’-][^\W\d_]+)*"  # lower case checked in code (any script)
_LOWER_CUE_WORD = re.compile(
    r"(?i:\b(?P<cue>hi|hello|hey|dear|thanks|thank[ \t]+you|i['’]m|i[ \t]+am|this[ \t]+is"
    r"|(?:full[ \t]+)?name|reporter|customer|patient|contact|passenger|guest|tenant"
    r"|applicant|employee))\b"
)
_LOWER_CUED = re.compile(
    rf"(?P<sep>[ \t]*[,:]?[ \t]+)(?P<name>{_LW}(?:[ \t]+{_LW}){{0,3}})(?=[ \t]*(?:[,.!?;)]|$))",
    re.M,
)
_FIELD_CUES = frozenset(
    [
        *("name", "full", "reporter", "customer", "patient", "contact", "passenger"),
        *("guest", "tenant", "applicant", "employee"),
    ]
)


def _lower_after_cue(text: str) -> list[tuple[int, int]]:
    found = []
    for cue in _LOWER_CUE_WORD.finditer(text):
        m = _LOWER_CUED.match(text, cue.end())
        if m is None:
            continue
        words = m["name"].split()
        if not m["name"].islower():
            continue
        field = cue["cue"].split()[0].casefold() in _FIELD_CUES and ":" in m["sep"]
        if not field and len(words) > 3:
            continue
        names = [w for w in words if w not in _PARTICLES and w not in _TITLES]
        if not names or any(w in _SLANG or _word_kind(w) == "ordinary" for w in names):
            continue
        if any(
            w in _english() or w in _lexicon("wordnet") for w in names if _word_kind(w) == "other"
        ):
            continue
        # A field's label vouches for the value; a greeting needs a lexicon name in it.
        if field or any(
            _word_kind(w) in ("given", "family") and w not in _lexicon("wordnet") for w in names
        ):
            found.append(m.span("name"))
    return found


_LOWER_WORD = re.compile(r"(?<![\w@./'’-])([a-zà-ÿ][a-zà-ÿ'’-]{2,})(?![\w@./-])")
_LOWER_AFTER = re.compile(
    r"[ \t]+(?:said|says|wants|will|won't|wont|sent|texted|told|asked|is|isnt|isn't|was|has"
    r"|had|just|here|needs|pls|plz|did|does|can|cant|can't|should|[a-z]{3,}(?:ed|es))\b"
)
_LOWER_BEFORE = re.compile(
    r"(?:^|[\s(])(?:ask|asked|tell|told|ping|thanks|thx|ty|met|lol|omg|btw|cc|hi|hey|yo|oi"
    r"|did|if|with|and|from|by|to|@)[ \t]+$"
)
# Chat words no vocabulary of prose holds; never names.
_SLANG = frozenset(
    [
        "wassup",
        "sup",
        "lol",
        "lmao",
        "lmaooo",
        "lmk",
        "tmrw",
        "tmr",
        "pls",
        "plz",
        "thx",
        "np",
        "idk",
        "imo",
        "tbh",
        "btw",
        "omg",
        "wya",
        "ngl",
        "rn",
        "nvm",
        "bruh",
        "dude",
        "bro",
        "sis",
        "fam",
        "yall",
        "gonna",
        "wanna",
        "gotta",
        "kinda",
        "dunno",
        "ok",
        "okay",
        "yeah",
        "yep",
        "nope",
        "nah",
        "haha",
        "hahaha",
        "hmm",
        "ugh",
        "pic",
        "pics",
        "vid",
        "convo",
    ]
)


def _lower_names(text: str) -> list[tuple[int, int]]:
    """Names in chat written in lower case (no capital after the text's first letter): a
    given name right after a chat cue ("ask mehmet", "lol dana"). Where the text starts in
    lower case too, also a given name that is no English word, anywhere ("gaurav pls
    check"), and one that is an English word or a word no vocabulary knows beside a cue
    ("yo chidi", "kaveh wants")."""
    if _CAPITAL_AFTER_START.search(text, 1):
        return []
    found = [
        m.span(1)
        for m in _LOWER_CUE.finditer(text)
        if _word_kind(m[1]) == "given" and len(m[1]) >= 3
    ]
    if text.lstrip()[:1].isupper():
        return found
    for m in _LOWER_WORD.finditer(text):
        word = m[1]
        if len(word) < 4 or word in _SLANG or word in _PARTICLES or word in _TITLES:
            continue
        kind = _word_kind(word)
        english = kind == "ordinary" or word in _english() or word in _lexicon("wordnet")
        before = text[max(0, m.start() - 24) : m.start()]
        cued = bool(_LOWER_BEFORE.search(before) or _LOWER_AFTER.match(text, m.end()))
        if (kind == "given" and (not english or cued)) or (
            kind == "other" and _unknown_word(word) and cued
        ):
            found.append(m.span(1))
    return found


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
