"""Read redaction logs (JSON Lines segments or SQLite) and check their hash chains.

:func:`verify` finds, per stream, and says where:

* **edited** records (a record no longer matches its keyed hash; a SQLite column no longer
  matches the record it was copied from),
* **deleted** records or whole segments (gaps in ``seq``),
* **re-ordered** or duplicated records (``seq`` going backwards),
* **truncated** streams (no closing seal, a seal whose count disagrees, a cut-off line),
* records that are not chained to their predecessor.

A stream still being written has no closing seal yet: when its writer holds the stream's
live lock (:mod:`leakguard.audit.live`) it is reported as open, not truncated; ``allow_open``
treats every unsealed stream so (for copies of a log whose writers cannot be asked).
Cutting records off the end of an *open* stream cannot be told apart
from a writer that has not written them yet; anchor each stream's ``head`` elsewhere (it is
printed by ``leakguard audit verify``) to close that gap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.audit.chain import GENESIS, AuditKey, canonical
from leakguard.audit.db import COPIED, connect, labels_of
from leakguard.audit.live import live_streams
from leakguard.exceptions import AuditLogError

__all__ = ["Entry", "Problem", "StreamReport", "VerifyReport", "iter_records", "read", "verify"]

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored record, or the error reading it, with where it was found."""

    where: str  # "path:line" or "path#row"
    stream: str
    record: Record | None
    error: str | None = None
    columns: dict[str, Any] | None = None  # SQLite copies of body fields


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # edited | deleted | reordered | duplicated | broken | truncated | malformed | key
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class StreamReport:
    stream: str
    records: int
    segments: int
    first_ts: str | None
    last_ts: str | None
    head: str  # hash of the last record: anchor it elsewhere to detect tail truncation
    sealed: bool
    live: bool = False  # its writer is running now (an unsealed live stream is open)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    streams: tuple[StreamReport, ...]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


# -- reading ----------------------------------------------------------------------------


def _jsonl_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.jsonl"))
    if path.is_file():
        return [path]
    raise AuditLogError(f"no such log file or directory: {str(path)!r}")


