"""Strip personal data from a training corpus, shard by shard (``leakguard sanitize``).

The run plans shards (:mod:`leakguard.corpus`), skips those a previous run finished
(:mod:`.state`), hands one :class:`~leakguard.sanitize.task.ShardTask` per remaining shard to
local worker processes or Dask (:mod:`leakguard.executors`), and writes the run's report
(:mod:`.report`). Every input record ends up written or rejected, and the manifest counts add
up (``records_in == records_out + rejected`` per shard).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from leakguard.config import LeakGuardConfig
from leakguard.corpus import Shard, plan_shards
from leakguard.events import EventSink
from leakguard.exceptions import CorpusError, LeakGuardError
from leakguard.executors import Completed, cpu_workers, run_tasks
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

# --- the whole run ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Handed to the progress callback after every finished shard."""

    shards_done: int
    shards_total: int
    records: int
    bytes_done: int
    bytes_total: int
    elapsed_s: float

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.bytes_done <= 0:
            return None
        return self.elapsed_s * (self.bytes_total - self.bytes_done) / self.bytes_done


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
        target_shard_bytes=settings.shard_mb * _MB,
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

    if tasks:  # fail fast on a bad config or a missing model, before any worker starts
        _worker_sanitizer(config, key, hash_key)
    n_workers = cpu_workers(settings.workers if workers is None else workers)
    failed: list[FailedShard] = []
    bytes_total = sum(s.nbytes for s in shards)
    bytes_done = sum(r.bytes_in for r in reports.values())
    records = 0
    for completed in run_tasks(
        sanitize_shard, tasks, workers=n_workers, dask=dask, dask_processes=dask_processes
    ):
        task = tasks[completed.index]
        bytes_done += task.shard.nbytes
        if completed.result is not None:
            reports[task.shard.id] = completed.result
            records += completed.result.records_in
        else:
            failed.append(_failure(task, completed))
        if on_progress is not None:
            on_progress(
                Progress(
                    shards_done=len(reports) + len(failed),
                    shards_total=len(shards),
                    records=records,
                    bytes_done=bytes_done,
                    bytes_total=bytes_total,
                    elapsed_s=time.perf_counter() - started,
                )
            )
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
