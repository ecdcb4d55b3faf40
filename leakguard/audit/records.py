"""Redaction-log records: a :class:`~leakguard.events.ScanEvent` as a PII-free JSON record.

The record is built in the thread that emits the event, so raw values never wait in a queue:
every detected value is replaced by a keyed fingerprint (an AuditKey)
and the context snippet is checked once more so that no detected value survives in it. The
strings a client or an upstream chose (route, model, request id, tenant) are kept only in
the forms :mod:`leakguard.audit.fields` allows. The sinks (:mod:`leakguard.audit.sinks`)
then chain and write it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from leakguard.audit.chain import AuditKey, Record, utc_now
from leakguard.audit.fields import recorded_model, recorded_request_id, recorded_route
from leakguard.config import AuditConfig, LeakGuardConfig
from leakguard.events import ScanEvent
from leakguard.findings import Finding, OutcomeAction

__all__ = ["index_id", "record_from_event", "wants_record"]


def wants_record(event: ScanEvent, config: AuditConfig) -> bool:
    """``record: findings`` keeps every response that is not a clean, fully scanned pass."""
    if config.record == "all":
        return True
    return bool(event.evidence) or event.action is not OutcomeAction.PASS or not event.fully_scanned


@functools.lru_cache(maxsize=16)
def _index_checksum(path: str) -> str:
    from leakguard.exceptions import LeakGuardError
    from leakguard.memorization.bloom import BloomFilter

    try:
        header, _ = BloomFilter.read_header(path)
    except LeakGuardError:
        return "unreadable"
    return header.checksum or "unreadable"


def index_id(config: LeakGuardConfig | None) -> str | None:
    """The checksum of the memorization index the config names (``None``: no index).

    Read once per process and path: the guard maps the file at start-up and keeps that
    mapping, so the first read is the index that serves this process's responses. The
    SOC 2 evidence package joins it to the index built with the model."""
    if config is None or config.memorization.index is None:
        return None
    return _index_checksum(str(Path(config.memorization.index).resolve()))


def _threshold(finding: Finding, config: LeakGuardConfig | None) -> float | None:
    given = finding.details.get("threshold")
    if isinstance(given, int | float):
        return float(given)
    if config is not None and finding.detector == "pii":
        return config.pii.threshold_for(finding.label)
    return None


def _scrub(context: str, values: list[tuple[str, str]]) -> str:
    """Replace any detected value still present in a context snippet (belt and braces)."""
    for label, value in values:
        if value and value in context:
            context = context.replace(value, f"<{label}>")
    return context


def _members(finding: Finding, value: str, key: AuditKey) -> list[Record]:
    """What each merged finding found: its detector, label, span, score, action and the
    fingerprint of its own part of the value (what a reviewer allow-lists)."""
    out: list[Record] = []
    for m in finding.members:
        own = value[m.start - finding.start : m.end - finding.start] if value else ""
        out.append(
            {
                "label": m.label,
                "detector": m.detector,
                "score": round(m.score, 4),
                "start": m.start,
                "end": m.end,
                "action": m.action.value if m.action is not None else None,
                "fingerprint": key.fingerprint(m.label, own) if own else None,
            }
        )
    return out


def record_from_event(
    event: ScanEvent,
    *,
    key: AuditKey,
    config: LeakGuardConfig | None = None,
) -> Record:
    """The PII-free record of one event (not yet chained)."""
    with_context = config.audit.context if config is not None else True
    values = sorted(
        ((e.finding.label, e.value) for e in event.evidence if e.value),
        key=lambda item: -len(item[1]),
    )
    findings = []
    for evidence in event.evidence:
        f = evidence.finding
        item: Record = {
            "label": f.label,
            "detector": f.detector,
            "score": round(f.score, 4),
            "threshold": _threshold(f, config),
            "start": f.start,
            "end": f.end,
            "length": f.length,
            "action": f.action.value if f.action is not None else None,
            "fingerprint": key.fingerprint(f.label, evidence.value) if evidence.value else None,
        }
        if f.members:
            item["members"] = _members(f, evidence.value, key)
        rule = f.details.get("kind")  # which rule found it (a SECRET's kind, "ner")
        if isinstance(rule, str):
            item["rule"] = rule
        header = f.details.get("header")  # found in this response header (its name)
        if isinstance(header, str):
            item["header"] = header
        if with_context and evidence.context:
            item["context"] = _scrub(evidence.context, values)
        findings.append(item)
    return {
        "kind": "event",
        "ts": utc_now(),
        "source": event.source,
        "request_id": recorded_request_id(event.request_id, key),
        "route": recorded_route(event.route),
        "model": recorded_model(event.model),
        "tenant": key.fingerprint("TENANT", event.tenant) if event.tenant else None,
        "action": event.action.value,
        "reason": event.reason,
        "fully_scanned": event.fully_scanned,
        "scan_ms": round(event.scan_ms, 3),
        "text_chars": event.text_chars,
        "policy_version": event.policy_version,
        "index": index_id(config),
        "findings": findings,
    }
