"""Where redaction-log records go: rotated JSON Lines files, or SQLite.

Both sinks are :class:`~leakguard.events.EventSink`\\ s with one background writer thread
and a bounded queue, so ``emit`` never waits on a disk (safe to call from an event loop):
it turns the event into a PII-free record in the caller's thread and queues it.

What happens when records cannot be written (documented in the README):

* **Queue full** — ``emit`` returns False at once and counts ``refused``; the caller fails
  closed (the middleware blocks that response, ``leakguard scan`` exits with an error).
* **Write error** (disk full, database locked) — the writer keeps the record, counts
  ``failed``, and retries with back-off; while it is failing, ``emit`` refuses new events
  (fail closed) instead of queueing records it may never write.
* **A caller that must know** (the online guard) uses :meth:`AuditSink.emit_tracked`: its
  :class:`~leakguard.audit.receipts.Receipt` settles once the record is written (with
  ``sync_every: record``: in the file or committed, synced as ``durability`` says) or a
  write of it failed; while the sink is failing the record is still queued (room
  permitting), already marked as taking the failure action, so the response is blocked
  and its record is written when storage comes back.
* **Shutdown** — :meth:`close` writes everything queued, seals the stream and syncs. If the
  writer cannot finish within ``timeout``, what is left is counted as ``lost`` and logged.

With ``sync_every: record`` each record is written and synced in one step that either
succeeds or leaves the storage as it was (a JSON Lines file is cut back to its last whole
record, a transaction rolled back), so a retried record can be amended and the chain only
ever holds what was written. Records queued together share one write and one sync
(a group commit).

Several threads may share one sink (one writer orders them). Several *processes* may share
one directory or one database: each sink instance writes its own stream (its own chain and
files), so nothing interleaves; ``leakguard audit verify`` checks every stream.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.audit.chain import (
    FORMAT,
    AuditKey,
    Chain,
    new_stream_id,
    resolve_audit_key,
    utc_now,
)
from leakguard.audit.db import connect, insert
from leakguard.audit.live import LiveLock
from leakguard.audit.receipts import OnFailure, Receipt
from leakguard.audit.records import record_from_event, wants_record
from leakguard.config import AuditConfig, LeakGuardConfig
from leakguard.events import ScanEvent
from leakguard.exceptions import AuditLogError, ConfigError

__all__ = ["AuditSink", "JsonlSink", "SinkStats", "SqliteSink", "check_writable", "open_sink"]

logger = logging.getLogger(__name__)

Record = dict[str, Any]
_STOP = object()
_MAX_BACKOFF_S = 2.0
_RETRY_SYNC_S = 0.1
_COUNTED = ("event", "verdict")  # headers and seals are bookkeeping, not counted records
# Records one sync (write + fsync, or transaction) takes at most with sync_every: record.
_GROUP_MAX = 256


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters of one sink since it was opened (exported on ``/metrics``)."""

    events: int  # every event offered to emit, recorded or not
    accepted: int  # queued for writing
    skipped: int  # not recorded (record: findings, clean pass), counted only
    written: int
    refused: int  # emit returned False: queue full, sink failing or closed
    failed: int  # write attempts that raised (each is retried)
    lost: int  # accepted but never written (shutdown timed out while failing)
    queued: int
    by_action: dict[str, int] = field(default_factory=dict)


_Queued = tuple[Record, "Receipt | None"]


