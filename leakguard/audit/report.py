"""What privacy officers read out of a redaction log: summary, export, import, allow-list.

Everything here works on records (plain dicts) from :func:`leakguard.audit.verify.iter_records`,
so it serves JSON Lines directories and SQLite databases alike.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from leakguard.audit.chain import canonical
from leakguard.audit.db import RecordFilter, connect, insert
from leakguard.audit.verify import read

__all__ = [
    "CSV_COLUMNS",
    "Summary",
    "VerdictIndex",
    "allowlist_yaml",
    "export",
    "import_logs",
    "latest_verdicts",
    "summarize",
]

Record = dict[str, Any]
VERDICTS = ("confirmed_leak", "false_positive")


@dataclass(frozen=True, slots=True)
class Summary:
    records: int
    findings: int
    by_action: dict[str, int] = field(default_factory=dict)
    by_label: dict[str, int] = field(default_factory=dict)
    by_route: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    by_day: dict[str, int] = field(default_factory=dict)
    by_verdict: dict[str, int] = field(default_factory=dict)
    not_fully_scanned: int = 0
    # (label, fingerprint, findings, responses): one value leaking again and again.
    top_fingerprints: list[tuple[str, str, int, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            name: getattr(self, name) for name in self.__slots__ if name != "top_fingerprints"
        }
        out["top_fingerprints"] = [
            {"label": label, "fingerprint": fp, "findings": n, "responses": r}
            for label, fp, n, r in self.top_fingerprints
        ]
        return out


def summarize(
    records: Iterable[Record], *, where: RecordFilter | None = None, top: int = 10
) -> Summary:
    """Counts by action, label, route, model and day, and the most repeated fingerprints."""
    where = where or RecordFilter()
    counts: dict[str, Counter[str]] = {
        name: Counter() for name in ("action", "label", "route", "model", "day")
    }
    fingerprints: Counter[tuple[str, str]] = Counter()
    responses: Counter[tuple[str, str]] = Counter()
    verdicts: list[Record] = []
    total = findings = partial = 0
    for record in records:
        if record.get("kind") == "verdict":
            verdicts.append(record)
            continue
        if not where.matches(record):
            continue
        total += 1
        partial += not record.get("fully_scanned", True)
        counts["action"][record.get("action") or "?"] += 1
        counts["route"][record.get("route") or "-"] += 1
        counts["model"][record.get("model") or "-"] += 1
        counts["day"][str(record.get("ts", ""))[:10]] += 1
        seen: set[tuple[str, str]] = set()
        for finding in record.get("findings") or ():
            findings += 1
            # Each label of a merged span once (a PERSON inside a MEMORIZED passage: both).
            members = finding.get("members") or ()
            counts["label"].update({finding["label"], *(m["label"] for m in members)})
            if finding.get("fingerprint"):
                pair = (finding["label"], finding["fingerprint"])
                fingerprints[pair] += 1
                seen.add(pair)
        responses.update(seen)
    by_verdict = Counter(v["verdict"] for v in latest_verdicts(verdicts).values())
    return Summary(
        records=total,
        findings=findings,
        by_action=dict(counts["action"].most_common()),
        by_label=dict(counts["label"].most_common()),
        by_route=dict(counts["route"].most_common()),
        by_model=dict(counts["model"].most_common()),
        by_day=dict(sorted(counts["day"].items())),
        by_verdict=dict(by_verdict),
        not_fully_scanned=partial,
        top_fingerprints=[
            (label, fp, n, responses[(label, fp)])
            for (label, fp), n in fingerprints.most_common(top)
            if n > 1
        ],
    )


def latest_verdicts(verdicts: Iterable[Record]) -> dict[tuple[str, int, int | None], Record]:
    """The verdict that stands for each (stream, seq, finding): the latest one."""
    out: dict[tuple[str, int, int | None], Record] = {}
    for verdict in sorted(verdicts, key=lambda v: str(v.get("ts", ""))):
        target = verdict.get("target") or {}
        out[(str(target.get("stream")), int(target.get("seq", -1)), verdict.get("finding"))] = (
            verdict
        )
    return out


class VerdictIndex:
    """The verdicts that stand, for looking records up: a verdict on a finding, or on the
    whole record, and a verdict on a value (its keyed fingerprint) for every record where
    that value was found again."""

    def __init__(self, verdicts: Iterable[Record]) -> None:
        self._own = latest_verdicts(verdicts)
        self._by_value: dict[tuple[str, str], str] = {}
        for verdict in sorted(self._own.values(), key=lambda v: str(v.get("ts", ""))):
            for finding in verdict.get("findings") or ():
                if finding.get("fingerprint"):
                    self._by_value[(finding["label"], finding["fingerprint"])] = verdict["verdict"]
        self.verdicts = list(self._own.values())

    def for_finding(self, record: Record, index: int) -> tuple[str, str] | None:
        """(verdict, how): how is "finding", "record" or "fingerprint" (another record's
        verdict on the same value)."""
        where = (str(record.get("stream")), int(record.get("seq", -1)))
        for finding, how in ((index, "finding"), (None, "record")):
            own = self._own.get((*where, finding))
            if own is not None:
                return str(own["verdict"]), how
        found = (record.get("findings") or [])[index]
        by_value = self._by_value.get((found["label"], found.get("fingerprint") or ""))
        return (by_value, "fingerprint") if by_value else None

    def for_record(self, record: Record) -> tuple[str, str] | None:
        """The record's standing verdict: its own latest, else a confirmed leak found on
        any of its values, else a false positive on all of them."""
        where = (str(record.get("stream")), int(record.get("seq", -1)))
        own = [v for k, v in self._own.items() if k[:2] == where]
        if own:
            latest = max(own, key=lambda v: str(v.get("ts", "")))
            return str(latest["verdict"]), "record"
        found = [self.for_finding(record, i) for i in range(len(record.get("findings") or ()))]
        if ("confirmed_leak", "fingerprint") in found:
            return "confirmed_leak", "fingerprint"
        if found and all(f == ("false_positive", "fingerprint") for f in found):
            return "false_positive", "fingerprint"
        return None


CSV_COLUMNS = (
    "ts",
    "stream",
    "seq",
    "source",
    "request_id",
    "route",
    "model",
    "tenant",
    "action",
    "reason",
    "fully_scanned",
    "scan_ms",
    "policy_version",
    "finding",
    "label",
    "detector",
    "score",
    "threshold",
    "start",
    "end",
    "fingerprint",
    "context",
    "verdict",
    "verdict_by",
)
_FINDING_COLUMNS = CSV_COLUMNS[14:-2]


def _csv_rows(record: Record, verdicts: VerdictIndex) -> Iterator[dict[str, object]]:
    """One row per finding (one row with empty finding columns if there are none), with
    the verdict that stands for it and how it was given (finding, record, fingerprint)."""
    base = {name: record.get(name) for name in CSV_COLUMNS[:13]}
    found = record.get("findings") or []
    if not found:
        standing = verdicts.for_record(record)
        yield base | dict(zip(("verdict", "verdict_by"), standing or (None, None), strict=True))
    for i, finding in enumerate(found):
        standing = verdicts.for_finding(record, i)
        yield (
            base
            | {"finding": i}
            | {name: finding.get(name) for name in _FINDING_COLUMNS}
            | dict(zip(("verdict", "verdict_by"), standing or (None, None), strict=True))
        )


def export(
    records: Iterable[Record],
    out: TextIO,
    *,
    fmt: str,
    where: RecordFilter,
    verdicts: Iterable[Record] = (),
) -> int:
    """Write matching event records as CSV (one row per finding, with its verdict) or
    JSON Lines (the chained records as they are, each followed by the verdict records
    about it, so the export still verifies). Returns the number of event records."""
    index = VerdictIndex(verdicts)
    about: dict[tuple[str, int], list[Record]] = {}
    for verdict in index.verdicts:
        target = verdict.get("target") or {}
        about.setdefault((str(target.get("stream")), int(target.get("seq", -1))), []).append(
            verdict
        )
    count = 0
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for record in records:
        if not where.matches(record):
            continue
        count += 1
        if writer is None:
            out.write(canonical(record) + "\n")
            for verdict in about.get((str(record.get("stream")), int(record["seq"])), ()):
                out.write(canonical(verdict) + "\n")
        else:
            writer.writerows(_csv_rows(record, index))
    return count


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    duplicates: int
    unreadable: list[str]


def import_logs(paths: Iterable[str | Path], db: str | Path) -> ImportResult:
    """Copy JSON Lines records into a database, chain fields intact, in one transaction.

    Records already there (same stream and seq) are skipped, so importing twice is safe.
    Unreadable lines are listed, not imported; run ``leakguard audit verify`` on either side.
    """
    conn = connect(db)
    imported = duplicates = 0
    unreadable: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for entries in read(paths).values():
            for entry in entries:
                if entry.record is None:
                    unreadable.append(f"{entry.where}: {entry.error}")
                elif insert(conn, entry.record, canonical(entry.record)):
                    imported += 1
                else:
                    duplicates += 1
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return ImportResult(imported, duplicates, unreadable)


def allowlist_yaml(records: Iterable[Record]) -> str:
    """A ``pii.allow_fingerprints`` snippet from the standing false-positive verdicts."""
    verdicts = [r for r in records if r.get("kind") == "verdict"]
    entries: dict[str, str] = {}
    for verdict in latest_verdicts(verdicts).values():
        if verdict.get("verdict") != "false_positive":
            continue
        target = verdict.get("target") or {}
        for finding in verdict.get("findings") or ():
            if finding.get("fingerprint"):
                entries.setdefault(
                    finding["fingerprint"],
                    f"{finding['label']}, false positive ({target.get('stream')}#"
                    f"{target.get('seq')}, {str(verdict.get('ts', ''))[:10]})",
                )
    out = io.StringIO()
    out.write("# Paste under the `pii:` section. The fingerprints are keyed with the\n")
    out.write("# audit.fingerprint_key that wrote the log; keep that key in the config.\n")
    out.write("pii:\n  allow_fingerprints:\n" if entries else "pii:\n  allow_fingerprints: []\n")
    for fingerprint, note in sorted(entries.items(), key=lambda item: item[1]):
        out.write(f"    - {json.dumps(fingerprint)}  # {note}\n")
    return out.getvalue()
