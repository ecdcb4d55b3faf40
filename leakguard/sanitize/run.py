"""Strip personal data from a training corpus, shard by shard (``leakguard sanitize``).

The run plans shards (:mod:`leakguard.corpus`), skips those a previous run finished
(:mod:`.state`), hands one :class:`~leakguard.sanitize.task.ShardTask` per remaining shard to
local worker processes or Dask (:mod:`leakguard.executors`), and writes the run's report
(:mod:`.report`). Every input record ends up written or rejected, and the manifest counts add
up (``records_in == records_out + rejected`` per shard).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from leakguard.config import LeakGuardConfig
from leakguard.corpus import Format, Shard, plan_shards, read_shard
from leakguard.events import EventSink
from leakguard.exceptions import CorpusError, Interrupted, LeakGuardError
from leakguard.executors import Completed, cpu_workers, interrupt, run_tasks
from leakguard.policy import resolve_hash_key
from leakguard.sanitize.report import run_event, sum_counts, write_run_files
from leakguard.sanitize.state import (
    DATA_DIR,
    REJECTS_DIR,
    STATE_DIR,
    claim_out_dir,
    clear_tmp,
    load_marker,
    run_fingerprint,
)
from leakguard.sanitize.task import ShardReport, ShardTask, _worker_sanitizer, sanitize_shard

__all__ = ["FailedShard", "Progress", "RunSummary", "output_names", "sanitize_corpus"]

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
_FIELD_CHECK_RECORDS = 100

# --- the whole run ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Handed to the progress callback after every finished shard, and every few seconds
    in between with the bytes the running shards have read so far."""

    shards_done: int
    shards_total: int
    records: int
    bytes_done: int  # finished shards, resumed ones included, plus what running ones read
    bytes_total: int
    elapsed_s: float
    bytes_resumed: int = 0  # of bytes_done: shards an earlier run finished

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """From this run's own rate: resumed shards took no time now."""
        read_now = self.bytes_done - self.bytes_resumed
        if read_now <= 0:
            return None
        return self.elapsed_s * (self.bytes_total - self.bytes_done) / read_now


_TICK_S = 2.0


class _RunProgress:
    """Counts for the progress callback. Running shards' workers write how many bytes they
    have read to ``<tmp>/<shard id>.progress`` (the output directory is shared by every
    worker, also on Dask); a thread reads those every few seconds, so the ETA follows the
    bytes read, not only finished shards."""

    def __init__(
        self,
        *,
        shards: Sequence[Shard],
        done: dict[str, ShardReport],
        tmp_dir: Path,
        started: float,
        callback: Callable[[Progress], None] | None,
    ) -> None:
        self._shards = {s.id: s for s in shards}
        self._open = {s.id for s in shards if s.id not in done}
        self._tmp_dir = tmp_dir
        self._started = started
        self._callback = callback
        self._lock = threading.Lock()
        self._finished_bytes = sum(r.bytes_in for r in done.values())
        self._resumed = self._finished_bytes
        self._shards_done = len(done)
        self._records = 0

    @contextmanager
    def ticking(self) -> Iterator[None]:
        if self._callback is None:
            yield
            return
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(_TICK_S):
                self._emit()

        thread = threading.Thread(target=tick, name="leakguard-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def finished(self, shard: Shard, report: ShardReport | None, *, failed: int) -> None:
        with self._lock:
            self._open.discard(shard.id)
            self._finished_bytes += shard.nbytes
            self._shards_done += 1
            if report is not None:
                self._records += report.records_in
        (self._tmp_dir / f"{shard.id}.progress").unlink(missing_ok=True)
        self._emit()

    def _reading(self) -> int:
        total = 0
        for shard_id in list(self._open):
            try:
                read = int((self._tmp_dir / f"{shard_id}.progress").read_text() or 0)
            except (OSError, ValueError):
                continue  # not started yet, or being replaced
            total += min(read, self._shards[shard_id].nbytes)
        return total

    def _emit(self) -> None:
        if self._callback is None:
            return
        reading = self._reading()
        with self._lock:
            self._callback(
                Progress(
                    shards_done=self._shards_done,
                    shards_total=len(self._shards),
                    records=self._records,
                    bytes_done=self._finished_bytes + reading,
                    bytes_total=sum(s.nbytes for s in self._shards.values()),
                    elapsed_s=time.perf_counter() - self._started,
                    bytes_resumed=self._resumed,
                )
            )


def _close(iterator: Iterator[object]) -> None:
    """Close a generator now (its ``finally`` runs: open files, worker pools)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def check_field(shards: Sequence[Shard], field: str) -> None:
    """Fail fast on a wrong ``--field``: if none of the first JSON Lines records that parse
    as objects has it, stop before any work, naming the keys they do have."""
    keys: Counter[str] = Counter()
    looked = 0
    first: str | None = None
    for shard in shards:
        if shard.format is not Format.JSONL:
            continue
        records = read_shard(shard)
        try:
            for record in records:
                if record.reject is None or record.reject.startswith("field "):
                    return  # some record has the field (text or not): per-record rejects
                if record.reject.startswith("missing field") and record.raw is not None:
                    looked += 1
                    first = first or shard.path
                    keys.update(list(json.loads(record.raw)))
                if looked >= _FIELD_CHECK_RECORDS:
                    break
        finally:
            _close(records)
        if looked >= _FIELD_CHECK_RECORDS:
            break
    if looked:
        names = ", ".join(repr(k[:40]) for k, _ in keys.most_common(20))
        raise CorpusError(
            f"field {field!r} is in none of the first {_count(looked, 'record')} of "
            f"{first!r}; they have: {names}. Pass the key that holds the text as --field."
        )


@dataclass(frozen=True, slots=True)
class FailedShard:
    shard_id: str
    source: str
    error: str  # exception type (and message for OSError/leakguard errors); never record text


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The result of :func:`sanitize_corpus`; the same numbers are in ``manifest.json``."""

    out_dir: Path
    shards: tuple[ShardReport, ...]
    failed: tuple[FailedShard, ...]
    seconds: float
    audited: bool | None = None  # the redaction-log entry was accepted (None: no sink)

    @property
    def records_in(self) -> int:
        return sum(s.records_in for s in self.shards)

    @property
    def records_out(self) -> int:
        return sum(s.records_out for s in self.shards)

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.shards)

    @property
    def resumed(self) -> int:
        return sum(s.resumed for s in self.shards)

    def findings(self) -> dict[str, int]:
        return sum_counts(s.findings for s in self.shards)

    def rejects(self) -> dict[str, int]:
        return sum_counts(s.rejects for s in self.shards)


