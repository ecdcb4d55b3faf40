"""A large index build on this machine: time and peak memory per worker (issue 22, item 3).

Generates a corpus of ``--ngrams`` words (words drawn uniformly from a 200,000-word generated
vocabulary, so nearly every 8-gram is distinct: the filter is sized for all of them), then
builds it twice, side by side in one run: in one process (the whole filter in memory) and
partitioned (``--workers`` processes, ``--partitions`` block ranges). Peak memory is each
process's own maximum resident set (``getrusage``), the one-process build measured in a
child process so this script's corpus generation does not count.

    .venv/bin/python bench/bench_index_scale.py --ngrams 100_000_000 --workers 2 --partitions 8
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from leakguard.memorization.build import build_index
from leakguard.memorization.index import IndexParams


def write_corpus(folder: Path, words: int, files: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i:x}" for i in rng.permutation(200_000)])
    for f in range(files):
        with (folder / f"part{f:03d}.txt").open("w", encoding="utf-8") as out:
            left = words // files
            while left > 0:
                count = min(left, 2_000_000)
                drawn = vocab[rng.integers(0, len(vocab), count)].tolist()
                lines = (" ".join(drawn[i : i + 1000]) for i in range(0, count, 1000))
                out.write("\n".join(lines) + "\n")  # a text file is one record
                left -= count


def one_process(corpus: str, out: str, expected: int) -> None:
    """Run in a child: the in-memory build, then print its CPU time and peak RSS."""
    cpu = time.process_time()
    report = build_index([corpus], out=out, params=IndexParams(), expected_ngrams=expected)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": report.seconds,
                "cpu": time.process_time() - cpu,
                "peak_rss": usage.ru_maxrss * 1024,
                "ngrams": report.stats.ngrams,
                "bytes": Path(out).stat().st_size,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ngrams", type=int, default=100_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        one_process(args.child[0], args.child[1], int(args.child[2]))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="lg-bench-scale-"))
    corpus = tmp / "corpus"
    corpus.mkdir()
    started = time.perf_counter()
    write_corpus(corpus, args.ngrams, args.files)
    size = sum(p.stat().st_size for p in corpus.iterdir())
    print(
        f"# corpus: {args.ngrams} words in {args.files} files, {size / 2**30:.2f} GiB "
        f"(generated in {time.perf_counter() - started:.0f} s)"
    )
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(corpus), str(tmp / "one.lgx"), str(args.ngrams)],
        capture_output=True,
        text=True,
        check=True,
    )
    one = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"one process: {one['seconds']:.1f} s wall, {one['cpu']:.1f} s CPU "
        f"({one['ngrams'] / one['cpu'] / 1e6:.2f}M n-grams per CPU-second), peak RSS "
        f"{one['peak_rss'] / 2**20:.0f} MiB; filter {one['bytes'] / 2**20:.0f} MiB "
        f"({one['bytes'] / one['ngrams']:.3f} bytes per n-gram)"
    )
    cpu = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = build_index(
        [corpus],
        out=tmp / "parted.lgx",
        params=IndexParams(),
        workers=args.workers,
        partitions=args.partitions,
        expected_ngrams=args.ngrams,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (time.process_time() - cpu) + (
        after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    )
    peaks = report.layout["peak_rss"]
    same = (tmp / "one.lgx").read_bytes()[4096:] == (tmp / "parted.lgx").read_bytes()[4096:]
    print(
        f"partitioned ({args.workers} workers, {args.partitions} partitions of "
        f"{one['bytes'] / args.partitions / 2**20:.0f} MiB): {report.seconds:.1f} s wall, "
        f"{used:.1f} s CPU ({report.stats.ngrams / used / 1e6:.2f}M n-grams per CPU-second); "
        f"peak RSS per worker process {sorted({round(p / 2**20) for p in peaks})} MiB, "
        f"this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
        f"same bits as one process: {same}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
