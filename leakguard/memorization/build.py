"""Build n-gram indexes of a training corpus (:mod:`.index` opens them).

Pipeline: corpus shards (:mod:`leakguard.corpus`) → lexemes (:mod:`.normalize`) →
n-gram hashes (:mod:`leakguard.memorization.ngrams`) → a partial Bloom filter per worker
(:mod:`leakguard.memorization.bloom`) → bitwise OR of the partials → one index file.

The pieces are public so other schedulers (e.g. Dask) can run the same tasks::

    params = IndexParams(ngram=8, fpr=1e-3)
    shards = plan_shards(inputs, field="text")
    num_blocks = size_index(shards, params).header.num_blocks   # once, on the client
    # on each worker, for a group of shards:
    partial, stats = build_partial(group, params=params, num_blocks=num_blocks)
    partial.save(tmp_path)                                       # or return it
    # on the client:
    index = merge_partials([BloomFilter.open(p) for p in tmp_paths])
    index.save(out, source=describe_source(inputs, ...))

:func:`build_index` does exactly that with local worker processes, or with
``dask="local"`` / a scheduler address on a Dask cluster (:mod:`leakguard.executors`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from leakguard.corpus import DEFAULT_FIELD, Format, Shard, plan_shards, read_shard
from leakguard.memorization.bloom import BloomFilter, BloomHeader
from leakguard.memorization.index import IndexParams
from leakguard.memorization.ngrams import RECORD_BREAK, U64, hash_words, ngram_hashes
from leakguard.memorization.normalize import (
    lexemes,
    normalized,
)

__all__ = [
    "BuildStats",
    "add_shard",
    "build_index",
    "build_partial",
    "estimate_ngrams",
    "merge_partials",
    "size_index",
]

logger = logging.getLogger(__name__)

_BATCH_CHARS = 1 << 22  # normalized characters per numpy batch
_BYTES_PER_WORD = 6.0  # English prose with its spaces and punctuation, roughly


@dataclass(slots=True)
class BuildStats:
    """Counts of one build (or one shard of it)."""

    shards: int = 0
    records: int = 0
    rejects: int = 0
    words: int = 0
    ngrams: int = 0
    bytes: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: BuildStats) -> None:
        for name in ("shards", "records", "rejects", "words", "ngrams", "bytes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.reject_reasons.items():
            self.reject_reasons[reason] = self.reject_reasons.get(reason, 0) + count


class Sink(Protocol):
    """Where a build puts n-gram hashes: a filter, or a partitioned build's spill files."""

    def add(self, hashes: U64) -> None: ...


class _Batcher:
    """Collects normalized records and adds their n-grams in big numpy batches."""

    def __init__(self, bloom: Sink, n: int) -> None:
        self.bloom = bloom
        self.n = n
        self.pieces: list[str] = []
        self.chars = 0
        self.carried = 0  # words at the start of ``pieces`` already counted

    def add(self, norm: str, *, continues: bool) -> None:
        """Add one record's normalized text; ``continues`` joins it to the previous one."""
        self.pieces.append(" " if continues else RECORD_BREAK)
        self.pieces.append(norm)
        self.chars += len(norm) + 1

    def flush(self) -> tuple[int, int]:
        """Add the collected n-grams: (new words, n-grams). The last n-1 words stay."""
        if not self.pieces:
            return 0, 0
        text = "".join(self.pieces)
        words, record = hash_words(text)
        grams = ngram_hashes(words, self.n)
        if len(grams):
            grams = grams[record[: len(grams)] == record[self.n - 1 :]]
            self.bloom.add(grams)
        # Keep the last n-1 words: n-grams across the cut of a text file need them (the
        # n-grams inside them alone were added, and n-1 words make none).
        tail = text.rsplit(RECORD_BREAK, 1)[-1].rsplit(None, self.n - 1)[-(self.n - 1) :]
        new_words = len(words) - self.carried
        self.pieces = [RECORD_BREAK, " ".join(tail)]
        self.chars = len(self.pieces[1])
        self.carried = len(tail)
        return new_words, len(grams)


