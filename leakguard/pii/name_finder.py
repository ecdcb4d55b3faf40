# ruff: noqa: RUF001
"""Names the NER missed, found by the name lexicons and the words around them
(:func:`lexicon_names`); the lexicons and word tests are :mod:`leakguard.pii.name_gate`'s.

Every rule looks at most a few dozen characters to either side of a name, so a stream's
context (``online.context_chars``) and hold-back (``online.hold_back_chars``) see what a
one-shot scan sees.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from leakguard.pii.name_gate import (
    _CAP,
    _CODE_CAPS,
    _PARTICLE_RE,
    _PARTICLES,
    _TITLES,
    _acronym,
    _english,
    _lexicon,
    _plain_word,
    _unknown_word,
    _word_kind,
    place_named,
)

__all__ = ["codename", "cued_given_name", "eponym", "in_code", "lexicon_names", "lone_word_name"]

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
    spans += _quoted_fields(text)
    if "-" in text:
        spans += [m.span(1) for m in _HONORIFIC.finditer(text)]
    found = [*spans, *known]
    spans += _list_items(text, found) + _pairs(text, found) + _lower_names(text)
    return sorted(set(spans))


def _run_name(text: str, start: int, words: list[str]) -> tuple[int, int] | None:
    if _not_a_name_run(words) or in_code(text, words[0]) or codename(text, start):
        return None
    kinds = [_word_kind(w) for w in words]
    value = " ".join(words)
    if value.isupper():
        return _caps_name(text, start, words, kinds)
    # Family name first ("Park Ji-yeon", "Chen Jiahui", "Nagy Eszter").
    family_first = kinds[0] == "family" and words[0].casefold() not in _PARTICLES  # "Da Nang"
    if len(words) == 2 and family_first and _given_or_unknown(words[1], kinds[1]):
        return start, start + _width(text, start, words)
    # A word no vocabulary knows, then a family name that is no English word ("Haruto
    # Sasaki": the given-name lexicon cannot hold every given name).
    if (
        len(words) == 2
        and kinds[0] == "other"
        and kinds[1] == "family"
        and _plain_shape(words[0])
        and _unknown_word(words[0])
        and not _vocabulary_word(words[1])
    ):
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
        # Bongani", "Kaveh wants", "..., Tanvir.").
        if _strong_cue(text, start, end) or _vocative(text, start, end):
            return start, end
        return None
    vocabulary = _vocabulary_word(words[0])
    folded = words[0].casefold()
    wordnet = folded in _lexicon("wordnet") or folded in _lexicon("places")
    if len(words) == 1 and kinds[0] in ("given", "family") and (vocabulary or wordnet):
        # "Price is not": an English word, unless a person's cue says not; a WordNet word
        # or a place ("Summer", "Marguerite", "Rose") takes the usual cues in mid-sentence.
        # (Software the text runs in code, "Hugo ... `hugo server`", was turned down above.)
        if words[0].isupper() or eponym(text, end):
            return None
        if _strong_cue(text, start, end) or _vocative(text, start, end):
            return start, end
        if _CELL_BEFORE.search(before) and _CELL_AFTER.match(text, end):
            return start, end
        if vocabulary:
            return None
        if _SENTENCE_START.search(before):
            # "Hunter will take the early shift", "Bishop scored twice"; not "Summer is the
            # busiest season", "Summer hours start" (a plural, not a verb).
            after = _AFTER_ONE.match(text, end)
            verb = after is not None and _WEAK_AFTER.fullmatch(after[0]) is None
            return (start, end) if verb else None
    if len(words) == 1 and kinds[0] == "family" and not words[0].isupper():
        # A lone family name with a person's verb after it or a cue before it ("Okafor
        # will present"); not before "'s" ("Dijkstra's algorithm").
        after = _AFTER_ONE.match(text, end)
        if (after is not None and "'" not in after[0] and "’" not in after[0]) or (
            _strong_cue(text, start, end)
        ):
            return None if eponym(text, end) else (start, end)
        return None
    if kinds[0] != "given" or words[0].isupper():
        return None
    if len(words) == 1 and _distinct_given(words[0]) and not eponym(text, end):
        return start, end  # a given name no English text writes in lower case: "Priya"
    if _AFTER_ONE.match(text, end) or _BEFORE_ONE.search(before):
        return start, end
    if _vocative(text, start, end):
        return start, end  # "Sorry to hear that, Ravi."
    if _CELL_BEFORE.search(before) and _CELL_AFTER.match(text, end):
        return start, end  # "<user>Camila</user>", "| Camila |", "Camila,42,infra"
    return None


_STRONG_BEFORE = re.compile(
    r"(?i)(?:^|[\s(\"'])(?:said|told|ask|asked|tell|thanks|thank you|thank|thx|ping|cc"
    r"|heard from|hear from|met|meet|invite|remind|hi|hey|hello|dear|congrats to"
    r"|congratulations to|welcome|spoke to|spoke with|speak to|speak with|talked to"
    r"|talked with|talk to|chatted with|contact|pick up"
    r"|señor|señora|señorita|senhor|senhora|monsieur|madame|mademoiselle|signor|signora"
    r"|signore|meneer|mevrouw|sayın|apologies:|regrets:|absent:|attendees:|invitees:)[ \t]+$"
)
_STRONG_AFTER = re.compile(
    r"[ \t]+(?:said|says|told|asked|wrote|writes|replied|agreed|agrees|disagrees|thinks"
    r"|wants|texted|emailed|called|mentioned|promised|insisted|demoed|apologi[sz]ed"
    r"|volunteered|complained|resigned|(?:is|was)[ \t]+(?:out[ \t]+sick|on[ \t]+leave"
    r"|off[ \t]+sick))\b|[ \t]+here[ \t]*[.,!]"
)
# A Japanese or Korean honorific after a name: "Inoue-san", "Minho-ssi" (the name alone).
_HONORIFIC = re.compile(
    r"(?<![\w'’-])([A-ZÀ-Þ][a-zà-ÿ]{1,20})-(?:san|sama|kun|chan|sensei|senpai|ssi|nim)\b"
)
_LONG_TITLES = frozenset(
    ["professor", "doctor", "dame", "rabbi", "imam", "judge", "senator", "councillor",
     "governor", "mayor", "detective", "captain", "coach", "nurse", "pastor", "sheikh",
     "auntie", "uncle", "aunt"]
)  # fmt: skip


# A name that names a method, law or unit, not a person here: "Dijkstra's algorithm",
# "Huffman coding", "Newton's laws", "Kalman filter".
_EPONYM_NOUNS = (
    r"(?:algorithms?|laws?|theorems?|methods?|principles?|equations?"
    r"|constants?|rules?|tests?|numbers?|conjectures?|formulas?|formulae|lemmas?|paradox"
    r"|distributions?|transforms?|filters?|coding|codes?|distances?|curves?|triangles?"
    r"|razor|sequences?|series|functions?|spaces?|problems?|machines?|notation|integrals?"
    r"|effects?|scale|units?|model|networks?|sort|search|tree|heap|hash|cipher|protocol)"
)
_EPONYM_AFTER = re.compile(rf"(?i:(?:['’]s)?[ \t]+{_EPONYM_NOUNS}\b)")
_EPONYM_NOUN = re.compile(rf"(?i:{_EPONYM_NOUNS})")


def eponym(text: str, end: int) -> bool:
    """Whether the name ending at ``end`` names a method, law or unit ("Dijkstra's algorithm",
    "Kalman Filter")."""
    return _EPONYM_AFTER.match(text, end) is not None


def _not_a_name_run(words: Sequence[str]) -> bool:
    """Capitalised words that name a place, a day or a method after someone ("King Street",
    "Golden Week", "Kalman Filter")."""
    return len(words) > 1 and (place_named(words) or _EPONYM_NOUN.fullmatch(words[-1]) is not None)


# Software that is named like a person: the text also writes the word in code
# ("`hugo server`", "`Jenkinsfile`").
def in_code(text: str, word: str) -> bool:
    """Whether a code span of ``text`` begins with ``word`` (any case): a command or a file
    ("`hugo server`", "`Jenkinsfile`"); a name inside code ("`--author=priya`") is not."""
    if "`" not in text:
        return False
    folded = word.casefold()
    return any(span.casefold().startswith(folded) for span in _CODE_SPAN.findall(text))


_CODE_SPAN = re.compile(r"`(?:\$[ \t]+)?([^`\n]{1,200})`")


def lone_word_name(text: str, start: int, end: int) -> bool:
    """Whether an NER span is one word that is also an English word or a month ("Black",
    "June"): such a span needs a person's cue (:func:`cued_given_name`). (One the text runs
    in code, "Hugo ... `hugo server`", the caller turns down with :func:`in_code`.)"""
    value = text[start:end]
    return " " not in value and _vocabulary_word(value)


_CODENAME_BEFORE = re.compile(
    r"(?i:\b(?:project|operation|codename|code[ -]name|codenamed))[ \t]+$"
)


def codename(text: str, start: int) -> bool:
    """Whether the name at ``start`` follows "Project", "Operation" or "codename": a
    project's name ("Project Hermes"), not a person's."""
    return _CODENAME_BEFORE.search(text, max(0, start - 16), start) is not None


def _vocabulary_word(word: str) -> bool:
    """A name that is also an English word, a month or a weekday ("Price", "Black",
    "June"): on its own it needs a strong cue."""
    folded = word.casefold()
    return folded in _english() or folded in _CALENDAR


# Words after a name at a sentence's start that nouns take too: "Summer is", "Rose
# petals", "Manila accounts" (a plural looks like a verb).
_WEAK_AFTER = re.compile(r"[ \t]+(?:is|and|has|was|can|could|would|should|[a-z]+s)|['’]s")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]|\n)[ \t\"“*>#-]*$")


def _distinct_given(word: str) -> bool:
    """A given name of the lexicons that no English text on this machine writes in lower
    case, no WordNet entry and no place ("Priya", "Mateus"; not "Grace", "Lenny"?)."""
    folded = word.casefold()
    return (
        len(word) >= 3
        and _word_kind(word) == "given"
        and word[1:].islower()
        and folded not in _english()
        and folded not in _lexicon("wordnet")
        and folded not in _lexicon("places")
        and folded not in _CALENDAR
    )


# Months and weekdays, whole and short ("Jun" is a given name too: "Sun, 02 Jun 2024").
_CALENDAR = frozenset(
    [
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec", "monday", "tuesday", "wednesday", "thursday", "friday",
        "saturday", "sunday", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat",
        "sun",
    ]
)  # fmt: skip


_PRONOUN_AFTER = re.compile(r",?[ \t]+(?:she|he)\b")


def cued_given_name(text: str, start: int, end: int) -> bool:
    """Whether an NER span the gate turned down (or that must show a cue) is a name with a
    cue only a person takes beside it: a given name that is also an English word ("Ask Sky,
    she set up the VPN", "Will said", "thanks Hope"), a word no vocabulary knows ("Spoke to
    Saeed"), or a word then family or unknown names ("thank Precious Moyo")."""
    value = text[start:end]
    if not value[:1].isupper() or value.isupper():
        return False
    words = value.split()
    if len(words) > 1:
        # "thank Precious Moyo": a word (often a given name that is also a word), then
        # family names or words no vocabulary knows.
        first, rest = words[0], words[1:]
        if not _plain_shape(first) or _word_kind(first) == "ordinary" or _not_a_name_run(words):
            return False
        if not all(_plain_shape(w) and _name_or_unknown(w) for w in rest):
            return False
    elif value.casefold() not in _lexicon("given") and value.casefold() not in _lexicon("common"):
        unknown = _word_kind(value) == "other" and _unknown_word(value, endings=False)
        if not (_plain_shape(value) and unknown):
            return False  # "Spoke to Saeed": a word no vocabulary knows, with the cue
    return _strong_cue(text, start, end)


def _strong_cue(text: str, start: int, end: int) -> bool:
    """A cue only a person takes: "said X", "X wrote", "X, she ...", "señor X", a sentence
    that opens with X and says "she" or "his" later."""
    before = text[max(0, start - 24) : start]
    return bool(
        _STRONG_BEFORE.search(before)
        or _STRONG_AFTER.match(text, end)
        or _PRONOUN_AFTER.match(text, end)
        or (_SENTENCE_START.search(before) is not None and _PRONOUN_LATER.match(text, end))
    )


# A person's pronoun later in the sentence: "Faith had no faith in it, so she rewrote it".
_PRONOUN_LATER = re.compile(r"[ \t]+[a-z][^.!?\n]{0,80}\b(?:she|he|her|his|him)\b")


def _vocative(text: str, start: int, end: int) -> bool:
    """A name addressed at the end of a sentence: "Sorry to hear that, Ravi.", "Thanks, Will!"."""
    before = text[max(0, start - 24) : start]
    return bool(_VOCATIVE_BEFORE.search(before) and _VOCATIVE_AFTER.match(text, end))


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
        if kinds[0] == "family" and len(words) == 2 and _given_or_unknown(words[1], kinds[1]):
            return start, start + _width(text, start, words)  # "CHEN SHU-MIN"
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
# A JSON or YAML value under a name key: {"name": "Tanja kuhar"}, customer_name: 'Li Wei'.
_QUOTED_FIELD = re.compile(
    r"(?i:[\"']?\b(?P<key>full[_ -]?name|name|customer(?:[_ -]?name)?|patient(?:[_ -]?name)?"
    r"|contact(?:[_ -]?name)?|owner|author|assignee|reporter|first[_ -]?name|last[_ -]?name"
    r"|given[_ -]?name|family[_ -]?name|surname|display[_ -]?name)[\"']?)[ \t]*:[ \t]*"
    r"(?P<q>[\"'])(?P<name>[^\W\d_]+(?:[ \t.'’-]+[^\W\d_]+){0,3}\.?)(?P=q)"
)


def _quoted_fields(text: str) -> list[tuple[int, int]]:
    if ":" not in text:
        return []
    found = []
    for m in _QUOTED_FIELD.finditer(text):
        words = re.findall(r"[^\W\d_]+", m["name"])  # "my-service": "my", "service"
        ordinary = [w for w in words if _word_kind(w) == "ordinary" or w.casefold() in _NOT_NAMES]
        if m["name"].islower() and not all(_name_or_unknown(w) for w in words):
            continue  # "build", "web server"
        if any(_acronym(w) for w in words):
            continue
        # A bare "name" key names services, jobs and steps too (name: "nginx", "CI"): its
        # value needs a lexicon given name and a second word; a person's key ("customer",
        # "author", "first_name") vouches for one word that is a name or unknown.
        generic = m["key"].casefold() in ("name", "display name", "display_name", "displayname")
        if generic:
            if len(words) < 2 or not any(_word_kind(w) == "given" for w in words):
                continue
        elif not all(_name_or_unknown(w) for w in words):
            continue
        if words and not ordinary and not any(_CODE_CAPS.search(w) for w in words):
            found.append(m.span("name"))
    return found


# Values under a name key that are no names.
_NOT_NAMES = frozenset(["string", "null", "none", "unknown", "test", "example", "user", "admin"])


_LOWER_CUE_WORD = re.compile(
    r"(?i:\b(?P<cue>hi|hello|hey|dear|thanks|thank[ \t]+you|i['’]m|i[ \t]+am|this[ \t]+is"
    r"|good[ \t]+(?:morning|afternoon|evening)|belongs[ \t]+to|issued[ \t]+to"
    r"|on[ \t]+behalf[ \t]+of"
    r"|(?:full[ \t]+)?name|reporter|customer|patient|contact|passenger|guest|tenant"
    r"|applicant|employee))\b"
)
_LOWER_CUED = re.compile(
    r"(?P<sep>(?:\*\*)?[ \t]*[,:]?(?:\*\*)?[ \t]+)"
    rf"(?P<name>{_LW}(?:[ \t]+{_LW}){{0,3}})(?=[ \t]*(?:[,.!?;)]|$))",
    re.M,
)
# Words said to a person in a greeting that no name lexicon should vouch for ("Thanks, mate!").
_VOCATIVES = frozenset(
    [
        "mate", "love", "pal", "buddy", "honey", "champ", "boss", "chief", "dear", "sweetie",
        "darling", "bro", "sis", "man", "dude", "guys", "folks", "all", "everyone", "team", "sir",
        "madam", "babe", "hun",
    ]
)  # fmt: skip
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
            _word_kind(w) in ("given", "family") and w not in _VOCATIVES and w not in _english()
            for w in names
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
        "wassup", "sup", "lol", "lmao", "lmaooo", "lmk", "tmrw", "tmr", "pls", "plz", "thx", "np",
        "idk", "imo", "tbh", "btw", "omg", "wya", "ngl", "rn", "nvm", "bruh", "dude", "bro", "sis",
        "fam", "yall", "gonna", "wanna", "gotta", "kinda", "dunno", "ok", "okay", "yeah", "yep",
        "nope", "nah", "haha", "hahaha", "hmm", "ugh", "pic", "pics", "vid", "convo",
    ]
)  # fmt: skip


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