def _is_sqlite(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def _read_jsonl(path: Path) -> list[Entry]:
    raw: list[tuple[str, Record | None, str | None]] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            where = f"{path}:{number}"
            if not line.endswith(b"\n"):
                raw.append((where, None, "incomplete last line: the file was cut off"))
                continue
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raw.append((where, None, "not a JSON record: damaged or edited by hand"))
                continue
            if not isinstance(record, dict):
                raw.append((where, None, "not a JSON object"))
                continue
            raw.append((where, record, None))
    streams = Counter(r.get("stream") for _, r, _ in raw if r is not None)
    stream = str(streams.most_common(1)[0][0]) if streams else f"?{path.name}"
    return [Entry(where, stream, record, error) for where, record, error in raw]


def _read_sqlite(path: Path) -> list[Entry]:
    try:
        conn = connect(path, create=False)
        rows = conn.execute("SELECT * FROM records ORDER BY id").fetchall()
        indexed: dict[int, list[tuple[str, str | None]]] = {}
        for f in conn.execute("SELECT * FROM findings ORDER BY record_id, idx"):
            indexed.setdefault(f["record_id"], []).append((f["label"], f["fingerprint"]))
    except sqlite3.Error as exc:
        raise AuditLogError(f"{str(path)!r} is not a redaction-log database: {exc}") from None
    entries = []
    for row in rows:
        columns = dict(row) | {"_findings": indexed.get(row["id"], [])}
        where = f"{path}#row{columns['id']}"
        try:
            record = json.loads(columns["body"])
        except json.JSONDecodeError:
            entries.append(Entry(where, str(columns["stream"]), None, "body is not JSON", columns))
            continue
        entries.append(Entry(where, str(columns["stream"]), record, None, columns))
    conn.close()
    return entries


def read(paths: Iterable[str | Path]) -> dict[str, list[Entry]]:
    """Every entry under ``paths``, grouped by stream, each stream in written order."""
    per_file: list[list[Entry]] = []
    for name in paths:
        path = Path(name)
        if _is_sqlite(path):
            by_stream: dict[str, list[Entry]] = {}
            for entry in _read_sqlite(path):
                by_stream.setdefault(entry.stream, []).append(entry)
            per_file.extend(by_stream.values())
        else:
            per_file.extend(_read_jsonl(file) for file in _jsonl_files(path))
    grouped: dict[str, list[list[Entry]]] = {}
    for entries in per_file:
        if entries:
            grouped.setdefault(entries[0].stream, []).append(entries)
    return {
        stream: [e for part in sorted(parts, key=_first_seq) for e in part]
        for stream, parts in sorted(grouped.items())
    }


def _first_seq(entries: list[Entry]) -> int:
    for entry in entries:
        if entry.record is not None and isinstance(entry.record.get("seq"), int):
            return int(entry.record["seq"])
    return 1 << 62


def iter_records(paths: Iterable[str | Path]) -> Iterator[Record]:
    """All readable records under ``paths``, unverified, one at a time (constant memory):
    stream by stream, in written order. Unreadable lines are skipped: verify reports them."""
    for name in paths:
        path = Path(name)
        if _is_sqlite(path):
            conn = connect(path, create=False)
            try:
                for row in conn.execute("SELECT body FROM records ORDER BY stream, seq"):
                    with contextlib.suppress(json.JSONDecodeError):
                        yield json.loads(row["body"])
            finally:
                conn.close()
            continue
        for file in _jsonl_files(path):  # <stream>-<segment>.jsonl: sorted = written order
            with file.open("rb") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except (UnicodeDecodeError, json.JSONDecodeError):
                        continue
                    if isinstance(record, dict):
                        yield record


# -- verifying --------------------------------------------------------------------------


def verify(paths: Iterable[str | Path], *, key: AuditKey, allow_open: bool = False) -> VerifyReport:
    """Check every stream under ``paths``; see the module docstring for what is found."""
    paths = list(paths)
    reports, problems = [], []
    live = live_streams(paths)
    for stream, entries in read(paths).items():
        report, found = _verify_stream(
            stream, entries, key=key, allow_open=allow_open or stream in live
        )
        if stream in live:
            report = dataclasses.replace(report, live=True)
        reports.append(report)
        problems.extend(found)
    return VerifyReport(tuple(reports), tuple(problems))


def _hash_ok(record: Record, key: AuditKey) -> bool:
    body = canonical({k: v for k, v in record.items() if k != "hash"})
    return key.chain_hash(str(record.get("prev", "")), body) == record.get("hash")


def _column_problem(entry: Entry, record: Record) -> str | None:
    if entry.columns is None:
        return None
    for name in COPIED:
        if entry.columns[name] != record.get(name):
            return f"column {name!r} no longer matches the chained record (seq {record['seq']})"
    found = record.get("findings") or []
    if (
        entry.columns["labels"] != labels_of(record)
        or entry.columns["findings"] != len(found)
        or entry.columns["_findings"] != [(f["label"], f.get("fingerprint")) for f in found]
    ):
        return f"finding rows no longer match the chained record (seq {record['seq']})"
    return None


def _verify_stream(
    stream: str, entries: list[Entry], *, key: AuditKey, allow_open: bool
) -> tuple[StreamReport, list[Problem]]:
    problems: list[Problem] = []
    good: list[tuple[Entry, Record]] = []
    for entry in entries:
        record = entry.record
        if record is None:
            kind = "truncated" if "cut off" in (entry.error or "") else "malformed"
            problems.append(Problem(kind, entry.where, entry.error or "unreadable"))
            continue
        if record.get("kind") == "segment" and record.get("key_id") not in (None, key.key_id):
            problems.append(
                Problem(
                    "key",
                    entry.where,
                    f"stream {stream} was written with key id {record.get('key_id')}, "
                    f"not with the key given (key id {key.key_id})",
                )
            )
            return _summary(stream, good), problems
        if not isinstance(record.get("seq"), int) or not _hash_ok(record, key):
            problems.append(
                Problem(
                    "edited", entry.where, f"record seq {record.get('seq')} does not match its hash"
                )
            )
        elif (column := _column_problem(entry, record)) is not None:
            problems.append(Problem("edited", entry.where, column))
        if isinstance(record.get("seq"), int):
            good.append((entry, record))
    problems += _order_problems(good)
    problems += _seal_problems(stream, good, allow_open=allow_open)
    position = {entry.where: i for i, entry in enumerate(entries)}
    problems.sort(key=lambda p: position.get(p.where, -1))  # in file order
    return _summary(stream, good), problems


def _order_problems(good: list[tuple[Entry, Record]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[int] = set()
    previous: tuple[Entry, Record] | None = None
    for entry, record in good:
        seq = record["seq"]
        if seq in seen:
            problems.append(Problem("duplicated", entry.where, f"seq {seq} appears twice"))
        elif previous is not None and seq < previous[1]["seq"]:
            problems.append(
                Problem(
                    "reordered",
                    entry.where,
                    f"seq {seq} comes after seq {previous[1]['seq']} ({previous[0].where})",
                )
            )
        elif previous is not None and seq == previous[1]["seq"] + 1:
            if record.get("prev") != previous[1].get("hash"):
                problems.append(
                    Problem("broken", entry.where, f"seq {seq} is not chained to seq {seq - 1}")
                )
        elif previous is None and seq == 0 and record.get("prev") != GENESIS:
            problems.append(Problem("broken", entry.where, "the first record has a non-zero prev"))
        seen.add(seq)
        previous = (entry, record)
    if good:
        missing = sorted(set(range(max(seen) + 1)) - seen)
        for first, last in _runs(missing):
            after = next((e.where for e, r in good if r["seq"] == first - 1), "the start")
            what = f"seq {first}" if first == last else f"seq {first}..{last}"
            problems.append(
                Problem(
                    "deleted",
                    after,
                    f"{what} missing after this point "
                    f"({last - first + 1} record{'s' if last > first else ''})",
                )
            )
    return problems


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _seal_problems(
    stream: str, good: list[tuple[Entry, Record]], *, allow_open: bool
) -> list[Problem]:
    problems: list[Problem] = []
    in_segment = 0
    for i, (entry, record) in enumerate(good):
        kind = record.get("kind")
        if kind == "segment":
            in_segment = 0
        in_segment += 1
        if kind != "seal":
            continue
        if record.get("records") != in_segment - 1:
            problems.append(
                Problem(
                    "truncated",
                    entry.where,
                    f"the seal counts {record.get('records')} records in this segment, "
                    f"{in_segment - 1} are here",
                )
            )
        nxt = good[i + 1][1] if i + 1 < len(good) else None
        if record.get("reason") == "rotate" and nxt is None:
            problems.append(
                Problem("truncated", entry.where, "the segment after this rotation is missing")
            )
    if good and good[-1][1].get("kind") != "seal" and not allow_open:
        entry, record = good[-1]
        problems.append(
            Problem(
                "truncated",
                entry.where,
                f"stream {stream} ends at seq {record['seq']} without a closing seal: records "
                "were cut off, or the writer is still running or crashed (--allow-open)",
            )
        )
    return problems


def _summary(stream: str, good: list[tuple[Entry, Record]]) -> StreamReport:
    events = [r for _, r in good if r.get("kind") in ("event", "verdict")]
    return StreamReport(
        stream=stream,
        records=len(events),
        segments=sum(1 for _, r in good if r.get("kind") == "segment"),
        first_ts=events[0].get("ts") if events else None,
        last_ts=events[-1].get("ts") if events else None,
        head=str(good[-1][1].get("hash")) if good else GENESIS,
        sealed=bool(good) and good[-1][1].get("kind") == "seal",
    )
