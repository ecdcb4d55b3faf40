"""The SQLite form of the redaction log: schema, inserts, filtered queries.

Each row keeps the exact chained line (``body``) so :mod:`leakguard.audit.verify` can check
the chain; the other columns are copies for querying, and verify checks they still match.
Databases are opened in WAL mode with a busy timeout, so one writer per process and any
number of readers (the review page) share a file.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakguard.exceptions import ConfigError

__all__ = [
    "RecordFilter",
    "connect",
    "count_records",
    "get_record",
    "insert",
    "query_records",
    "verdicts_for",
]

Record = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts TEXT NOT NULL,
    source TEXT,
    action TEXT,
    route TEXT,
    model TEXT,
    findings INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '',
    target_stream TEXT,
    target_seq INTEGER,
    hash TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (stream, seq)
);
CREATE INDEX IF NOT EXISTS records_kind_ts ON records (kind, ts);
CREATE INDEX IF NOT EXISTS records_target ON records (target_stream, target_seq);
CREATE TABLE IF NOT EXISTS findings (
    record_id INTEGER NOT NULL REFERENCES records (id),
    idx INTEGER NOT NULL,
    label TEXT NOT NULL,
    fingerprint TEXT,
    PRIMARY KEY (record_id, idx)
);
CREATE INDEX IF NOT EXISTS findings_label ON findings (label);
CREATE INDEX IF NOT EXISTS findings_fingerprint ON findings (fingerprint);
"""

# Columns copied out of the body; verify checks each against it.
COPIED = ("stream", "seq", "kind", "ts", "source", "action", "route", "model")


# How long a writer waits for another process's lock on the database.
_BUSY_S = 10.0


def connect(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and with ``create``, initialise) a redaction-log database."""
    path = Path(path)
    if not create and not path.is_file():
        raise FileNotFoundError(f"no such database: {str(path)!r}")
    conn = sqlite3.connect(path, timeout=_BUSY_S, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_S * 1000)}")
    if create:
        # Processes that open one database at once (`leakguard serve --workers N`) race to
        # switch it to WAL and create its tables; SQLite answers some of those lock
        # upgrades "database is locked" at once, without waiting out the busy timeout
        # (seen in CI with 4 processes). Retried until the same time-out.
        deadline = time.monotonic() + _BUSY_S
        delay = 0.01
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    conn.close()
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
    return conn


def labels_of(record: Record) -> str:
    """``,EMAIL_ADDRESS,PERSON,``: one LIKE pattern finds a label."""
    found = record.get("findings") or ()
    # A merged finding's members count too (a PERSON inside a MEMORIZED passage).
    labels = sorted(
        {f["label"] for f in found} | {m["label"] for f in found for m in f.get("members") or ()}
    )
    return f",{','.join(labels)}," if labels else ""


def insert(conn: sqlite3.Connection, record: Record, line: str) -> bool:
    """Insert one chained record (inside the caller's transaction); False if already there."""
    target = record.get("target") or {}
    findings = record.get("findings") or []
    cur = conn.execute(
        "INSERT OR IGNORE INTO records (stream, seq, kind, ts, source, action, route, model,"
        " findings, labels, target_stream, target_seq, hash, body)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            *(record.get(name) for name in COPIED),
            len(findings),
            labels_of(record),
            target.get("stream"),
            target.get("seq"),
            record["hash"],
            line,
        ),
    )
    if cur.rowcount == 0:
        return False
    conn.executemany(
        "INSERT INTO findings (record_id, idx, label, fingerprint) VALUES (?, ?, ?, ?)",
        [(cur.lastrowid, i, f["label"], f.get("fingerprint")) for i, f in enumerate(findings)],
    )
    return True


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?Z?)?$")
_LABEL = re.compile(r"^[A-Z][A-Z0-9_]*$")
ACTIONS = ("pass", "redact", "block")


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Filters shared by export (any log) and the review page (SQLite)."""

    since: str | None = None  # ISO date or time, UTC, inclusive
    until: str | None = None  # exclusive
    label: str | None = None
    action: str | None = None
    route: str | None = None
    model: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        """Bad values are errors, never silently ignored filters."""
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not _TIME.match(value):
                raise ConfigError(
                    f"{name}={value!r} is not a UTC ISO date or time; use e.g. 2026-11-30 "
                    "or 2026-11-30T14:00"
                )
        if self.label is not None and not _LABEL.match(self.label):
            raise ConfigError(f"label={self.label!r} is not a label such as EMAIL_ADDRESS")
        if self.action is not None and self.action not in ACTIONS:
            raise ConfigError(f"action={self.action!r} must be one of {', '.join(ACTIONS)}")

    def matches(self, record: Record) -> bool:
        if record.get("kind") != "event":
            return False
        ts = record.get("ts", "")
        if self.since and ts < self.since:
            return False
        if self.until and ts >= self.until:
            return False
        if self.label and f",{self.label}," not in labels_of(record):  # as where() does
            return False
        return all(
            wanted is None or record.get(name) == wanted
            for name, wanted in (
                ("action", self.action),
                ("route", self.route),
                ("model", self.model),
                ("source", self.source),
            )
        )

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = ["kind = 'event'"]
        params: list[object] = []
        if self.since:
            clauses.append("ts >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("ts < ?")
            params.append(self.until)
        if self.label:
            clauses.append("labels LIKE ?")
            params.append(f"%,{self.label},%")
        for name in ("action", "route", "model", "source"):
            value = getattr(self, name)
            if value:
                clauses.append(f"{name} = ?")
                params.append(value)
        return " AND ".join(clauses), params


def query_records(
    conn: sqlite3.Connection, where: RecordFilter, *, limit: int = -1, offset: int = 0
) -> Iterator[Record]:
    """Event records matching ``where``, newest first."""
    sql, params = where.where()
    rows = conn.execute(
        f"SELECT body FROM records WHERE {sql} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608  (clauses are fixed strings; values are parameters)
        [*params, limit, offset],
    )
    for row in rows:
        yield json.loads(row["body"])


def count_records(conn: sqlite3.Connection, where: RecordFilter) -> int:
    sql, params = where.where()
    row = conn.execute(f"SELECT count(*) FROM records WHERE {sql}", params).fetchone()  # noqa: S608
    return int(row[0])


def get_record(conn: sqlite3.Connection, stream: str, seq: int) -> Record | None:
    row = conn.execute(
        "SELECT body FROM records WHERE stream = ? AND seq = ?", (stream, seq)
    ).fetchone()
    return None if row is None else dict(json.loads(row["body"]))


def verdicts_for(conn: sqlite3.Connection, stream: str, seq: int) -> list[Record]:
    """Verdict records about one event, oldest first (the last one stands)."""
    rows = conn.execute(
        "SELECT body FROM records WHERE kind = 'verdict' AND target_stream = ? AND target_seq = ?"
        " ORDER BY ts, id",
        (stream, seq),
    )
    return [json.loads(row["body"]) for row in rows]
