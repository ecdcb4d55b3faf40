"""PII detection around Presidio's ``AnalyzerEngine``, built once, fully offline
(:class:`PIIDetector`: what the guard runs).

The analyzer is built by :mod:`leakguard.pii.analyzer` (recognizers, lean NLP engine and
context enhancer); the spaCy pipeline must be installed or shipped (by default the
name/address NER in ``models/pii-ner``; a missing one raises
:class:`~leakguard.exceptions.ModelNotInstalledError`, see :mod:`leakguard.pii.pipeline`).
leakguard's own recognizers (``leakguard.pii.recognizers``) join Presidio's, and the rules in
:func:`ner_spans` clean up what the NER reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leakguard.config import PATTERN_ONLY, PIIConfig
from leakguard.findings import Finding
from leakguard.pii.deobfuscate import deobfuscate
from leakguard.pii.mentions import mention_spans, name_words
from leakguard.pii.name_finder import (
    codename,
    cued_given_name,
    eponym,
    in_code,
    lexicon_names,
    lone_word_name,
)
from leakguard.pii.name_gate import name_like
from leakguard.pii.recognizers import KIND_KEY
from leakguard.pii.recognizers.ip import personal_ip
from leakguard.pii.recognizers.names import extend_name, plausible_name
from leakguard.pii.recognizers.near_miss import is_near_miss

if TYPE_CHECKING:
    from leakguard.pii.selfcheck import PathReport

__all__ = ["PIIDetector", "ner_spans", "split_lines"]

DETECTOR_NAME = "pii"
_RECOGNIZER_NAME = "recognizer_name"  # presidio RecognizerResult.RECOGNIZER_NAME_KEY
# Labels whose spans never run across a line break (a NER span that does is cut).
_LEXICON_SCORE = 0.7  # a name the lexicons vouch for: below a cue's or the NER's
_SINGLE_LINE = frozenset({"PERSON", "NRP", "ORGANIZATION", "LOCATION"})


class PIIDetector:
    """Finds personal data with Presidio. Built once; ``detect`` is safe to call from threads."""

    name = DETECTOR_NAME

    def __init__(self, config: PIIConfig, *, analyzer: Any | None = None) -> None:
        self.config = config
        # Which analyzer path runs (leakguard.pii.selfcheck); None for a given analyzer.
        self.path_report: PathReport | None = None
        if analyzer is None:
            # Presidio, spaCy: on first use
            from leakguard.pii.selfcheck import checked_analyzer

            analyzer, self.path_report = checked_analyzer(config)
        self._analyzer = analyzer
        self._entities = list(config.entities)
        self._floor = min([config.score_threshold, *config.thresholds.values()])
        self._allow_exact = frozenset(v.casefold() for v in config.allow_list)
        self._allow_patterns = tuple(re.compile(p) for p in config.allow_patterns)
        self._near_misses = config.builtin_recognizers
        self._all_ips = config.ip_addresses == "all"
        self._private_ips = config.ip_addresses == "personal_and_private"
        # Names the NER missed, vouched for by the name lexicons (leakguard.pii.name_gate).
        self._lexicon_names = "PERSON" in self._entities and config.spacy_model != PATTERN_ONLY
        self._lexicon_score = max(_LEXICON_SCORE, config.threshold_for("PERSON"))
        self._person = "PERSON" in self._entities

    @property
    def analyzer(self) -> Any:
        return self._analyzer

    def detect(self, text: str) -> list[Finding]:
        """Findings on ``text``; with ``deobfuscate`` on, found in its normalised view and
        moved back onto ``text`` (:mod:`leakguard.pii.deobfuscate`)."""
        view = deobfuscate(text) if self.config.deobfuscate else None
        seen = view.text if view is not None else text
        results = self._analyzer.analyze(
            text=seen,
            language=self.config.language,
            entities=self._entities,
            score_threshold=self._floor,
        )
        found = self.to_findings(seen, results)
        return view.restore(found) if view is not None else found

    def to_findings(self, text: str, results: Sequence[Any]) -> list[Finding]:
        """Filter Presidio results by threshold and allow lists; convert them to findings.

        NER spans get the rules of :func:`ner_spans` (line breaks, titles, address lines
        without any number nearby); pattern matches glued to other characters or read as
        versions are near misses (``builtin_recognizers``); IP addresses that identify
        nobody (loopback, private, documentation ...) are dropped as ``ip_addresses``
        says.
        """
        kept = [r for r in results if r.score >= self.config.threshold_for(r.entity_type)]
        digit_lines = _address_lines_with_digits(text, kept)
        findings = []
        for result in kept:
            metadata = result.recognition_metadata or {}
            label = result.entity_type
            kind = "ner" if metadata.get(_RECOGNIZER_NAME) == "SpacyRecognizer" else None
            kind = metadata.get(KIND_KEY, kind)
            # Which rule found a secret (e.g. "aws_access_key") helps a reviewer rotate it.
            details = {"kind": kind} if label == "SECRET" and isinstance(kind, str) else {}
            if kind == "ner":
                spans = ner_spans(text, result.start, result.end, label, digit_lines)
            elif label == "PERSON" and result.end > result.start:  # a cue's name: its title too
                spans = [extend_name(text, result.start, result.end)]
            else:
                spans = [(result.start, result.end)] if result.end > result.start else []
            for start, end in spans:
                if self._allowed(text[start:end]):
                    continue
                if self._near_misses and is_near_miss(
                    text, start, end, label, recognizer=metadata.get(_RECOGNIZER_NAME)
                ):
                    continue
                if label == "IP_ADDRESS" and not self._reported_ip(text[start:end]):
                    continue
                findings.append(
                    Finding(
                        detector=DETECTOR_NAME,
                        label=label,
                        start=start,
                        end=end,
                        score=float(result.score),
                        details=details,
                    )
                )
        if self._lexicon_names:
            known = [(f.start, f.end) for f in findings if f.label == "PERSON"]
            findings.extend(self._lexicon_findings(text, known))
        if self._person:
            words = name_words(text, [(f.start, f.end) for f in findings if f.label == "PERSON"])
            findings.extend(self.mentions(text, words, findings))
        return findings

    def mentions(
        self, text: str, words: Mapping[str, int], findings: Sequence[Finding]
    ) -> list[Finding]:
        """Later mentions (:mod:`leakguard.pii.mentions`) of name ``words`` (word -> offset
        in ``text`` from which it counts; negative when seen before it, as a stream keeps
        them) that ``findings`` do not cover."""
        taken = [(f.start, f.end) for f in findings]
        return self._name_findings(text, mention_spans(text, words, taken))

    def _lexicon_findings(self, text: str, known: Sequence[tuple[int, int]]) -> list[Finding]:
        spans = (extend_name(text, a, b) for a, b in lexicon_names(text, known))
        return self._name_findings(text, spans)

    def _name_findings(self, text: str, spans: Iterable[tuple[int, int]]) -> list[Finding]:
        """PERSON findings at the score the lexicons give, without allowed values."""
        return [
            Finding(
                detector=DETECTOR_NAME,
                label="PERSON",
                start=start,
                end=end,
                score=self._lexicon_score,
                details={},
            )
            for start, end in spans
            if not self._allowed(text[start:end])
        ]

    def _reported_ip(self, value: str) -> bool:
        return self._all_ips or personal_ip(value, private_networks=self._private_ips)

    def _allowed(self, value: str) -> bool:
        if value.strip().casefold() in self._allow_exact:
            return True
        return any(p.fullmatch(value) for p in self._allow_patterns)


def ner_spans(
    text: str, start: int, end: int, label: str, digit_lines: Sequence[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    """The spans to report for one NER entity.

    * names never cross a line break (:func:`split_lines`), are never only function words
      ("call me"), one lower-case word or a short acronym, and take in an adjacent title
      or suffix ("Dr.", "Jr."), and must be shaped like a name
      (:func:`leakguard.pii.name_gate.name_like`: a word from the name lexicons, no
      code-like capitals);
    * the NER tags an address one line at a time; a line with no digit ("North Holly") is
      kept only next to an address line that has one (house number or postcode), so a
      stray capitalised line is not reported as an address.
    """
    spans = split_lines(text, start, end, label)
    if label == "PERSON":
        return [
            extend_name(text, a, b)
            for a, b in (_before_lower(text, *_after_label(text, span)) for span in spans)
            if plausible_name(text[a:b])
            and not _lone_word(text[a:b])
            and (
                cued_given_name(text, a, b)
                if lone_word_name(text, a, b)
                else name_like(text[a:b]) or cued_given_name(text, a, b)
            )
            and not eponym(text, b)
            # "Hugo Modules" ... `hugo server`
            and not in_code(text, text[a:b].split(maxsplit=1)[0])
            and not codename(text, a)  # "Project Hermes"
        ]
    if label == "STREET_ADDRESS":
        return [
            (a, b)
            for a, b in spans
            if _near_digit_line(text, a, b, digit_lines) and _address_shaped(text[a:b])
        ]
    return spans


# What an address line never holds: a URL or path, a lower-case word glued to digits
# ("ppc64", "riscv64"), a dotted version number, or the words of a document's structure.
_NOT_ADDRESS = re.compile(
    r"://|/[\w.+-]+/|\b[a-z]{2,}\d+\b|\d+\.\d+\.\d|\b\d+\.(?:\d+|[a-z]+)\b"
    r"|(?i:\b(?:version|release|chapter|section|revision)\b)"
)
# Words of a date: a line holding no other word ("October 26, 2022", "March 1998", "5, 6,
# 7, 8") is no address line.
_MONTHS_AND_DAYS = (
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday"
    " friday saturday sunday mon tue tues wed thu thur thurs fri sat sun"
)
_DATE_WORDS = frozenset(_MONTHS_AND_DAYS.split())
# A dated entry: "Jan 10, 2017: POSIX.1e and NFSv4 ACL support".
_DATE_LEAD = re.compile(
    rf"(?i)^(?:{'|'.join(sorted(_DATE_WORDS, key=len, reverse=True))})\.?[ \t]+\d{{1,2}}"
    r"(?:st|nd|rd|th)?,?[ \t]+(?:19|20)\d{2}\b"
)
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
_HOUSE_NUMBER = re.compile(r"\d{1,5}[A-Za-z]?")


_LOWER_WORD = re.compile(r"(?<![\w-])[a-z]{3,}(?![\w-])")
# Brackets other than a province code ("Roma (RM)"), shell and markup signs, list numbers.
_NOT_ADDRESS_SIGNS = re.compile(
    r"\((?![A-Z]{2,3}\))|(?<!\([A-Z]{2})(?<!\([A-Z]{3})\)|[\[\]{}$&=]|--|^\d+\.\s"
)


def _address_shaped(value: str) -> bool:
    """An address line holds no URL, path, version or code ("ppc64", "43.beta.1", "40.1"),
    no brackets or shell signs; it holds a word that is not a month's or a weekday's
    ("October 26, 2022" and "5, 6, 7, 8" hold none), does not start as a numbered list item
    ("4. Notes"), and, unless it is all in
    lower case, has at most two lower-case words of three letters or more ("Fix PR67590,
    setting objdump macro", "63 lowercase letters, digits, or hyphens" are prose)."""
    if _NOT_ADDRESS.search(value) or _NOT_ADDRESS_SIGNS.search(value):
        return False
    if not _has_address_word(value) or _DATE_LEAD.match(value):
        return False
    return value.islower() or len(_LOWER_WORD.findall(value)) <= 2


def _has_address_word(value: str) -> bool:
    """A word that is not a month's or a weekday's, or a bare house number ("89" above
    "Goyal Ganj, ..."): not a date ("October 26, 2022"), a list ("5, 6, 7, 8") or a
    phone number's line ("+90 501 238 84 83")."""
    if _HOUSE_NUMBER.fullmatch(value.strip()):
        return True
    return not all(w.casefold() in _DATE_WORDS for w in _LETTER_WORD.findall(value))


_LABEL_COLON = re.compile(r"^[^:]*:[ \t]+(?=\S)")


def _after_label(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """A PERSON span without a field label the NER took in ("AI: de Vries", "Owner: X")."""
    a, b = span
    label = _LABEL_COLON.match(text, a, b)
    return (label.end(), b) if label is not None else span


_LOWER_TAIL = re.compile(r"(?:[ \t]+[a-z][a-z'\u2019-]*)+$")


def _before_lower(text: str, start: int, end: int) -> tuple[int, int]:
    """A PERSON span without the lower-case words the NER ran on into ("Parisa Ghorbani
    leads research"): a name ends in a capitalised word."""
    tail = _LOWER_TAIL.search(text, start, end) if text[start:end][:1].isupper() else None
    if tail is None:
        return start, end
    return start, tail.start()


def _lone_word(value: str) -> bool:
    """One lower-case word ("connect") or one short acronym ("IBAN"): the NER's usual false
    alarms; a lower-case name comes with a surname or a cue ("my name is ...")."""
    return " " not in value and (value.islower() or (value.isupper() and len(value) <= 4))


def _address_lines_with_digits(text: str, results: Sequence[Any]) -> list[tuple[int, int]]:
    return [
        (r.start, r.end)
        for r in results
        if r.entity_type == "STREET_ADDRESS"
        and any(c.isdigit() for c in text[r.start : r.end])
        and _has_address_word(text[r.start : r.end])
    ]


def _near_digit_line(
    text: str, start: int, end: int, digit_lines: Sequence[tuple[int, int]]
) -> bool:
    if any(c.isdigit() for c in text[start:end]):
        return True
    for a, b in digit_lines:
        between = text[end:a] if a >= end else text[b:start] if b <= start else ""
        if (a < end and start < b) or (len(between) <= 4 and not between.strip(" \t\n,;|")):
            return True
    return False


def split_lines(text: str, start: int, end: int, label: str) -> list[tuple[int, int]]:
    """The span of one result; a name-like span that crosses line breaks is cut at them,
    and at the cell boundaries of a table or CSV row (a tab, '|', a double quote).

    spaCy's NER sometimes runs a name into the next line ("Jane Doe\\n- E") or the next
    CSV field ('Hanne Solberg,"Thorvald'); the first piece is kept, later ones only if
    they still hold a word of two or more letters.
    """
    if end <= start:
        return []
    if label not in _SINGLE_LINE or _CELL_BREAK.search(text, start, end) is None:
        return [(start, end)]
    spans = []
    offset = start
    for i, piece in enumerate(_CELL_BREAK.split(text[start:end])):
        core = piece.strip(" \t\r-*•|>:,;.")
        if core and (i == 0 or _WORD.search(core)):
            lo = offset + piece.index(core)
            spans.append((lo, lo + len(core)))
        offset += len(piece) + 1
    return spans


# Where a name never runs on: a line break, a tab, a table's '|', a double quote.
_CELL_BREAK = re.compile('[\n\t|"“”]')
_WORD = re.compile(r"[^\W\d_]{2,}")
