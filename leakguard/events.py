"""What the guard did to one text, handed from the scanning edges to the redaction log.

Producers (``leakguard scan``, the middleware, the sanitizer) build a :class:`ScanEvent`
per guarded response and give it to an :class:`EventSink`. The event lives only inside
the process: ``FindingEvidence.value`` is the raw detected value, which the audit layer
turns into a keyed fingerprint and then drops. Nothing here is ever serialized as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from leakguard.findings import Finding, OutcomeAction

__all__ = ["EventSink", "FindingEvidence", "ScanEvent", "context_snippet", "evidence_for"]

CONTEXT_CHARS = 40


@dataclass(frozen=True, slots=True)
class FindingEvidence:
    """In-process evidence for one finding. ``value`` must never be written anywhere."""

    finding: Finding
    value: str = ""
    context: str = ""  # redacted snippet: this finding and its neighbours as placeholders

    def __repr__(self) -> str:  # keep the raw value out of tracebacks and debug logs
        return f"FindingEvidence(finding={self.finding!r}, value=<{len(self.value)} chars>)"


@dataclass(frozen=True, slots=True)
class ScanEvent:
    """One guarded response (or corpus record), as the audit layer receives it."""

    source: str  # "middleware" | "scan" | "sanitize" | ...
    request_id: str
    action: OutcomeAction
    evidence: tuple[FindingEvidence, ...]
    policy_version: str
    fully_scanned: bool = True
    reason: str | None = None  # why blocked / why not fully scanned
    route: str | None = None
    model: str | None = None
    tenant: str | None = None  # raw header value: the audit layer stores only a fingerprint
    scan_ms: float = 0.0
    text_chars: int = 0

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(e.finding for e in self.evidence)

    def __repr__(self) -> str:
        return (
            f"ScanEvent(source={self.source!r}, request_id={self.request_id!r}, "
            f"action={self.action.value!r}, findings={len(self.evidence)})"
        )


@runtime_checkable
class EventSink(Protocol):
    """Receives scan events. ``emit`` returns False when it could not accept the event
    (queue full, sink failed): the caller then applies its fail action (block by default)."""

    def emit(self, event: ScanEvent) -> bool: ...

    def close(self) -> None: ...


def context_snippet(
    text: str, findings: Sequence[Finding], index: int, *, width: int = CONTEXT_CHARS
) -> str:
    """Up to ``width`` characters either side of ``findings[index]``, cut at word
    boundaries (a reviewer reads whole words; a cut is marked with ``…``), with every
    finding that falls in the window replaced by ``<LABEL>`` (cut ones too)."""
    target = findings[index]
    lo, hi = max(0, target.start - width), min(len(text), target.end + width)
    if lo > 0 and not text[lo - 1].isspace():  # starts inside a word: from the next one
        space = next((i for i in range(lo, target.start) if text[i].isspace()), None)
        lo = space + 1 if space is not None else lo
    if hi < len(text) and not text[hi].isspace():  # ends inside a word: before it
        space = next((i for i in range(hi - 1, target.end - 1, -1) if text[i].isspace()), None)
        hi = space if space is not None else hi
    pieces: list[str] = []
    cursor = lo
    for f in sorted(findings, key=lambda x: x.start):
        if f.end <= lo or f.start >= hi:
            continue
        start = max(f.start, cursor)
        if start > cursor:
            pieces.append(text[cursor:start])
        pieces.append(f"<{f.label}>")
        cursor = max(cursor, min(f.end, hi))
    pieces.append(text[cursor:hi])
    snippet = "".join(pieces).replace("\n", " ").strip()
    return ("…" if lo > 0 else "") + snippet + ("…" if hi < len(text) else "")


def evidence_for(text: str, findings: Sequence[Finding]) -> tuple[FindingEvidence, ...]:
    """Evidence for each finding of an outcome on ``text`` (offsets into ``text``)."""
    return tuple(
        FindingEvidence(f, text[f.start : f.end], context_snippet(text, findings, i))
        for i, f in enumerate(findings)
    )
