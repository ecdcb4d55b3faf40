"""One streaming pass over the redaction log: every operating figure of the period.

Reads records unverified and in constant memory (besides the per-day, per-hour and
per-label tallies and the sample); :mod:`.integrity` checks the chain separately. Only
records whose ``ts`` falls in the period are counted; every record is looked at for the
per-stream extent (which streams the chain check must cover) and for ``--anchor``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.audit.evidence.sampling import Sampler
from leakguard.audit.evidence.schema import Period
from leakguard.audit.verify import iter_records

__all__ = ["DayCounts", "LogTally", "StreamExtent", "Usage", "tally_log"]

Record = dict[str, Any]


@dataclass(slots=True)
class StreamExtent:
    """Where one stream starts and ends in time, over the whole log."""

    first_ts: str = ""
    last_ts: str = ""
    records: int = 0
    last_seq: int = -1
    last_hash: str = ""


@dataclass(slots=True)
class Usage:
    """When a config fingerprint, an index or a key was in use, and for how many records."""

    first: str
    last: str
    records: int = 0
    streams: set[str] = field(default_factory=set)

    def seen(self, ts: str, stream: str) -> None:
        self.first = min(self.first, ts)
        self.last = max(self.last, ts)
        self.records += 1
        self.streams.add(stream)

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "records": self.records,
            "streams": len(self.streams),
        }


@dataclass(slots=True)
class DayCounts:
    guarded: int = 0
    fully_scanned: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    findings: int = 0


@dataclass(slots=True)
class LogTally:
    """Everything the pass counted. Keys of counters are closed-set names, never values."""

    records: int = 0  # counted records (events and verdicts) in the period
    guarded: int = 0  # events
    fully_scanned: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    days: dict[str, DayCounts] = field(default_factory=dict)
    hours: Counter[str] = field(default_factory=Counter)
    findings: dict[str, Counter[str]] = field(default_factory=dict)  # label -> action -> n
    fail_closed: Counter[str] = field(default_factory=Counter)
    policy_blocks: Counter[str] = field(default_factory=Counter)
    passed_unscanned: Counter[str] = field(default_factory=Counter)
    audit_refusals: int = 0
    sources: Counter[str] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)
    configs: dict[str, Usage] = field(default_factory=dict)
    config_routes: dict[str, Counter[str]] = field(default_factory=dict)
    indexes: dict[str, Usage] = field(default_factory=dict)  # "" = no index loaded
    keys: dict[str, Usage] = field(default_factory=dict)
    segments: int = 0
    log_rotations: int = 0
    streams_in_period: set[str] = field(default_factory=set)
    extents: dict[str, StreamExtent] = field(default_factory=dict)
    verdicts: list[Record] = field(default_factory=list)
    anchor_hits: dict[tuple[str, int], str] = field(default_factory=dict)
    unparsed: int = 0  # records without a usable ts or kind
    first: Record | None = None  # the earliest counted record of the period
    last: Record | None = None  # the latest


def _brief(record: Record) -> Record:
    return {name: record.get(name) for name in ("stream", "seq", "ts", "kind", "hash")}


def _use(table: dict[str, Usage], name: str, ts: str, stream: str) -> None:
    usage = table.get(name)
    if usage is None:
        table[name] = usage = Usage(ts, ts)
    usage.seen(ts, stream)


def _fail_closed(record: Record) -> bool:
    """A block the guard chose because it could not scan, not because of a finding."""
    reason = str(record.get("reason") or "")
    policy = reason.startswith(("action:", "label:", "max_findings:"))
    return not policy


def _event(tally: LogTally, record: Record, ts: str, stream: str) -> None:
    action = str(record.get("action"))
    scanned = record.get("fully_scanned") is True
    reason = str(record.get("reason") or "none")[:64]
    tally.guarded += 1
    tally.actions[action] += 1
    tally.fully_scanned += scanned
    day = tally.days.get(ts[:10])
    if day is None:
        tally.days[ts[:10]] = day = DayCounts()
    day.guarded += 1
    day.fully_scanned += scanned
    day.actions[action] += 1
    tally.sources[str(record.get("source"))] += 1
    route = record.get("route")
    if route is not None:
        tally.routes[str(route)] += 1
    fingerprint = str(record.get("policy_version"))
    _use(tally.configs, fingerprint, ts, stream)
    if route is not None:
        tally.config_routes.setdefault(fingerprint, Counter())[str(route)] += 1
    if record.get("source") == "middleware":
        _use(tally.indexes, str(record.get("index") or ""), ts, stream)
    if action == "block":
        if _fail_closed(record):
            tally.fail_closed[reason] += 1
        else:
            tally.policy_blocks[reason] += 1
    elif not scanned:
        tally.passed_unscanned[reason] += 1
    if reason == "audit_refused":
        tally.audit_refusals += 1
    for finding in record.get("findings") or ():
        label = str(finding.get("label"))
        tally.findings.setdefault(label, Counter())[str(finding.get("action"))] += 1
        day.findings += 1


def _verdict(tally: LogTally, record: Record, ts: str) -> None:
    target = record.get("target") or {}
    tally.verdicts.append(
        {
            "ts": ts,
            "reviewer": str(record.get("reviewer")),
            "verdict": str(record.get("verdict")),
            "target": {"stream": target.get("stream"), "seq": target.get("seq")},
            "labels": sorted({str(f.get("label")) for f in record.get("findings") or ()}),
            "fingerprints": [f.get("fingerprint") for f in record.get("findings") or ()],
            # The comment is free text a reviewer typed: its length only.
            "comment_chars": len(str(record.get("comment") or "")),
        }
    )


def tally_log(
    paths: Iterable[str | Path],
    period: Period,
    *,
    sampler: Sampler,
    anchors: Mapping[tuple[str, int], str] | None = None,
) -> LogTally:
    """Count the period's records under ``paths`` (see the module docstring)."""
    tally = LogTally()
    wanted = anchors or {}
    for record in iter_records(paths):
        ts, stream, kind = record.get("ts"), record.get("stream"), record.get("kind")
        if not isinstance(ts, str) or not isinstance(stream, str):
            tally.unparsed += 1
            continue
        extent = tally.extents.get(stream)
        if extent is None:
            tally.extents[stream] = extent = StreamExtent(ts, ts)
        extent.first_ts, extent.last_ts = min(extent.first_ts, ts), max(extent.last_ts, ts)
        extent.records += 1
        seq = record.get("seq")
        if isinstance(seq, int) and seq > extent.last_seq:
            extent.last_seq, extent.last_hash = seq, str(record.get("hash"))
        if wanted and isinstance(seq, int) and (stream, seq) in wanted:
            tally.anchor_hits[(stream, seq)] = str(record.get("hash"))
        if not period.contains(ts):
            continue
        tally.streams_in_period.add(stream)
        if kind == "segment":
            tally.segments += 1
            _use(tally.keys, str(record.get("key_id")), ts, stream)
            continue
        if kind == "seal":
            tally.log_rotations += record.get("reason") == "rotate"
            continue
        if kind not in ("event", "verdict"):
            tally.unparsed += 1
            continue
        tally.records += 1
        tally.hours[ts[:13]] += 1
        if tally.first is None or ts < str(tally.first["ts"]):
            tally.first = _brief(record)
        if tally.last is None or ts >= str(tally.last["ts"]):
            tally.last = _brief(record)
        sampler.offer(record)
        if kind == "event":
            _event(tally, record, ts, stream)
        else:
            _verdict(tally, record, ts)
    return tally