def output_names(inputs: Sequence[str | Path], shards: Sequence[Shard]) -> dict[str, str]:
    """Shard id → output path relative to ``data/``: the input's own name (a directory
    keeps its name and inner layout); a file cut into several shards gets one part file
    per shard, ``name.part-0002-of-0005.jsonl``, in order."""
    from leakguard.corpus import iter_files

    rel_of: dict[str, str] = {}  # file path -> output path relative to data/
    taken: dict[str, str] = {}  # output path -> the input that writes it
    for item in inputs:
        base = Path(item)
        for path in iter_files([base]):
            rel = (
                Path(base.resolve().name or "root") / path.relative_to(base)
                if base.is_dir()
                else Path(path.name)
            ).as_posix()
            given = taken.setdefault(rel, str(item))
            if given != str(item) or rel_of.get(str(path), rel) != rel:
                raise CorpusError(
                    f"inputs {given!r} and {str(item)!r} would both write {rel!r} "
                    f"under the output directory; rename one or sanitize them separately"
                )
            rel_of[str(path)] = rel
    per_file: dict[str, list[Shard]] = {}
    for shard in shards:
        per_file.setdefault(shard.path, []).append(shard)
    names: dict[str, str] = {}
    for source, parts in per_file.items():
        rel_name = rel_of[source]
        if len(parts) == 1:
            names[parts[0].id] = rel_name
            continue
        stem, dot, suffixes = Path(rel_name).name.partition(".")
        for k, shard in enumerate(parts, start=1):
            part = f"{stem}.part-{k:04d}-of-{len(parts):04d}{dot}{suffixes}"
            names[shard.id] = Path(rel_name).with_name(part).as_posix()
    return names


