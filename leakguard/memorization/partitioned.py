"""Index builds that scale: the filter's blocks partitioned among workers, resumable.

Two steps, each a set of independent tasks run by :func:`leakguard.executors.run_tasks`
(local processes or Dask: the same functions, the same output):

1. **map** — one task per shard: read, normalize, hash its n-grams (the code every build
   uses) and append each batch's hashes to one spill file per partition (the
   partition a hash goes to is fixed by the filter block it falls in). Memory: one batch.
2. **reduce** — one task per partition: the bit array of its block range only (the filter
   size divided by the partitions), OR-ed from that partition's spill files, read in
   bounded pieces, then written as one part file.

The parts, concatenated in order, are the filter's bits: the index file is written from
them without holding the whole filter in memory. The bits equal those of a one-process
build (an OR of the same hashes).

**Resume.** Everything lives in a state folder beside the output (``OUT.build/``): the
plan (inputs, parameters, shards, filter size, partitions, start time), a done marker per
finished map and reduce task, written after its files (each written under a temporary
name, then renamed). A rerun with the same arguments after a crash or ``kill -9`` redoes
only unfinished tasks and writes the same bytes as an uninterrupted build would have
(the start time recorded in the header is the first attempt's). The folder is removed
once the index is written.

Spill files take 8 bytes per n-gram: for a corpus of ``N`` n-grams, ``8 N`` bytes of
temporary disk (a shared file system for a multi-machine Dask cluster).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leakguard.corpus import Shard
from leakguard.exceptions import IndexFormatError
from leakguard.memorization.bloom import BloomHeader, add_to_range, block_of, write_filter
from leakguard.memorization.build import BuildStats, add_shard
from leakguard.memorization.index import IndexParams
from leakguard.memorization.ngrams import U64

__all__ = ["MapTask", "ReduceTask", "build_partitioned", "partition_bounds", "state_dir"]

_READ_ITEMS = 1 << 22  # hashes read from a spill file at a time (32 MiB)
PLAN = "plan.json"
MAX_PARTITIONS = 65_535  # partition numbers are radix-sorted as uint16


def state_dir(out: str | Path) -> Path:
    """Where a partitioned build of ``out`` keeps what a rerun resumes from."""
    out = Path(out)
    return out.with_name(out.name + ".build")


def partition_bounds(num_blocks: int, partitions: int) -> list[tuple[int, int]]:
    """The ``[first, end)`` block range of each partition (as even as can be)."""
    cuts = [p * num_blocks // partitions for p in range(partitions + 1)]
    return list(itertools.pairwise(cuts))


class _Spill:
    """An ``add(hashes)`` sink that appends hashes to one file per partition."""

    def __init__(self, folder: Path, num_blocks: int, parts: int) -> None:
        self.num_blocks = num_blocks
        folder.mkdir(parents=True, exist_ok=True)
        self.files = [(folder / f"{p}.u64.tmp").open("wb") for p in range(parts)]
        self.folder = folder

    def add(self, hashes: U64) -> None:
        # partition p holds blocks [p*N//P, (p+1)*N//P): p = ceil((b+1)*P/N) - 1
        parts, blocks = len(self.files), self.num_blocks
        part = ((block_of(hashes, blocks) + 1) * parts + blocks - 1) // blocks - 1
        order = np.argsort(part.astype(np.uint16), kind="stable")  # a radix sort
        cuts = np.searchsorted(part[order], np.arange(parts + 1))
        grouped = hashes[order].astype("<u8", copy=False)
        for p, f in enumerate(self.files):
            f.write(grouped[cuts[p] : cuts[p + 1]].tobytes())

    def close(self) -> None:
        for p, f in enumerate(self.files):
            f.flush()
            os.fsync(f.fileno())
            f.close()
            (self.folder / f"{p}.u64.tmp").replace(self.folder / f"{p}.u64")


@dataclass(frozen=True, slots=True)
class MapTask:
    """Hash one shard into per-partition spill files."""

    number: int
    shard: Shard
    params: IndexParams
    num_blocks: int
    partitions: int
    state: str


@dataclass(frozen=True, slots=True)
class ReduceTask:
    """Build one partition's block range from every shard's spill file."""

    partition: int
    shards: int
    params: IndexParams
    num_blocks: int
    partitions: int
    state: str


def map_shard(task: MapTask) -> BuildStats:
    state = Path(task.state)
    spill = _Spill(state / "spill" / str(task.number), task.num_blocks, task.partitions)
    stats = add_shard(spill, task.shard, ngram=task.params.ngram)
    spill.close()
    _done(state / "maps" / f"{task.number}.json", asdict(stats))
    return stats


def reduce_partition(task: ReduceTask) -> int:
    """Write the partition's bits; returns its peak resident memory (bytes, this process)."""
    state = Path(task.state)
    first, end = partition_bounds(task.num_blocks, task.partitions)[task.partition]
    table = np.zeros((end - first, 8), dtype=np.uint64)
    for number in range(task.shards):
        path = state / "spill" / str(number) / f"{task.partition}.u64"
        for hashes in _read_hashes(path):
            add_to_range(table, hashes, first_block=first, num_blocks=task.num_blocks)
    part = state / "parts" / f"{task.partition}.bits"
    part.parent.mkdir(parents=True, exist_ok=True)
    tmp = part.with_name(part.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(table.astype("<u8", copy=False).tobytes())
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(part)
    _done(state / "reduces" / f"{task.partition}.json", {"blocks": end - first})
    return _peak_rss()


def _read_hashes(path: Path) -> Iterator[U64]:
    with path.open("rb") as f:
        while True:
            raw = f.read(_READ_ITEMS * 8)
            if not raw:
                return
            yield np.frombuffer(raw, dtype="<u8").astype(np.uint64)


def _done(marker: Path, payload: dict[str, Any]) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
    tmp.replace(marker)


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _plan(
    state: Path, shards: Sequence[Shard], params: IndexParams, num_blocks: int, partitions: int
) -> dict[str, Any]:
    """The pinned plan: a new one, or the one a previous attempt left (which must match)."""
    wanted = {
        "params": asdict(params),
        "num_blocks": num_blocks,
        "partitions": partitions,
        "shards": [[s.id, s.path, s.start, s.end, s.size] for s in shards],
    }
    path = state / PLAN
    if path.exists():
        plan: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if {k: plan.get(k) for k in wanted} != json.loads(json.dumps(wanted)):
            raise IndexFormatError(
                str(state),
                "holds an unfinished build with other inputs or settings; rerun that build "
                f"with its own arguments to finish it, or remove {state} to start over",
            )
        return plan
    state.mkdir(parents=True, exist_ok=True)
    plan = wanted | {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _done(path, plan)
    return plan


ProgressCallback = Callable[[int, int], None]  # (bytes done, n-grams done)


@dataclass(frozen=True, slots=True)
class PartitionedResult:
    header: BloomHeader
    stats: BuildStats
    resumed_maps: int  # map tasks a previous attempt had finished
    peak_rss: list[int]  # per reduce task (bytes), in partition order


def build_partitioned(
    shards: Sequence[Shard],
    *,
    out: str | Path,
    params: IndexParams,
    num_blocks: int,
    partitions: int,
    workers: int,
    describe: Callable[[BuildStats, str], dict[str, Any]],
    progress: ProgressCallback | None = None,
    dask: str | None = None,
    dask_processes: bool = True,
) -> PartitionedResult:
    """Map, reduce, assemble (module docstring). ``describe(stats, started_at)`` gives the
    header's ``source`` block."""
    from leakguard.executors import run_tasks

    state = state_dir(out)
    partitions = max(1, min(partitions, num_blocks, MAX_PARTITIONS))
    plan = _plan(state, shards, params, num_blocks, partitions)
    stats, todo = BuildStats(), []
    done_bytes = 0
    for number, shard in enumerate(shards):
        marker = state / "maps" / f"{number}.json"
        if marker.exists():
            stats.add(BuildStats(**json.loads(marker.read_text(encoding="utf-8"))))
            done_bytes += shard.nbytes
        else:
            todo.append(MapTask(number, shard, params, num_blocks, partitions, str(state)))
    resumed = len(shards) - len(todo)
    if progress is not None:
        progress(done_bytes, stats.ngrams)
    for completed in run_tasks(
        map_shard, todo, workers=workers, dask=dask, dask_processes=dask_processes
    ):
        if completed.result is None:
            raise _failed(completed.error)
        stats.add(completed.result)
        done_bytes += todo[completed.index].shard.nbytes
        if progress is not None:
            progress(done_bytes, stats.ngrams)
    reduces = [
        ReduceTask(p, len(shards), params, num_blocks, partitions, str(state))
        for p in range(partitions)
        if not (state / "reduces" / f"{p}.json").exists()
    ]
    peaks = [0] * partitions
    for reduced in run_tasks(
        reduce_partition, reduces, workers=workers, dask=dask, dask_processes=dask_processes
    ):
        if reduced.result is None:
            raise _failed(reduced.error)
        peaks[reduces[reduced.index].partition] = reduced.result
    source = describe(stats, str(plan["started_at"]))
    header = _assemble(
        out,
        state,
        params=params,
        num_blocks=num_blocks,
        partitions=partitions,
        stats=stats,
        source=source,
    )
    shutil.rmtree(state, ignore_errors=True)
    return PartitionedResult(header, stats, resumed, peaks)


def _failed(error: BaseException | None) -> IndexFormatError:
    return IndexFormatError("<build>", f"a build task failed: {type(error).__name__}: {error}")


def _assemble(
    out: str | Path,
    state: Path,
    *,
    params: IndexParams,
    num_blocks: int,
    partitions: int,
    stats: BuildStats,
    source: dict[str, Any],
) -> BloomHeader:
    parts = [state / "parts" / f"{p}.bits" for p in range(partitions)]
    digest = hashlib.blake2b(digest_size=32)
    for part in parts:
        for piece in _pieces(part):
            digest.update(piece)
    header = BloomHeader(
        num_blocks=num_blocks,
        target_fpr=params.fpr,
        params=params.header_params(),
        items_added=stats.ngrams,
        checksum="blake2b:" + digest.hexdigest(),
        source=source,
    )
    write_filter(out, header, (piece for part in parts for piece in _pieces(part)))
    return header


def _pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while piece := f.read(1 << 24):
            yield piece