class _Flush:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class AuditSink:
    """Background writer shared by both sinks; subclasses write and sync records."""

    name = "sink"

    def __init__(self, config: AuditConfig, *, key: AuditKey, guard_config: LeakGuardConfig | None):
        self.config = config
        self.key = key
        self._guard_config = guard_config
        self.stream = new_stream_id()
        self._chain = Chain(key, self.stream)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=config.queue_size)
        self._lock = threading.Lock()  # counters
        self._gate = threading.Lock()  # queueing vs closing
        self._counts: Counter[str] = Counter()
        self._by_action: Counter[str] = Counter()
        self._healthy = True
        self._closing = threading.Event()
        self._closed = False
        self._deadline = float("inf")
        self._segment_records = 0
        self._open_storage()
        # Tells `audit verify` this stream is being written (open), not cut off.
        self._live = LiveLock(self._location(), self.stream)
        self._thread = threading.Thread(
            target=self._run, name=f"leakguard-{self.name}", daemon=True
        )
        self._thread.start()

    # -- producer side (any thread) -------------------------------------------------------

    def emit(self, event: ScanEvent) -> bool:
        """Queue the record of ``event``; False (and counted) if it cannot be accepted."""
        self._count("events", action=event.action.value)
        if not wants_record(event, self.config):
            self._count("skipped")
            return True
        return self.submit(record_from_event(event, key=self.key, config=self._guard_config))

    def emit_tracked(self, event: ScanEvent, *, on_failure: OnFailure) -> Receipt:
        """Queue the record of ``event`` and return its receipt, which settles once it is
        written or a write of it failed. ``on_failure`` is what the caller does with its
        response if the record is not written (``block``, ``pass``, or ``none`` for a
        response already blocked): the record is amended to say so. While the sink is
        failing the record is queued anyway (room permitting) with its receipt failed at
        once. ``receipt.queued`` is False when it was refused (queue full, sink closed)."""
        self._count("events", action=event.action.value)
        if not wants_record(event, self.config):
            self._count("skipped")
            return Receipt.settled(written=True)
        receipt = Receipt(on_failure)
        record = record_from_event(event, key=self.key, config=self._guard_config)
        if not self._healthy:
            receipt.fail_now()
        if not self._put((record, receipt), healthy_only=False):
            receipt.fail_now()
            return receipt
        receipt.queued = True
        return receipt

    def submit(self, record: Record) -> bool:
        """Queue any PII-free record (verdicts use this)."""
        return self._put((record, None), healthy_only=True)

    def _put(self, item: _Queued, *, healthy_only: bool) -> bool:
        with self._gate:  # nothing is queued behind the stop marker
            if self._closed or (healthy_only and not self._healthy):
                accepted = False
            else:
                try:
                    self._queue.put_nowait(item)
                    accepted = True
                except queue.Full:
                    accepted = False
        self._count("accepted" if accepted else "refused")
        return accepted

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued before this call is written and synced."""
        marker = _Flush()
        with self._gate:
            if self._closed:
                return False
            try:
                self._queue.put_nowait(marker)
            except queue.Full:
                return False
        return marker.done.wait(timeout) and marker.ok

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, seal the stream, sync and stop. Idempotent."""
        with self._gate:
            if self._closed:
                return
            self._closed = True
        self._deadline = time.monotonic() + timeout
        self._closing.set()
        self._queue.put(_STOP)  # the writer is draining, so room appears
        self._thread.join(timeout + 1.0)  # it gives up retrying at the deadline
        if self._thread.is_alive():  # stuck inside a write: count what is not written yet
            with self._lock:
                c = self._counts
                c["lost"] = c["accepted"] - c["written"]
            logger.error("audit writer did not finish within %.1fs", timeout)
        self._live.release()

    def stats(self) -> SinkStats:
        with self._lock:
            c = self._counts
            return SinkStats(
                events=c["events"],
                accepted=c["accepted"],
                skipped=c["skipped"],
                written=c["written"],
                refused=c["refused"],
                failed=c["failed"],
                lost=c["lost"],
                queued=self._queue.qsize(),
                by_action=dict(self._by_action),
            )

    def prometheus(self) -> list[str]:
        """Exposition lines for ``/metrics`` (``Metrics.add_collector(sink.prometheus)``)."""
        stats = self.stats()
        name = "leakguard_audit_sink_records_total"
        lines = [
            f"# HELP {name} Redaction-log records by what became of them.",
            f"# TYPE {name} counter",
        ]
        for state in ("written", "skipped", "refused", "failed", "lost"):
            lines.append(f'{name}{{sink="{self.name}",state="{state}"}} {getattr(stats, state)}')
        depth = "leakguard_audit_sink_queue_depth"
        lines += [
            f"# HELP {depth} Records waiting for the background writer.",
            f"# TYPE {depth} gauge",
            f'{depth}{{sink="{self.name}"}} {stats.queued}',
        ]
        return lines

    def _count(self, name: str, n: int = 1, *, action: str | None = None) -> None:
        with self._lock:
            self._counts[name] += n
            if action is not None:
                self._by_action[action] += 1

    # -- writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        self._write_record(self._header(0))
        last_sync = time.monotonic()
        dirty = False
        interval = self.config.sync_interval_s
        per_record = self.config.sync_every == "record"
        while True:
            if not dirty:
                timeout = None
            elif not self._healthy:  # the last sync failed: retry it soon, records or not
                timeout = _RETRY_SYNC_S
            else:
                timeout = max(0.0, interval - (time.monotonic() - last_sync))
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            marker = item if item is _STOP or isinstance(item, _Flush) else None
            if item is not None and marker is None:
                # sync_every: record takes what else is queued into the same sync (a group
                # commit: one write and one fsync or transaction for a burst of responses).
                batch: list[_Queued] = [item]  # type: ignore[list-item]
                while per_record and len(batch) < _GROUP_MAX:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP or isinstance(more, _Flush):
                        marker = more
                        break
                    batch.append(more)  # type: ignore[arg-type]
                self._write_records(batch)
                dirty = not per_record  # with sync_every: record, writing synced them
            if marker is _STOP:
                break
            if isinstance(marker, _Flush):
                marker.ok = self._sync_safely()
                dirty = not marker.ok
                marker.done.set()
                continue
            due = not self._healthy or time.monotonic() - last_sync >= interval
            if dirty and due and self._sync_safely():
                last_sync, dirty = time.monotonic(), False
        self._write_record({"kind": "seal", "reason": "close", "records": self._segment_records})
        while not self._sync_safely() and time.monotonic() < self._deadline:
            time.sleep(_RETRY_SYNC_S)
        self._close_storage()

    def _header(self, segment: int) -> Record:
        return {"kind": "segment", "format": FORMAT, "segment": segment, "key_id": self.key.key_id}

    def _write_record(self, record: Record, receipt: Receipt | None = None) -> None:
        self._write_records([(record, receipt)])

    def _write_records(self, batch: list[_Queued]) -> None:
        """Write with retries; the chain only advances after a successful write. With
        ``sync_every: record`` the batch is also synced, and a failed attempt undone as a
        whole (storage and chain), so each retry can amend a record."""
        backoff = 0.05
        if any(r.get("kind") in _COUNTED for r, _ in batch) and self._should_rotate():
            self._rotate()
        items = [({**r, "ts": r.get("ts") or utc_now()}, receipt) for r, receipt in batch]
        per_record = self.config.sync_every == "record"
        while True:
            chain_at = (self._chain.seq, self._chain.prev)
            done = len(items)
            try:
                for i, (record, receipt) in enumerate(items):
                    if receipt is not None:
                        items[i] = (receipt.begin(record), receipt)
                    linked, line = self._chain.link(items[i][0])
                    self._write(linked, line)
                    self._chain.advance(linked)
                    if i + 1 < len(items) and self._should_rotate():
                        done = i + 1  # the rest goes into the next segment
                        break
                if per_record:
                    self._sync(fsync=self.config.durability == "fsync")
            except (OSError, sqlite3.Error) as exc:
                if per_record:  # nothing of the batch stays: storage and chain as before
                    self._undo()
                    self._chain.seq, self._chain.prev = chain_at
                else:  # only the records already linked stay (buffered for the next sync)
                    items = items[self._chain.seq - chain_at[0] :]
                self._attempt_failed(items, exc)
                if self._closing.is_set() and time.monotonic() >= self._deadline:
                    self._count("lost", sum(r.get("kind") in _COUNTED for r, _ in items))
                    return
                time.sleep(max(0.0, min(backoff, self._deadline - time.monotonic())))
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            written, rest = items[:done], items[done:]
            self._segment_records += len(written)
            if not self._healthy:
                logger.warning("audit %s writes again", self.name)
            self._healthy = True
            for _, receipt in written:
                if receipt is not None:
                    receipt.attempt_written()
            self._count("written", sum(r.get("kind") in _COUNTED for r, _ in written))
            if rest:
                self._write_records(rest)  # rotates first
            return

    def _attempt_failed(self, items: list[_Queued], exc: BaseException) -> None:
        for _, receipt in items:
            if receipt is not None:
                receipt.attempt_failed()
        self._count("failed")
        if self._healthy:  # once per outage, not once per retry
            logger.error(
                "audit %s write failed (%s): records are kept and retried; "
                "responses fail closed meanwhile",
                self.name,
                type(exc).__name__,
            )
        self._healthy = False

    def _sync_safely(self) -> bool:
        """Sync; on failure the data stays buffered and the next sync retries it."""
        try:
            self._sync(fsync=self.config.durability == "fsync")
        except (OSError, sqlite3.Error) as exc:
            self._count("failed")
            self._healthy = False
            logger.warning("audit %s sync failed: %s", self.name, type(exc).__name__)
            return False
        self._healthy = True
        return True

    def _should_rotate(self) -> bool:
        return False

    def _rotate(self) -> None:
        raise NotImplementedError

    # -- storage (subclasses) -------------------------------------------------------------

    def _open_storage(self) -> None:
        raise NotImplementedError

    def _location(self) -> Path:
        """The log: a directory (JSON Lines) or a database file."""
        raise NotImplementedError

    def _write(self, record: Record, line: str) -> None:
        raise NotImplementedError

    def _sync(self, *, fsync: bool) -> None:
        raise NotImplementedError

    def _undo(self) -> None:
        """Drop what was written since the last successful sync (``sync_every: record``:
        one record), leaving the storage as it was."""
        raise NotImplementedError

    def _close_storage(self) -> None:
        raise NotImplementedError