def add_shard(
    bloom: Sink,
    shard: Shard,
    *,
    ngram: int,
    on_words: Callable[[int], None] | None = None,
    on_ngrams: Callable[[int], None] | None = None,
) -> BuildStats:
    """Add the n-grams of every record of ``shard`` to ``bloom``.

    The pieces of a cut text file (``part > 0``) continue the previous record, so no n-gram
    is lost at the cut. ``on_words`` is called now and then with the words added since.
    """
    stats = BuildStats(shards=1, bytes=shard.nbytes)
    batch = _Batcher(bloom, ngram)

    def flush() -> None:
        words, grams = batch.flush()
        stats.words += words
        stats.ngrams += grams
        if on_words is not None and words:
            on_words(words)
        if on_ngrams is not None and grams:
            on_ngrams(grams)

    for record in read_shard(shard):
        if record.text is None:
            stats.rejects += 1
            reason = (record.reject or "rejected").split(" (")[0].split(":")[0]
            stats.reject_reasons[reason] = stats.reject_reasons.get(reason, 0) + 1
            continue
        stats.records += 1
        continues = record.format is Format.TEXT and record.part > 0
        batch.add(normalized(record.text), continues=continues)
        if batch.chars >= _BATCH_CHARS:
            flush()
    flush()
    return stats


