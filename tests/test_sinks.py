"""Sinks: concurrent writers, full queues, failing storage and shutdown never lose a record
silently; everything written verifies."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leakguard.audit.chain import AuditKey
from leakguard.audit.sinks import AuditSink, JsonlSink, SqliteSink, open_sink
from leakguard.audit.verify import iter_records, verify
from leakguard.config import parse_config
from leakguard.events import ScanEvent, evidence_for
from leakguard.findings import Action, Finding, OutcomeAction

KEY = "sink-test-key-0123456789abcdef"


def event(request_id: str, *, clean: bool = False) -> ScanEvent:
    text = "mail jane@corp.io"
    found = [] if clean else [Finding("pii", "EMAIL_ADDRESS", 5, 17, 0.9, Action.REDACT)]
    action = OutcomeAction.PASS if clean else OutcomeAction.REDACT
    return ScanEvent("test", request_id, action, evidence_for(text, found), "v1")


def config(path: Path, **audit: Any) -> Any:
    return parse_config({"audit": {"path": str(path), "fingerprint_key": KEY, **audit}})


def verified(*paths: Path) -> list[dict[str, Any]]:
    report = verify(paths, key=AuditKey(KEY.encode()))
    assert report.ok, [str(p) for p in report.problems]
    return [r for r in iter_records(paths) if r["kind"] == "event"]


@pytest.mark.parametrize("sink", ["jsonl", "sqlite"])
def test_many_threads_share_one_sink_and_lose_or_interleave_nothing(
    tmp_path: Path, sink: str
) -> None:
    path = tmp_path / ("log" if sink == "jsonl" else "audit.db")
    audit = open_sink(config(path, sink=sink, rotate_bytes=64 * 1024, sync_every="interval"))

    def work(t: int) -> None:
        for i in range(150):
            assert audit.emit(event(f"t{t}-{i}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    audit.close()
    records = verified(path)
    ids = [r["request_id"] for r in records]
    assert sorted(ids) == sorted(f"t{t}-{i}" for t in range(8) for i in range(150))
    for t in range(8):  # each thread's records keep that thread's order
        mine = [int(i.split("-")[1]) for i in ids if i.startswith(f"t{t}-")]
        assert mine == sorted(mine)
    stats = audit.stats()
    assert (stats.events, stats.written, stats.refused, stats.lost) == (1200, 1200, 0, 0)
    if sink == "jsonl":
        assert len(list(path.glob("*.jsonl"))) > 1  # rotated while the threads wrote


def _process_writer(path: str, sink: str, name: str, n: int) -> None:
    audit = open_sink(config(Path(path), sink=sink))
    for i in range(n):
        assert audit.emit(event(f"{name}-{i}"))
    audit.close()


@pytest.mark.parametrize("sink", ["jsonl", "sqlite"])
def test_several_processes_write_one_directory_or_database_each_in_its_own_stream(
    tmp_path: Path, sink: str
) -> None:
    path = tmp_path / ("log" if sink == "jsonl" else "audit.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_process_writer, args=(str(path), sink, f"p{p}", 100)) for p in range(4)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    records = verified(path)
    assert sorted(r["request_id"] for r in records) == sorted(
        f"p{p}-{i}" for p in range(4) for i in range(100)
    )
    assert len(verify([path], key=AuditKey(KEY.encode())).streams) == 4


class _GatedSink(JsonlSink):
    """A JSON Lines sink whose writes wait for a gate, or fail while ``failures`` > 0."""

    gate: threading.Event
    failures: int = 0

    def _write(self, record: dict[str, Any], line: str) -> None:
        self.gate.wait(10)
        if self.failures > 0 and record["kind"] == "event":
            self.failures -= 1
            raise OSError(28, "No space left on device")
        super()._write(record, line)


def gated(tmp_path: Path, **audit: Any) -> _GatedSink:
    cfg = config(tmp_path / "log", **audit)
    _GatedSink.gate = threading.Event()
    return _GatedSink(cfg.audit, key=AuditKey(KEY.encode()), guard_config=cfg)


def test_a_full_queue_refuses_at_once_and_counts_it_and_loses_nothing_accepted(
    tmp_path: Path,
) -> None:
    sink = gated(tmp_path, queue_size=3)
    accepted = [sink.emit(event(f"r{i}")) for i in range(10)]
    assert accepted.count(False) >= 6  # the writer holds at most one, the queue three
    sink.gate.set()
    sink.close()
    stats = sink.stats()
    assert stats.refused == accepted.count(False)
    assert stats.written == stats.accepted == accepted.count(True)
    assert [r["request_id"] for r in verified(tmp_path / "log")] == [
        f"r{i}" for i, ok in enumerate(accepted) if ok
    ]


def test_a_failing_disk_is_retried_refuses_new_events_meanwhile_and_recovers(
    tmp_path: Path,
) -> None:
    sink = gated(tmp_path)
    sink.failures = 3
    assert sink.emit(event("first"))
    sink.gate.set()
    deadline = time.monotonic() + 10
    while sink.stats().failed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sink.emit(event("during"))  # fail closed while the writer is failing
    assert sink.flush()
    assert sink.emit(event("after"))
    sink.close()
    stats = sink.stats()
    assert (stats.failed, stats.refused, stats.written, stats.lost) == (3, 1, 2, 0)
    assert [r["request_id"] for r in verified(tmp_path / "log")] == ["first", "after"]


def test_storage_that_never_recovers_is_counted_as_lost_at_shutdown(tmp_path: Path) -> None:
    sink = gated(tmp_path)
    sink.failures = 1_000_000
    sink.gate.set()
    assert sink.emit(event("doomed"))
    sink.close(timeout=0.5)
    assert sink.stats().lost == 1
    assert sink.stats().written == 0


@pytest.mark.parametrize("sink", ["jsonl", "sqlite"])
@pytest.mark.parametrize("durability", ["flush", "fsync"])
def test_close_writes_everything_even_with_a_long_sync_interval(
    tmp_path: Path, sink: str, durability: str
) -> None:
    path = tmp_path / ("log" if sink == "jsonl" else "audit.db")
    audit = open_sink(
        config(path, sink=sink, durability=durability, sync_every="interval", sync_interval_s=60)
    )
    for i in range(25):
        assert audit.emit(event(f"r{i}"))
    audit.close()
    assert [r["request_id"] for r in verified(path)] == [f"r{i}" for i in range(25)]
    assert isinstance(audit, SqliteSink if sink == "sqlite" else JsonlSink)


def test_findings_only_mode_counts_clean_responses_but_does_not_record_them(
    tmp_path: Path,
) -> None:
    audit = open_sink(config(tmp_path / "log", record="findings"))
    assert audit.emit(event("clean", clean=True))
    assert audit.emit(event("leaky"))
    audit.close()
    assert [r["request_id"] for r in verified(tmp_path / "log")] == ["leaky"]
    stats = audit.stats()
    assert (stats.events, stats.skipped, stats.written) == (2, 1, 1)
    assert stats.by_action == {"pass": 1, "redact": 1}


def test_a_segment_older_than_rotate_seconds_is_sealed_and_a_new_one_started(
    tmp_path: Path,
) -> None:
    audit = open_sink(config(tmp_path / "log", rotate_seconds=1))
    assert audit.emit(event("a"))
    assert audit.flush()
    time.sleep(1.05)
    assert audit.emit(event("b"))
    audit.close()
    assert len(list((tmp_path / "log").glob("*.jsonl"))) == 2
    assert [r["request_id"] for r in verified(tmp_path / "log")] == ["a", "b"]


def test_a_closed_sink_refuses(tmp_path: Path) -> None:
    audit = open_sink(config(tmp_path / "log"))
    audit.close()
    audit.close()
    assert not audit.emit(event("late"))
    assert audit.stats().refused == 1


def test_each_line_is_one_whole_record(tmp_path: Path) -> None:
    sink: Callable[[], AuditSink] = lambda: open_sink(config(tmp_path / "log"))  # noqa: E731
    audit = sink()
    for i in range(3):
        audit.emit(event(f"r{i}"))
    audit.close()
    (segment,) = (tmp_path / "log").glob("*.jsonl")
    kinds = [json.loads(line)["kind"] for line in segment.read_text().splitlines()]
    assert kinds == ["segment", "event", "event", "event", "seal"]


def test_counters_render_for_prometheus(tmp_path: Path) -> None:
    audit = open_sink(config(tmp_path / "log", record="findings"))
    audit.emit(event("clean", clean=True))
    audit.emit(event("leaky"))
    audit.close()
    audit.emit(event("late"))
    lines = audit.prometheus()
    assert 'leakguard_audit_sink_records_total{sink="jsonl",state="written"} 1' in lines
    assert 'leakguard_audit_sink_records_total{sink="jsonl",state="skipped"} 1' in lines
    assert 'leakguard_audit_sink_records_total{sink="jsonl",state="refused"} 1' in lines
    assert 'leakguard_audit_sink_queue_depth{sink="jsonl"} 0' in lines


class _LockedDatabase(SqliteSink):
    """A SQLite sink whose commits fail while ``locked_for`` > 0 (like a long-held lock)."""

    locked_for = 0

    def _sync(self, *, fsync: bool) -> None:
        if self.locked_for > 0 and self._pending:
            self.locked_for -= 1
            raise sqlite3.OperationalError("database is locked")
        super()._sync(fsync=fsync)


def test_a_failed_commit_is_retried_without_waiting_for_new_records(tmp_path: Path) -> None:
    cfg = config(tmp_path / "audit.db", sink="sqlite")
    sink = _LockedDatabase(cfg.audit, key=AuditKey(KEY.encode()), guard_config=cfg)
    sink.locked_for = 3
    assert sink.emit(event("only"))
    deadline = time.monotonic() + 10
    while sink.stats().failed < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.flush()  # the writer retried on its own and committed
    assert sink.emit(event("next"))
    sink.close()
    assert (sink.stats().failed, sink.stats().lost) == (3, 0)
    assert [r["request_id"] for r in verified(tmp_path / "audit.db")] == ["only", "next"]


def _open_at_once(path: str, barrier: Any) -> None:
    from leakguard.audit.db import connect

    barrier.wait()
    connect(path).close()  # an error ends the process with exit code 1


def test_processes_that_open_a_new_database_at_once_all_get_it(tmp_path: Path) -> None:
    """`serve --workers N` workers open one database together: switching it to WAL and
    creating its tables raced ("database is locked" at once, without the busy wait: 10 of
    240 opens failed in 40 rounds of 6 processes before the retry)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs fork (spawning 60 interpreters would take too long)")
    ctx = multiprocessing.get_context("fork")
    for round_ in range(40):
        path = str(tmp_path / f"audit-{round_}.db")
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open_at_once, args=(path, barrier)) for _ in range(6)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert [proc.exitcode for proc in procs] == [0] * 6, round_
