# ruff: noqa: RUF001
"""Person names: rules around the NER's PERSON spans (honorifics before a name and
generational or academic suffixes after it belong to the name: "Dr. Yago Ferreira",
"John Smith Jr."; digits or function words alone never make a name), and a recognizer for
names that follow an unmistakable cue."""

from __future__ import annotations

import re
from collections.abc import Callable

from leakguard.pii.recognizers.base import CaselessWords, Recognizer, caseless_led, led_by

_TITLE_BEFORE = re.compile(
    r"(?i)(?<![\w.])(?:mr|mrs|ms|miss|mx|dr|dra|prof|sr|sra|srta|sir|dame|lady|lord|rev|herr"
    r"|frau|hr|fru|mme|mlle|m|sig|sig\.ra|dott|dott\.ssa|ing|mag|judr|mudr|mgr|ir|drs"
    r"|hon|capt|col|gen|sgt|fr|pr)\.?[ \t]+$"
)
_SUFFIX_AFTER = re.compile(
    r"(?i)^,?[ \t]+(?:jr|sr|ii|iii|iv|phd|ph\.d|md|dds|dvm|esq|mba|msc|bsc|ba|ma|b\.eng"
    r"|m\.ak)\.?(?!\w)"
)


def extend_name(text: str, start: int, end: int) -> tuple[int, int]:
    """``start, end`` widened over an adjacent title and suffix on the same line."""
    before = _TITLE_BEFORE.search(text, max(0, start - 12), start)
    if before is not None:
        start = before.start()
    after = _SUFFIX_AFTER.match(text[end : end + 12])
    if after is not None:
        end += after.end()
    return start, end


def plausible_name(value: str) -> bool:
    """False for a span with digits ("IBAN GB82") or made only of function words ("me",
    "you all"): never a name."""
    from spacy.lang.en.stop_words import STOP_WORDS

    if any(c.isdigit() for c in value):
        return False
    words = re.findall(r"[^\W\d_]+", value.lower())
    return bool(words) and not all(w in STOP_WORDS or w in _SALUTATIONS for w in words)


# Letter openings and closings the NER sometimes reads as a name ("Sincerely,").
_SALUTATIONS = frozenset(
    [
        "dear",
        "hi",
        "hello",
        "hey",
        "greetings",
        "sincerely",
        "regards",
        "cheers",
        "thanks",
        "thank",
        "best",
        "kind",
        "warm",
        "yours",
        "truly",
        "faithfully",
        "respectfully",
        "wishes",
        "welcome",
        "congratulations",
        "congrats",
    ]
)


# --- names after cues: "Name: X", "Dear X,", "Dr. X", "my name is x", signatures ------
_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
# A capitalised word, or an initial ("J."); a full stop after a word ends the name.
_CAP_TAIL = rf"(?:\.(?=[ \t]+[{_UPPER}])|[\w'’]*(?:-[{_UPPER}]?[\w'’]+)*)"  # after the capital
_CAP_WORD = rf"[{_UPPER}]{_CAP_TAIL}"
_PARTICLE = (
    r"(?:de|da|do|dos|das|del|della|di|du|la|le|van|von|der|den|ter|ten|bin|binti|al|el|ibn"
    r"|mac|mc|ó|ní|y|e)"
)
_MORE_NAME = rf"(?:[ \t]+(?:{_PARTICLE}[ \t]+){{0,2}}{_CAP_WORD}){{0,3}}"
_CAP_NAME = rf"{_CAP_WORD}{_MORE_NAME}"
_LOW_WORD = r"[a-zà-öø-ÿā-ž][a-zà-öø-ÿā-ž'’-]+"
_LOW_NAME = rf"{_LOW_WORD}(?:[ \t]+{_LOW_WORD}){{1,2}}"
_FIELDS = (
    r"full[ \t]+name|name|customer|patient|contact(?:[ \t]+person)?|reporter|assignee|owner"
    r"|account[ \t]+holder|card[ \t]*holder|beneficiary|sender|recipient|author|signed(?:[ \t]+by)?"
    r"|from|to|cc|attn|attention|guest|passenger|employee|tenant|client|applicant|member"
    r"|requester|submitted[ \t]+by|approved[ \t]+by|reviewed[ \t]+by|prepared[ \t]+by|spouse"
    r"|emergency[ \t]+contact|next[ \t]+of[ \t]+kin|landlord|doctor|physician|witness"
)