def sanitize_corpus(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: LeakGuardConfig,
    key: bytes,
    field: str = "text",
    workers: int | None = None,
    dask: str | None = None,
    dask_processes: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
    sink: EventSink | None = None,
) -> RunSummary:
    """Sanitize a corpus into ``out_dir``; resume a run that stopped there.

    ``workers``: local processes (default: the config's ``sanitize.workers``, 0 = all
    cores); ``dask``: ``"local"`` or a scheduler address. Shards that fail (e.g. a full
    disk) are reported in :attr:`RunSummary.failed`; rerunning retries only them. With a
    ``sink`` (the redaction log), the run is recorded there as one ``sanitize`` event with
    its counts (never values); :attr:`RunSummary.audited` says whether the sink took it.
    """
    started = time.perf_counter()
    settings = config.sanitize
    out = Path(out_dir)
    for item in inputs:
        if Path(item).is_dir() and out.resolve().is_relative_to(Path(item).resolve()):
            raise CorpusError(
                f"--out {str(out)!r} is inside the input directory {str(item)!r}: a rerun "
                f"would read the sanitized files as input. Choose a directory outside it."
            )
    shards = plan_shards(
        inputs,
        field=field,
        target_shard_bytes=max(1, int(settings.shard_mb * _MB)),
        max_record_bytes=settings.max_record_chars,
    )
    if not shards:
        raise CorpusError("the inputs hold no files to sanitize")
    names = output_names(inputs, shards)
    fingerprint = run_fingerprint(config, field=field)
    hash_key = resolve_hash_key(config.policy)
    claim_out_dir(out, fingerprint=fingerprint, key=key)
    tmp_dir = out / STATE_DIR / "tmp"
    clear_tmp(tmp_dir)

    reports: dict[str, ShardReport] = {}
    tasks: list[ShardTask] = []
    for shard in shards:
        marker = out / STATE_DIR / "shards" / f"{shard.id}.json"
        output = out / DATA_DIR / names[shard.id]
        done = load_marker(marker, output)
        if done is not None:
            reports[shard.id] = replace(done, resumed=True)
            continue
        tasks.append(
            ShardTask(
                shard=shard,
                name=f"{DATA_DIR}/{names[shard.id]}",
                output=str(output.resolve()),
                rejects=str((out / REJECTS_DIR / f"{names[shard.id]}.rejects.jsonl").resolve()),
                marker=str(marker.resolve()),
                tmp_dir=str(tmp_dir.resolve()),
                config=config,
                key=key,
                hash_key=hash_key,
            )
        )

    if tasks:  # fail fast on a bad config, a missing model or a wrong --field
        check_field(shards, field)
        _worker_sanitizer(config, key, hash_key)
    n_workers = cpu_workers(settings.workers if workers is None else workers)
    failed: list[FailedShard] = []
    progress = _RunProgress(
        shards=shards, done=reports, tmp_dir=tmp_dir, started=started, callback=on_progress
    )
    results = run_tasks(
        sanitize_shard, tasks, workers=n_workers, dask=dask, dask_processes=dask_processes
    )
    try:
        with progress.ticking():
            for completed in results:
                task = tasks[completed.index]
                if completed.result is not None:
                    reports[task.shard.id] = completed.result
                else:
                    failed.append(_failure(task, completed))
                progress.finished(task.shard, completed.result, failed=len(failed))
    except KeyboardInterrupt as exc:
        # Ctrl-C or SIGTERM (the CLI turns it into an interrupt): stop the workers now, so
        # none finishes a shard after this process is gone; drop the unfinished shards.
        interrupt(results, exc)
        clear_tmp(tmp_dir)
        signal_name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
        kept = len(reports)
        raise Interrupted(
            signal_name,
            f"{kept} of {_count(len(shards), 'shard')} finished and kept in {str(out)!r} "
            f"({len(shards) - kept} unfinished, discarded); rerun the same command to resume",
        ) from None
    ordered = tuple(reports[s.id] for s in shards if s.id in reports)
    summary = RunSummary(out, ordered, tuple(failed), time.perf_counter() - started)
    if sink is not None:
        summary = replace(summary, audited=sink.emit(run_event(summary, config, fingerprint)))
    write_run_files(
        summary,
        config=config,
        key=key,
        inputs=inputs,
        field=field,
        fingerprint=fingerprint,
        workers=n_workers,
        dask=dask,
        tmp_dir=tmp_dir,
    )
    return summary


def _failure(task: ShardTask, completed: Completed[ShardReport]) -> FailedShard:
    error = completed.error
    if error is None:
        message = "no result"
    elif isinstance(error, OSError | LeakGuardError):
        # File-system and leakguard errors name paths and settings, never scanned text.
        message = f"{type(error).__name__}: {error}"
    else:
        # Any other exception (e.g. from a third-party recognizer) may quote the record.
        message = type(error).__name__
    logger.error("shard %s (%s) failed: %s", task.shard.id, task.shard.path, message)
    return FailedShard(task.shard.id, task.shard.path, message)