class JsonlSink(AuditSink):
    """A directory of JSON Lines segments ``<stream>-<segment>.jsonl``, rotated by size/age."""

    name = "jsonl"

    def _open_storage(self) -> None:
        self.directory = Path(self.config.path or ".")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment = 0
        self._open_segment()

    def _location(self) -> Path:
        return self.directory

    def _open_segment(self) -> None:
        self.path = self.directory / f"{self.stream}-{self._segment:06d}.jsonl"
        # Unbuffered and append-only: this sink keeps its own buffer, so it knows which
        # bytes reached the file (a short write on a full disk is finished, or cut back).
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._buffer = bytearray()
        self._bytes = 0  # in the file and in the buffer
        self._whole = 0  # the file's size after the last complete sync
        self._opened_at = time.monotonic()
        self._segment_records = 0

    def _should_rotate(self) -> bool:
        age = self.config.rotate_seconds
        too_old = age is not None and time.monotonic() - self._opened_at >= age
        return self._bytes >= self.config.rotate_bytes or too_old

    def _rotate(self) -> None:
        self._write_record({"kind": "seal", "reason": "rotate", "records": self._segment_records})
        self._sync_safely()
        os.close(self._fd)
        self._segment += 1
        self._open_segment()
        self._write_record(self._header(self._segment))

    def _write(self, record: Record, line: str) -> None:
        data = (line + "\n").encode()
        self._buffer += data
        self._bytes += len(data)

    def _sync(self, *, fsync: bool) -> None:
        while self._buffer:  # a short write keeps the rest for the next try
            written = os.write(self._fd, self._buffer)
            del self._buffer[:written]
        if fsync:
            os.fsync(self._fd)
        self._whole = self._bytes

    def _undo(self) -> None:
        self._buffer.clear()
        self._bytes = self._whole
        if os.fstat(self._fd).st_size > self._whole:  # a part of the record got in
            os.ftruncate(self._fd, self._whole)

    def _close_storage(self) -> None:
        if self._buffer:
            logger.error("audit jsonl: %d bytes could not be written", len(self._buffer))
        os.close(self._fd)


