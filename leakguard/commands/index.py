"""``leakguard index build|info``: index a training corpus for memorization detection."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, TextIO

from leakguard.commands.exit_codes import EXIT_ERROR, EXIT_OK


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "index",
        help="build or inspect an n-gram index of a training corpus",
        description="N-gram Bloom-filter indexes for memorization detection.",
    )
    commands = p.add_subparsers(dest="index_command", metavar="{build,info}")
    p.set_defaults(handler=lambda args: _missing(p))

    build = commands.add_parser(
        "build",
        help="index text files, directories, JSON Lines (.gz too)",
        description=(
            "Stream the inputs (directories recursively; *.jsonl/*.ndjson as JSON Lines, "
            "anything else as text; .gz decompressed), hash every word n-gram and write "
            "one memory-mappable Bloom-filter index."
        ),
    )
    build.add_argument("inputs", nargs="+", metavar="INPUT")
    build.add_argument("--out", required=True, metavar="PATH", help="index file to write")
    build.add_argument("--ngram", type=int, default=8, help="words per n-gram (default 8)")
    build.add_argument(
        "--fpr", type=float, default=1e-3, help="target false-positive rate (default 0.001)"
    )
    build.add_argument("--field", default="text", help="JSON Lines text field (default text)")
    build.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: all cores)",
    )
    build.add_argument(
        "--expected-ngrams",
        type=int,
        metavar="N",
        help="size the filter for N n-grams (default: estimated from the input sizes)",
    )
    build.add_argument(
        "--partitions",
        type=int,
        metavar="P",
        help="split the filter's blocks into P ranges, one per worker task at a time: memory "
        "per worker is the filter size / P (default: --workers; 1 worker: no split). "
        "Partitioned builds resume: rerun the same command after a crash",
    )
    build.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="build the partial filters on a Dask cluster: a scheduler address, or 'local' "
        "(--workers partials; needs leakguard[scale])",
    )
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(handler=run_build)

    info = commands.add_parser("info", help="print an index's parameters and fill")
    info.add_argument("path", metavar="PATH")
    info.add_argument("--format", choices=["text", "json"], default="text")
    info.add_argument("--verify", action="store_true", help="re-compute the checksum")
    info.set_defaults(handler=run_info)


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_ERROR


class ProgressBar:
    """Build progress on stderr: share of bytes done, n-grams, n-grams/s and an ETA.

    On a terminal one self-rewriting line (every ``every`` seconds); elsewhere (a log, CI)
    one plain line every ``log_every`` seconds, so logs stay readable.
    """

    def __init__(
        self, total_bytes: int, *, stream: TextIO, every: float = 0.5, log_every: float = 10.0
    ) -> None:
        self.total = max(total_bytes, 1)
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every if self.tty else log_every
        self.started = time.perf_counter()
        self.shown = 0.0 if self.tty else self.started
        self.first: tuple[float, int, int] | None = None  # (time, bytes, n-grams) at start
        self.logged_end = False

    def __call__(self, done_bytes: int, ngrams: int) -> None:
        now = time.perf_counter()
        if self.first is None:  # a resumed build starts with work already done
            self.first = (now, done_bytes, ngrams)
        finished = done_bytes >= self.total
        if now - self.shown < self.every and not finished:
            return
        if finished and not self.tty:  # one last line in a log, not one per late call
            if self.logged_end:
                return
            self.logged_end = True
        self.shown = now
        t0, b0, g0 = self.first
        elapsed = max(now - t0, 1e-9)
        share = min(done_bytes / self.total, 1.0)
        rate = (done_bytes - b0) / elapsed  # this run's own rate, not the resumed part's
        eta = (self.total - done_bytes) / rate if rate > 0 else float("nan")
        line = (
            f"{share:6.1%}  {ngrams / 1e6:9.2f}M n-grams  "
            f"{(ngrams - g0) / elapsed / 1e6:6.2f}M n-grams/s  ETA {_clock(eta)}"
        )
        if self.tty:
            bar = "#" * int(share * 30)
            self.stream.write(f"\r[{bar:<30}] {line}  ")
        else:
            self.stream.write(f"index build: {line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if math.isnan(seconds):  # nothing done yet
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def run_build(args: argparse.Namespace) -> int:
    from leakguard.corpus import plan_shards, shard_bytes
    from leakguard.memorization.build import build_index
    from leakguard.memorization.index import IndexParams

    try:
        params = IndexParams(ngram=args.ngram, fpr=args.fpr)
    except ValueError as exc:
        print(f"leakguard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    progress = None
    if not args.quiet:
        total = shard_bytes(plan_shards(args.inputs, field=args.field))
        progress = ProgressBar(total, stream=sys.stderr)
    if args.partitions is not None and args.partitions < 1:
        print(
            f"leakguard: error: --partitions must be at least 1, got {args.partitions}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    report = build_index(
        args.inputs,
        out=args.out,
        params=params,
        field=args.field,
        workers=args.workers,
        partitions=args.partitions,
        expected_ngrams=args.expected_ngrams,
        progress=progress,
        dask=args.dask,
    )
    if progress is not None:
        progress.close()
    stats = report.stats
    rate = stats.words / max(report.seconds, 1e-9)
    print(
        f"wrote {report.path}: {stats.records} records, {stats.words} words, "
        f"{stats.ngrams} n-grams, {stats.rejects} rejected, {report.seconds:.1f} s "
        f"({rate / 1e6:.2f}M words/s with {report.workers} workers)",
        file=sys.stderr,
    )
    layout = report.layout
    if layout.get("partitions", 1) > 1 or layout.get("resumed_shards"):
        peaks = ", ".join(f"{b / 2**20:.0f}" for b in layout.get("peak_rss", []))
        part_mib = report.header.bit_count / 8 / 2**20 / layout["partitions"]
        print(
            f"  {layout['partitions']} partitions of {part_mib:.1f} MiB"
            f"; {layout.get('resumed_shards', 0)} shards resumed from an earlier attempt; "
            f"peak memory per partition task: {peaks} MiB",
            file=sys.stderr,
        )
    for reason, count in sorted(stats.reject_reasons.items()):
        print(f"  rejected {count}: {reason}", file=sys.stderr)
    return EXIT_OK


def run_info(args: argparse.Namespace) -> int:
    from leakguard.memorization.bloom import BloomFilter

    bloom = BloomFilter.open(args.path, verify=args.verify)
    header = bloom.header
    info = header.to_json() | {
        "file_bytes": os.path.getsize(args.path),
        "fill_ratio": round(bloom.fill_ratio(), 6),
        "estimated_fpr": bloom.estimated_fpr(),
        "bytes_per_ngram": round(header.bit_count / 8 / max(header.items_added, 1), 4),
    }
    if args.verify:
        info["checksum_ok"] = True
    if args.format == "json":
        print(json.dumps(info, sort_keys=True))
        return EXIT_OK
    print(f"index         {args.path}")
    for key in ("ngram", "normalization_version", "unicode_version", "hash_scheme"):
        print(f"{key:<14}{header.params.get(key)}")
    print(f"format        v{header.format_version}, blocked Bloom filter")
    print(f"hash count    {header.hash_count} (one bit per 64-bit word of a 512-bit block)")
    print(f"bits          {header.bit_count} ({header.bit_count / 8 / 2**20:.1f} MiB)")
    print(f"items added   {header.items_added} ({info['bytes_per_ngram']} bytes per n-gram)")
    print(f"fill ratio    {info['fill_ratio']:.4f}")
    print(f"fpr           target {header.target_fpr:g}, estimated {info['estimated_fpr']:.3g}")
    print(f"checksum      {header.checksum}{' (verified)' if args.verify else ''}")
    source = header.source
    if source:
        print(f"source        {' '.join(source.get('inputs', []))} (field {source.get('field')})")
        print(
            f"              {source.get('records')} records, {source.get('words')} words, "
            f"{source.get('rejects')} rejected, built {source.get('built_at')}"
        )
        build = source.get("build") or {"partitions": 1, "workers": 1}
        parts = int(build.get("partitions", 1))
        where = "Dask tasks" if build.get("dask") else "worker processes"
        print(
            f"built         {parts} partition{'s' if parts != 1 else ''} of "
            f"{header.num_blocks // max(parts, 1)} blocks "
            f"({header.bit_count / 8 / 2**20 / max(parts, 1):.1f} MiB each), "
            f"{build.get('workers', 1)} {where}"
        )
    return EXIT_OK
