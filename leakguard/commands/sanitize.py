"""``leakguard sanitize``: strip personal data from a training corpus before training."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from leakguard.commands.exit_codes import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sanitize",
        help="remove PII from a training corpus (text, JSON Lines, gzip), with a report",
        description=(
            "Apply the configured PII policy to every record of the inputs and write the "
            "sanitized corpus to OUT/data in the same format, with OUT/rejects, "
            "OUT/manifest.json, OUT/report.json and OUT/SANITIZATION.md. Redacted values "
            "become corpus-wide keyed pseudonyms (key: sanitize.pseudonym_key or the env var "
            "named by sanitize.pseudonym_key_env). Rerun with the same OUT to resume."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or directories")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--config", metavar="PATH", help="YAML config (default: embedded defaults)")
    p.add_argument("--field", default="text", help="JSON Lines text field (default: text)")
    p.add_argument(
        "--format-preserving",
        action="store_true",
        help="replace values with realistic fakes of the same kind instead of pseudonyms",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="local worker processes (default: all cores)"
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the shards on a Dask cluster: a scheduler address, or 'local'",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(handler=run)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class _ProgressLine:
    """One line on stderr, redrawn in place on a terminal, else printed every few seconds."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        final = progress.shards_done == progress.shards_total
        if not self._tty and not final and now - self._last < 5:
            return
        self._last = now
        width = 24
        filled = int(width * progress.bytes_done / max(progress.bytes_total, 1))
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {progress.shards_done}/"
            f"{_count(progress.shards_total, 'shard')}, {progress.records:,} records, "
            f"{progress.records_per_s:,.0f} rec/s, ETA {_duration(progress.eta_s)}"
        )
        end = "\n" if final or not self._tty else ""
        print(("\r" if self._tty else "") + line, end=end, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from leakguard.config import load_config
    from leakguard.executors import terminate_as_interrupt
    from leakguard.sanitize.pseudonyms import resolve_pseudonym_key
    from leakguard.sanitize.run import sanitize_corpus

    config = load_config(args.config)
    if args.format_preserving:
        sanitize = config.sanitize.model_copy(update={"format_preserving": True})
        config = config.model_copy(update={"sanitize": sanitize})
    key = resolve_pseudonym_key(config.sanitize)
    sink = None
    if config.audit.enabled:  # opened before any work: a bad log path fails fast
        from leakguard.audit.sinks import open_sink

        sink = open_sink(config)
    try:
        with terminate_as_interrupt():  # SIGTERM stops the workers too, like Ctrl-C
            summary = sanitize_corpus(
                args.inputs,
                args.out,
                config=config,
                key=key,
                field=args.field,
                workers=args.workers,
                dask=args.dask,
                on_progress=None if args.no_progress else _ProgressLine(),
                sink=sink,
            )
    finally:
        if sink is not None:
            sink.close()
    print(
        f"leakguard: {summary.records_in:,} records read, {summary.records_out:,} written, "
        f"{summary.rejected:,} rejected; {_count(len(summary.shards), 'shard')} done "
        f"({summary.resumed} from an earlier run) in {summary.seconds:.1f} s; "
        f"report: {summary.out_dir / 'SANITIZATION.md'}",
        file=sys.stderr,
    )
    for failed in summary.failed:
        print(
            f"leakguard: error: shard {failed.shard_id} of {failed.source!r} failed "
            f"({failed.error}); rerun with the same --out to retry it",
            file=sys.stderr,
        )
    unlogged = summary.audited is False or (sink is not None and sink.stats().lost > 0)
    if unlogged:
        print(
            "leakguard: error: the redaction log did not take this run's entry; the corpus "
            "was sanitized, but the run has no audit record",
            file=sys.stderr,
        )
    if summary.failed or unlogged:
        return EXIT_ERROR
    return EXIT_BLOCKED if summary.rejected else EXIT_OK