class SqliteSink(AuditSink):
    """One SQLite database (the review page reads it). Records are buffered in memory
    between syncs and inserted in one transaction per sync."""

    name = "sqlite"

    def _open_storage(self) -> None:
        self.path = Path(self.config.path or "leakguard-audit.db")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        synchronous = "FULL" if self.config.durability == "fsync" else "NORMAL"
        self._conn.execute(f"PRAGMA synchronous = {synchronous}")
        self._pending: list[tuple[Record, str]] = []

    def _location(self) -> Path:
        return self.path

    def _write(self, record: Record, line: str) -> None:
        self._pending.append((record, line))

    def _sync(self, *, fsync: bool) -> None:
        if not self._pending:
            return
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for record, line in self._pending:
                insert(conn, record, line)
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back on its own (e.g. disk full).
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            raise
        self._pending.clear()

    def _undo(self) -> None:
        self._pending.clear()

    def _close_storage(self) -> None:
        if self._pending:
            self._count("lost", len(self._pending))
            logger.error("audit sqlite: %d records could not be committed", len(self._pending))
        self._conn.close()


def check_writable(path: str | None) -> None:
    """Raise :class:`AuditLogError` unless a log could be created at ``path`` (a directory
    for JSON Lines, or the folder of a database file); creates missing folders."""
    folder = Path(path or ".")
    folder = folder if folder.suffix == "" else folder.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditLogError(
            f"cannot create the redaction log at {path!r}: {exc.strerror}"
        ) from None
    if not os.access(folder, os.W_OK):
        raise AuditLogError(f"cannot write the redaction log at {path!r}: permission denied")


def open_sink(config: LeakGuardConfig, *, key: AuditKey | None = None) -> AuditSink:
    """The sink ``config.audit`` describes (its path must be set)."""
    audit = config.audit
    if not audit.path:
        raise ConfigError("audit.path is not set: give the log directory or database file")
    key = key if key is not None else resolve_audit_key(audit)
    cls = SqliteSink if audit.sink == "sqlite" else JsonlSink
    try:
        return cls(audit, key=key, guard_config=config)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AuditLogError(
            f"cannot open the redaction log at {audit.path!r} ({audit.sink}): {reason}"
        ) from None
