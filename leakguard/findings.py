"""Immutable result values shared by every detector, the policy and every edge.

Offsets are always absolute character offsets (Python ``str`` indices) into the full
text that was scanned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "Action",
    "Finding",
    "Member",
    "Outcome",
    "OutcomeAction",
    "join_lines",
    "label_rank",
    "merge_overlapping",
]

_EMPTY: Mapping[str, float | int | str] = MappingProxyType({})


class Action(StrEnum):
    """What the policy does with one finding."""

    REDACT = "redact"  # typed placeholder, e.g. <EMAIL_ADDRESS> or <PERSON_2>
    MASK = "mask"  # keep the last N characters: ************4242
    HASH = "hash"  # keyed HMAC-SHA256 fingerprint: <EMAIL_ADDRESS:3f9a0c1d2b4e>
    ALLOW = "allow"  # keep the text, record the finding
    BLOCK = "block"  # replace the whole response with the configured message


class OutcomeAction(StrEnum):
    """What happened to a whole response."""

    PASS = "pass"  # noqa: S105  (not a password) delivered unchanged (possibly with allowed findings recorded)
    REDACT = "redact"  # delivered with at least one span rewritten
    BLOCK = "block"  # replaced by the block message


# Strictest first. Used to pick the action of merged (overlapping) findings.
_SEVERITY: Mapping[Action, int] = {
    Action.BLOCK: 4,
    Action.REDACT: 3,
    Action.HASH: 2,
    Action.MASK: 1,
    Action.ALLOW: 0,
}


# Which label names a merged span (its placeholder), among the members that carry the
# strictest action; lower ranks first. Memorized training text outranks every PII label (a
# passage is one leak, whatever names it holds); then identifiers and secrets (every label
# not named below, custom recognizers' included), then contact points, then what a NER
# model names; text the index marks as boilerplate (allowed by default) comes last.
MEMORIZATION_DETECTOR = "memorization"
BOILERPLATE_LABEL = "BOILERPLATE"
_CONTACT_LABELS = frozenset(
    {"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "URL", "STREET_ADDRESS"}
)
_NER_LABELS = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME"})


def label_rank(detector: str, label: str) -> int:
    """The placeholder priority of a label (0 first): memorized text 0, identifiers and
    secrets 1, contact points 2, names, places and dates 3, boilerplate 4."""
    if label == BOILERPLATE_LABEL:
        return 4
    if detector == MEMORIZATION_DETECTOR:
        return 0
    if label in _CONTACT_LABELS:
        return 2
    if label in _NER_LABELS:
        return 3
    return 1


@dataclass(frozen=True, slots=True)
class Member:
    """One detector's finding inside a merged :class:`Finding`: who found what, where
    (absolute offsets) and what the policy chose for it on its own."""

    detector: str
    label: str
    start: int
    end: int
    score: float
    action: Action | None = None

    def shifted(self, shift: int, lo: int, hi: int) -> Member:
        """This member moved by ``shift`` and kept inside ``lo..hi`` (never empty)."""
        start = min(max(self.start + shift, lo), hi - 1)
        end = max(min(self.end + shift, hi), start + 1)
        return Member(self.detector, self.label, start, end, self.score, self.action)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "label": self.label,
            "detector": self.detector,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }
        if self.action is not None:
            out["action"] = self.action.value
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected span. Never carries the matched text itself.

    ``action`` and ``replacement`` are empty until the policy has decided.
    ``details`` holds detector-specific numbers a reviewer needs (run length, coverage, …).
    ``members`` is empty for what one detector found; a merged finding (overlapping
    findings redacted as one span) lists every finding it merged, each with its own
    detector and label, so no label is lost (see :func:`merge_overlapping`).
    """

    detector: str
    label: str
    start: int
    end: int
    score: float
    action: Action | None = None
    replacement: str | None = None
    details: Mapping[str, float | int | str] = field(default_factory=lambda: _EMPTY, hash=False)
    members: tuple[Member, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"a finding needs 0 <= start < end, got {self.start}..{self.end}")

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def parts(self) -> tuple[Member, ...]:
        """The findings this one stands for: its members, or itself as the only one."""
        return self.members or (self._own(),)

    def _own(self) -> Member:
        return Member(self.detector, self.label, self.start, self.end, self.score, self.action)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label of its parts, each once, in priority order (its own first)."""
        ordered = sorted(self.parts, key=lambda m: (label_rank(m.detector, m.label), -m.score))
        return tuple(dict.fromkeys([self.label, *(m.label for m in ordered)]))

    # ``dataclasses.replace`` walks the fields on every call (~3.6 us a copy, measured); a
    # response's findings are moved and decided a few times each on the way out.
    def moved(self, start: int, end: int) -> Finding:
        """This finding at ``start..end`` (itself when it is there already). Its members
        move by as much as its start does, kept inside the new span."""
        if start == self.start and end == self.end:
            return self
        members = self.members
        if members:
            members = tuple(m.shifted(start - self.start, start, end) for m in members)
        return Finding(
            self.detector,
            self.label,
            start,
            end,
            self.score,
            self.action,
            self.replacement,
            self.details,
            members,
        )

    def decided(self, action: Action | None, replacement: str | None) -> Finding:
        """This finding with the policy's ``action`` and ``replacement``."""
        if action is self.action and replacement == self.replacement:
            return self
        return Finding(
            self.detector,
            self.label,
            self.start,
            self.end,
            self.score,
            action,
            replacement,
            self.details,
            self.members,
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view without any text from the scanned input."""
        out = self._own().to_dict()  # the same keys as each member's view
        if self.details:
            out["details"] = dict(self.details)
        if self.members:
            out["members"] = [m.to_dict() for m in self.members]
        return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of guarding one text: what to deliver and why."""

    action: OutcomeAction
    text: str
    findings: tuple[Finding, ...]
    reason: str | None = None  # why it was blocked, e.g. "label:US_SSN" or "max_findings:5"

    @property
    def blocked(self) -> bool:
        return self.action is OutcomeAction.BLOCK


def _severity(action: Action | None) -> int:
    return _SEVERITY[action] if action is not None else 0


def _rank(f: Finding | Member) -> tuple[int, int, float, int, int]:
    return (
        _severity(f.action),
        -label_rank(f.detector, f.label),
        f.score,
        f.end - f.start,
        -f.start,
    )


def merge_overlapping(findings: Iterable[Finding]) -> list[Finding]:
    """Merge overlapping findings with one rule; return them sorted by start.

    Findings whose spans overlap (share at least one character) form a cluster. Each
    cluster becomes one finding spanning the union of its members, redacted once. It takes
    the strictest action of its members (block > redact > hash > mask > allow); among the
    members with that action, the one that ranks first gives detector, label (and so the
    placeholder), score and details: the label priority first (:func:`label_rank`:
    memorized text, identifiers, contact points, NER names, boilerplate), then highest
    score, then longest span, then earliest start. ``members`` keeps every merged finding
    with its own detector, label, span, score and action. Touching spans (one ends where
    the next starts) are not merged, so two adjacent values keep their own placeholders.
    """
    ordered = sorted(findings, key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    cluster: list[Finding] = []
    cluster_end = -1
    for finding in ordered:
        if cluster and finding.start >= cluster_end:
            merged.append(_merge_cluster(cluster))
            cluster = []
        cluster.append(finding)
        cluster_end = max(cluster_end, finding.end) if len(cluster) > 1 else finding.end
    if cluster:
        merged.append(_merge_cluster(cluster))
    return merged


def _merge_cluster(cluster: list[Finding]) -> Finding:
    if len(cluster) == 1:
        return cluster[0]
    lead = max(cluster, key=_rank)
    # Two rules of one detector finding the same span with the same label are one member.
    best: dict[tuple[str, str, int, int], Member] = {}
    for m in (m for f in cluster for m in f.parts):
        key = (m.detector, m.label, m.start, m.end)
        if key not in best or m.score > best[key].score:
            best[key] = m
    members = tuple(best.values())
    if len({(m.detector, m.label) for m in members}) == 1:
        members = ()  # one detector, one label: the merged span says all the members say
    return Finding(
        detector=lead.detector,
        label=lead.label,
        start=min(f.start for f in cluster),
        end=max(f.end for f in cluster),
        score=lead.score,
        action=lead.action,
        details=lead.details,
        members=members,
    )


# Labels whose one value may run over several lines: a postal address is written one line
# per part, and a detector may find each line on its own (the NER model does).
MULTILINE_LABELS = frozenset({"STREET_ADDRESS"})
# What may lie between two lines of one value: one line break, with spaces or a comma.
_LINE_GAP = re.compile(r"[ \t,;]*\r?\n[ \t]*")


def join_lines(
    text: str, findings: Iterable[Finding], *, labels: frozenset[str] = MULTILINE_LABELS
) -> list[Finding]:
    """Findings of a multi-line label (``MULTILINE_LABELS``) on consecutive lines of
    ``text``, with nothing but one line break (and spaces or a comma) between them, become
    one finding: one address, one placeholder, one pseudonym. A blank line or any other
    text between two of them keeps them apart. Other findings are returned as they are."""
    joinable = sorted((f for f in findings if f.label in labels), key=lambda f: f.start)
    out = [f for f in findings if f.label not in labels]
    run: Finding | None = None
    for finding in joinable:
        if (
            run is not None
            and run.label == finding.label
            and run.end <= finding.start
            and _LINE_GAP.fullmatch(text, run.end, finding.start)
        ):
            run = _joined(run, finding)
            continue
        if run is not None:
            out.append(run)
        run = finding
    if run is not None:
        out.append(run)
    return out


def _joined(first: Finding, second: Finding) -> Finding:
    lead = max((first, second), key=_rank)
    return Finding(
        detector=lead.detector,
        label=lead.label,
        start=first.start,
        end=second.end,
        score=lead.score,
        action=lead.action,
        details=lead.details,
        members=first.parts + second.parts,
    )
