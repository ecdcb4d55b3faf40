"""Immutable result values shared by every detector, the policy and every edge.

Offsets are always absolute character offsets (Python ``str`` indices) into the full
text that was scanned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = ["Action", "Finding", "Outcome", "OutcomeAction", "merge_overlapping"]

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


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected span. Never carries the matched text itself.

    ``action`` and ``replacement`` are empty until the policy has decided.
    ``details`` holds detector-specific numbers a reviewer needs (run length, coverage, …).
    """

    detector: str
    label: str
    start: int
    end: int
    score: float
    action: Action | None = None
    replacement: str | None = None
    details: Mapping[str, float | int | str] = field(default_factory=lambda: _EMPTY, hash=False)

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"a finding needs 0 <= start < end, got {self.start}..{self.end}")

    @property
    def length(self) -> int:
        return self.end - self.start

    # ``dataclasses.replace`` walks the fields on every call (~3.6 us a copy, measured); a
    # response's findings are moved and decided a few times each on the way out.
    def moved(self, start: int, end: int) -> Finding:
        """This finding at ``start..end`` (itself when it is there already)."""
        if start == self.start and end == self.end:
            return self
        return Finding(
            self.detector,
            self.label,
            start,
            end,
            self.score,
            self.action,
            self.replacement,
            self.details,
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
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view without any text from the scanned input."""
        out: dict[str, object] = {
            "label": self.label,
            "detector": self.detector,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }
        if self.action is not None:
            out["action"] = self.action.value
        if self.details:
            out["details"] = dict(self.details)
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


def _rank(finding: Finding) -> tuple[int, float, int, int]:
    severity = _SEVERITY[finding.action] if finding.action is not None else 0
    return (severity, finding.score, finding.length, -finding.start)


def merge_overlapping(findings: Iterable[Finding]) -> list[Finding]:
    """Merge overlapping findings with one rule; return them sorted by start.

    Findings whose spans overlap (share at least one character) form a cluster. Each
    cluster becomes one finding spanning the union of its members. It takes detector,
    label, score, action and details from the member that ranks first by: strictest
    action (block > redact > hash > mask > allow), then highest score, then longest
    span, then earliest start. Touching spans (one ends where the next starts) are not
    merged, so two adjacent values keep their own placeholders.
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
    winner = max(cluster, key=_rank)
    return Finding(
        detector=winner.detector,
        label=winner.label,
        start=min(f.start for f in cluster),
        end=max(f.end for f in cluster),
        score=winner.score,
        action=winner.action,
        details=winner.details,
    )