def _words_led(words: str) -> str:
    """``(?i:\\b(?:words))`` as a pattern that begins with its first letters (caseless_led):
    every branch begins with a letter, so ``\\b`` before it is "no word character before"."""
    return caseless_led(_top_level_branches(words), r"\w")


def _top_level_branches(words: str) -> list[str]:
    """``words`` split at its top-level ``|`` (not inside a group)."""
    branches, depth, start = [], 0, 0
    for i, ch in enumerate(words):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "|" and depth == 0:
            branches.append(words[start:i])
            start = i + 1
    return [*branches, words[start:]]


# A display name's capital, at a line start or after a space or one of ``,:;("'``.
_DISPLAY_LEAD = led_by(f"[{_UPPER}]", r"""[^\s,:;("']""")

_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.MULTILINE))
    for kind, pattern in (
        ("field", caseless_led(_top_level_branches(_FIELDS), r"[\w-]")
                  + r"[\"']?[ \t]*(?:\*\*)?[ \t]*[:=][ \t]*(?:\*\*)?[ \t]*[\"']?"
                  + rf"(?P<name>{_CAP_NAME})"),
        # RFC 5322 display name: "Jane Doe <jane@example.com>"
        ("display_name", rf"(?P<name>{_DISPLAY_LEAD}{_CAP_TAIL}{_MORE_NAME})"
                         r"[ \t]+<[^\s<>@]+@[^\s<>]+>"),
        ("greeting", _words_led(r"dear|hi|hello|hey|greetings|good[ \t]+(?:morning|afternoon"
                                r"|evening)|thanks|thank[ \t]+you|congratulations|congrats|welcome")
                     + rf"[ \t]*,?[ \t]+(?P<name>{_CAP_NAME})(?=[ \t]*[,!.:;?]|[ \t]*$)"),
        ("honorific", _words_led("mr|mrs|ms|miss|mx|dr|prof|herr|frau|mme|mlle|sr|sra")
                      + rf"\.?[ \t]+(?P<name>{_CAP_NAME})"),
        ("phrase", _words_led(r"my[ \t]+name[ \t]+is|i[ \t]*['’]?[ \t]*a?m|this[ \t]+is"
                              r"|belongs[ \t]+to|issued[ \t]+to|on[ \t]+behalf[ \t]+of|c/o")
                   + rf"[ \t]+(?P<name>{_CAP_NAME})"),
        ("lower", _words_led(r"my[ \t]+name[ \t]+is") + rf"[ \t]+(?P<name>{_LOW_NAME})(?![\w'’-])"),
        ("signature", r"(?i:^[ \t]*(?:best(?:[ \t]+regards)?|kind[ \t]+regards|regards|sincerely"
                      r"|yours(?:[ \t]+\w+)?|cheers|thanks|many[ \t]+thanks|warm[ \t]+regards"
                      r"|best[ \t]+wishes|respectfully))[ \t]*[,!]?[ \t]*\n[ \t]*"
                      rf"(?P<name>{_CAP_NAME})[ \t]*$"),
        ("dash_signature", rf"(?:^|[ \t])--[ \t]*(?P<name>{_CAP_NAME})[ \t]*$"),
        # a log's user field with a display name: "user=Fatima Zahra El Idrissi action=login"
        ("log_user", r"(?<![\w-])(?i:user(?:[_-]?name)?|display[_-]?name|full[_-]?name)="
                     rf"(?P<name>{_CAP_WORD}"
                     rf"(?:[ \t]+(?:{_PARTICLE}[ \t]+){{0,2}}{_CAP_WORD}){{1,3}})"
                     r"(?=[ \t]+[\w.-]+=|[ \t]*$)"),
    )
)  # fmt: skip