def estimate_ngrams(
    shards: Sequence[Shard], *, ngram: int = 8, sample_bytes: int = 1 << 20, samples: int = 16
) -> int:
    """An estimate of the n-grams in ``shards``.

    Reads up to ``samples`` evenly spread shards for ``sample_bytes`` each, counts n-grams
    per (uncompressed) byte there and scales by the total size; gzip sizes come from their
    trailers.
    """
    sizes = [_uncompressed_size(shard) for shard in shards]
    step = max(1, len(shards) // samples)
    grams = read = 0
    for shard, size in list(zip(shards, sizes, strict=True))[::step][:samples]:
        end = shard.start + min(sample_bytes, size)
        sample = replace(shard, end=end if shard.end is None else min(end, shard.end))
        for record in read_shard(sample):
            if record.text is not None:
                grams += max(0, len(lexemes(record.text)) - ngram + 1)
        read += min(sample_bytes, size)
    per_byte = grams / read if read and grams else 1 / _BYTES_PER_WORD
    return max(1, math.ceil(sum(sizes) * per_byte))


def _uncompressed_size(shard: Shard) -> int:
    if shard.compressed:
        return max(_gzip_size(shard.path), 3 * shard.nbytes)
    return shard.nbytes


def _gzip_size(path: str) -> int:
    """The uncompressed size recorded in a gzip trailer (modulo 4 GiB)."""
    try:
        with open(path, "rb") as f:
            f.seek(-4, 2)
            return int.from_bytes(f.read(4), "little")
    except OSError:
        return 0


def size_index(
    shards: Sequence[Shard], params: IndexParams, *, expected_ngrams: int | None = None
) -> BloomFilter:
    """An empty filter sized for ``shards`` (or for ``expected_ngrams`` when given)."""
    if expected_ngrams is None:
        expected_ngrams = estimate_ngrams(shards, ngram=params.ngram)
    return BloomFilter.create(
        expected_items=expected_ngrams, fpr=params.fpr, params=params.header_params()
    )


def build_partial(
    shards: Iterable[Shard],
    *,
    params: IndexParams,
    num_blocks: int,
    on_shard: Callable[[Shard, BuildStats], None] | None = None,
    on_words: Callable[[int], None] | None = None,
    on_ngrams: Callable[[int], None] | None = None,
) -> tuple[BloomFilter, BuildStats]:
    """One partial filter (``num_blocks`` blocks) holding the n-grams of ``shards``."""
    header = BloomHeader(
        num_blocks=num_blocks, target_fpr=params.fpr, params=params.header_params()
    )
    bloom = BloomFilter(header, np.zeros(num_blocks * 8, dtype=np.uint64))
    total = BuildStats()
    for shard in shards:
        stats = add_shard(bloom, shard, ngram=params.ngram, on_words=on_words, on_ngrams=on_ngrams)
        total.add(stats)
        if on_shard is not None:
            on_shard(shard, stats)
    return bloom, total


def merge_partials(partials: Iterable[BloomFilter]) -> BloomFilter:
    """OR partial filters (equal parameters required) into a new writable filter."""
    merged: BloomFilter | None = None
    for partial in partials:
        if merged is None:
            merged = partial.empty_like()
        merged.merge(partial)
    if merged is None:
        raise ValueError("merge_partials needs at least one partial filter")
    return merged


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What :func:`build_index` wrote."""

    path: str
    header: BloomHeader
    stats: BuildStats
    seconds: float
    workers: int
    # partitions, workers; partitioned builds: resumed_shards, peak_rss (bytes per reduce)
    layout: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[int, int], None]  # (bytes done, n-grams done) so far


def build_index(
    inputs: Sequence[str | Path],
    *,
    out: str | Path,
    params: IndexParams | None = None,
    field: str = DEFAULT_FIELD,
    workers: int = 1,
    partitions: int | None = None,
    expected_ngrams: int | None = None,
    target_shard_bytes: int = 64 * 1024 * 1024,
    progress: ProgressCallback | None = None,
    dask: str | None = None,
    dask_processes: bool = True,
) -> BuildReport:
    """Index ``inputs`` into ``out``.

    One worker and no ``partitions``: in this process, the whole filter in memory. Else a
    partitioned, resumable build (:mod:`.partitioned`): ``workers`` processes, or tasks on
    Dask (``dask``: ``"local"`` or a scheduler address), each holding one of
    ``partitions`` (default: ``workers``) block ranges of the filter at a time.
    """
    params = params if params is not None else IndexParams()
    started = time.perf_counter()
    shards = plan_shards(inputs, field=field, target_shard_bytes=target_shard_bytes)
    expected = (
        expected_ngrams
        if expected_ngrams is not None
        else estimate_ngrams(shards, ngram=params.ngram)
    )
    num_blocks = size_index(shards, params, expected_ngrams=expected).header.num_blocks
    if dask is None and workers <= 1 and partitions is None:
        bloom, stats = _build_here(shards, params, num_blocks, progress)
        source = describe_source(inputs, field=field, stats=stats, expected_ngrams=expected)
        header = bloom.save(out, source=source)
        layout: dict[str, Any] = {"partitions": 1, "workers": 1}
    else:
        from leakguard.memorization.partitioned import build_partitioned

        workers = max(1, min(workers, len(shards)))
        parts = partitions if partitions is not None else workers
        result = build_partitioned(
            shards,
            out=out,
            params=params,
            num_blocks=num_blocks,
            partitions=parts,
            workers=workers,
            describe=lambda stats, started_at: describe_source(
                inputs,
                field=field,
                stats=stats,
                expected_ngrams=expected,
                built_at=started_at,
                build={"partitions": parts, "workers": workers, "dask": dask is not None},
            ),
            progress=progress,
            dask=dask,
            dask_processes=dask_processes,
        )
        header, stats = result.header, result.stats
        layout = {
            "partitions": parts,
            "workers": workers,
            "resumed_shards": result.resumed_maps,
            "peak_rss": result.peak_rss,
        }
    if stats.ngrams > 1.25 * expected:
        logger.warning(
            "the index holds %d n-grams but was sized for %d: its false-positive rate is "
            "higher than the target %g; rebuild with --expected-ngrams %d",
            stats.ngrams,
            expected,
            params.fpr,
            stats.ngrams,
        )
    seconds = time.perf_counter() - started
    return BuildReport(str(out), header, stats, seconds, workers, layout)


def describe_source(
    inputs: Sequence[str | Path],
    *,
    field: str,
    stats: BuildStats,
    expected_ngrams: int,
    built_at: str | None = None,
    build: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``source`` block of an index header: what was indexed (and how), for people."""
    return {
        "inputs": [str(i) for i in inputs],
        "field": field,
        "expected_ngrams": expected_ngrams,
        "built_at": built_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **{k: v for k, v in asdict(stats).items() if k != "reject_reasons"},
        "reject_reasons": stats.reject_reasons,
        "build": build or {"partitions": 1, "workers": 1, "dask": False},
    }


def _build_here(
    shards: list[Shard],
    params: IndexParams,
    num_blocks: int,
    progress: ProgressCallback | None,
) -> tuple[BloomFilter, BuildStats]:
    done = [0, 0]

    def on_ngrams(grams: int) -> None:
        done[1] += grams
        if progress is not None:
            progress(done[0], done[1])

    def on_shard(shard: Shard, _stats: BuildStats) -> None:
        done[0] += shard.nbytes
        if progress is not None:
            progress(done[0], done[1])

    return build_partial(
        shards, params=params, num_blocks=num_blocks, on_shard=on_shard, on_ngrams=on_ngrams
    )