def _has_dashes(text: str) -> bool:
    return "--" in text


# What a text must contain for a cue to match at all, tested first (a substring test, or a
# regex beginning with a literal or a class, which ``re`` finds fast), so that most texts
# skip the cue's own regex.
_CUE_GATES: dict[str, Callable[[str], object]] = {
    # an address in angle brackets
    "display_name": re.compile(r"<[^\s<>@]+@[^\s<>]+>").search,
    # a field's colon (or '='), then the capital the name begins with
    "field": re.compile(rf"[:=][ \t]*(?:\*\*)?[ \t]*[\"']?[{_UPPER}]").search,
    "lower": CaselessWords("name").found_in,  # "my name is"
    "dash_signature": _has_dashes,
    "log_user": CaselessWords("user", "name").found_in,
}
# Words that follow the same cues but are not names ("Dear Customer", "To: All Staff").
_NOT_NAMES = frozenset(
    [
        "customer",
        "customers",
        "sir",
        "madam",
        "team",
        "all",
        "staff",
        "support",
        "everyone",
        "there",
        "world",
        "colleague",
        "colleagues",
        "manager",
        "admin",
        "administrator",
        "friend",
        "friends",
        "guys",
        "folks",
        "user",
        "users",
        "client",
        "clients",
        "valued",
        "hiring",
        "sales",
        "service",
        "services",
        "department",
        "office",
        "company",
        "inc",
        "ltd",
        "llc",
        "gmbh",
        "corp",
        "sorry",
        "glad",
        "happy",
        "here",
        "not",
        "afraid",
        "sure",
        "back",
        "fine",
        "good",
        "great",
        "new",
        "the",
        "a",
        "an",
        "our",
        "your",
        "my",
        "this",
        "that",
        "it",
        "unknown",
        "n/a",
        "none",
        "null",
        "tbd",
        "pending",
        "yes",
        "no",
        "ok",
        "okay",
        "mom",
        "dad",
        "reception",
        "operations",
        "engineering",
        "finance",
        "hr",
        "it",
        "security",
        "it's",
        "morning",
        "evening",
        "afternoon",
        "night",
        "day",
        "week",
        "month",
        "year",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "july",
        "september",
        "october",
        "november",
        "december",
        "i",
        "i'm",
        "im",
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
    ]
)


def _leading_content_words(name: str) -> str:
    from spacy.lang.en.stop_words import STOP_WORDS

    words = name.split()
    for i, word in enumerate(words):
        if word in STOP_WORDS:
            words = words[:i]
            break
    return " ".join(words) if len(words) >= 2 else ""


def _acceptable(name: str) -> bool:
    words = [w.strip(".'’").lower() for w in name.split()]
    from leakguard.pii.name_gate import has_acronym, place_only

    if len(words) > 1 and has_acronym(name):
        return False  # an acronym in it: "MS Crypto API" is no "Ms. ..."
    if place_only(name):
        return False  # "From: Addis Ababa\nTo: Kano" on a ticket
    return bool(words) and not any(w in _NOT_NAMES for w in words) and plausible_name(name)


# Above the NER's 0.85: Presidio keeps the higher-scored of two PERSON results where one
# holds the other, and a cue's name must not give way to the same span read by the NER
# (which then has to pass the name gate the cue does not need).
_CUE_SCORE = 0.9


class LeakGuardNameCueRecognizer(Recognizer):
    """Names the NER may miss, where a cue makes them certain: field labels ("Name:",
    "Patient:"), greetings ("Dear", "Thank you,"), honorifics, "my name is", signatures."""

    ENTITY = "PERSON"

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        found = []
        for kind, pattern in _CUES:
            gate = _CUE_GATES.get(kind)
            if gate is not None and not gate(text):
                continue
            for m in pattern.finditer(text):
                start, end = m.span("name")
                name = text[start:end]
                if kind == "lower":  # "my name is ngozi okafor and ...": stop at "and"
                    name = _leading_content_words(name)
                if _acceptable(name):
                    found.append((start, start + len(name), _CUE_SCORE, f"name_{kind}"))
        return found
