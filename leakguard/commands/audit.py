"""``leakguard audit``: verify, summarize, export and import redaction logs.

Every sub-command takes log paths: JSON Lines directories or files, or SQLite databases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from leakguard.commands.exit_codes import EXIT_ERROR, EXIT_OK

# `audit verify` found tampering (distinct from 2, "the command could not run").
EXIT_TAMPERED = 1


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "audit",
        help="verify, summarize, export and import redaction logs",
        description="Work with redaction logs: JSON Lines directories/files or SQLite databases.",
    )
    sub = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    v = sub.add_parser(
        "verify", help="check hash chains: edits, deletions, re-ordering, truncation"
    )
    _paths_and_config(v)
    v.add_argument(
        "--allow-open",
        action="store_true",
        help="a stream without its closing seal is still being written, not truncated",
    )
    v.add_argument("--format", choices=["text", "json"], default="text")
    v.set_defaults(handler=run_verify)

    s = sub.add_parser("summary", help="counts by label, action, route, model, day; top repeats")
    _paths_and_config(s, config=False)
    _filters(s)
    s.add_argument("--top", type=int, default=10, help="most repeated fingerprints to list")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(handler=run_summary)

    e = sub.add_parser("export", help="write matching records as CSV or JSON Lines")
    _paths_and_config(e, config=False)
    _filters(e)
    e.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    e.set_defaults(handler=run_export)

    i = sub.add_parser("import", help="copy JSON Lines logs into a SQLite database")
    _paths_and_config(i, config=False)
    i.add_argument("--db", required=True, metavar="PATH", help="database (created if missing)")
    i.set_defaults(handler=run_import)

    a = sub.add_parser(
        "allowlist", help="print a pii.allow_fingerprints snippet from false-positive verdicts"
    )
    _paths_and_config(a, config=False)
    a.set_defaults(handler=run_allowlist)

    f = sub.add_parser(
        "fingerprint",
        help="print the keyed fingerprint of a value read from stdin (for route rules)",
        description=(
            "Read one value from stdin (never from the command line, so it stays out of "
            "shell history and process lists) and print its keyed fingerprint under the "
            "audit key: the form audit records give the tenant header, and the form "
            "online.routes[].fingerprints compares request headers by."
        ),
    )
    f.add_argument("--config", metavar="PATH", help="YAML config with the audit key")
    f.set_defaults(handler=run_fingerprint)


def _paths_and_config(p: argparse.ArgumentParser, *, config: bool = True) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="log directories, files or databases")
    if config:
        p.add_argument(
            "--config",
            metavar="PATH",
            help="YAML config with the audit key (default: the env var LEAKGUARD_AUDIT_KEY)",
        )


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", metavar="TIME", help="UTC ISO date or time, inclusive")
    p.add_argument("--until", metavar="TIME", help="UTC ISO date or time, exclusive")
    p.add_argument("--label", help="only records with a finding of this label")
    p.add_argument("--action", choices=["pass", "redact", "block"])
    p.add_argument("--route")
    p.add_argument("--model")
    p.add_argument("--source", help="scan, middleware, sanitize, ...")


def _where(args: argparse.Namespace) -> Any:
    from leakguard.audit.db import RecordFilter

    return RecordFilter(
        since=args.since,
        until=args.until,
        label=args.label,
        action=args.action,
        route=args.route,
        model=args.model,
        source=args.source,
    )


def run_verify(args: argparse.Namespace) -> int:
    from leakguard.audit.chain import resolve_audit_key
    from leakguard.audit.verify import verify
    from leakguard.config import load_config

    key = resolve_audit_key(load_config(args.config).audit)
    report = verify(args.paths, key=key, allow_open=args.allow_open)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "streams": [_asdict(s) for s in report.streams],
                    "problems": [_asdict(p) for p in report.problems],
                }
            )
        )
    else:
        for stream in report.streams:
            state = "sealed" if stream.sealed else "open"
            if stream.live and not stream.sealed:
                state = "open (being written now)"
            print(
                f"stream {stream.stream}: {stream.records} records in {stream.segments} "
                f"segment(s), {state}, head {stream.head}"
            )
        for problem in report.problems:
            print(f"PROBLEM {problem}")
        verdict = "OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        open_now = [s.stream for s in report.streams if s.live and not s.sealed]
        if open_now:
            verdict += f" ({len(open_now)} open, being written: {', '.join(open_now)})"
        print(f"{len(report.streams)} stream(s): {verdict}")
    if not report.streams:
        print("leakguard: error: no redaction-log records found", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK if report.ok else EXIT_TAMPERED


def _asdict(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def run_summary(args: argparse.Namespace) -> int:
    from leakguard.audit.report import summarize
    from leakguard.audit.verify import iter_records

    summary = summarize(iter_records(args.paths), where=_where(args), top=args.top)
    if args.format == "json":
        print(json.dumps(summary.as_dict()))
        return EXIT_OK
    print(f"records: {summary.records}   findings: {summary.findings}")
    if summary.not_fully_scanned:
        print(f"not fully scanned: {summary.not_fully_scanned}")
    for title, counts in (
        ("action", summary.by_action),
        ("label", summary.by_label),
        ("route", summary.by_route),
        ("model", summary.by_model),
        ("day", summary.by_day),
        ("verdict", summary.by_verdict),
    ):
        if counts:
            print(f"\nby {title}:")
            width = max(len(name) for name in counts)
            for name, n in counts.items():
                print(f"  {name:<{width}}  {n}")
    if summary.top_fingerprints:
        print("\nrepeated values (keyed fingerprints):")
        for label, fingerprint, n, responses in summary.top_fingerprints:
            print(f"  {label:<16} {fingerprint}  {n} findings in {responses} responses")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    from leakguard.audit.report import export
    from leakguard.audit.verify import iter_records

    where = _where(args)
    records = iter_records(args.paths)
    verdicts = (r for r in iter_records(args.paths) if r.get("kind") == "verdict")
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = export(records, out, fmt=args.format, where=where, verdicts=verdicts)
    else:
        try:
            count = export(records, sys.stdout, fmt=args.format, where=where, verdicts=verdicts)
            sys.stdout.flush()
        except BrokenPipeError:  # `audit export | head`: the reader has all it wanted
            _quiet_stdout()
            return EXIT_OK
    print(f"exported {count} records", file=sys.stderr)
    return EXIT_OK


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so the interpreter's final flush
    does not print a second BrokenPipeError on the way out."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_fingerprint(args: argparse.Namespace) -> int:
    from leakguard.audit.chain import resolve_audit_key
    from leakguard.config import load_config

    key = resolve_audit_key(load_config(args.config).audit)
    value = sys.stdin.readline().rstrip("\r\n").strip()
    if not value:
        print("leakguard: error: no value on stdin", file=sys.stderr)
        return EXIT_ERROR
    print(key.fingerprint("TENANT", value))
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    from leakguard.audit.report import import_logs

    result = import_logs(args.paths, args.db)
    for line in result.unreadable:
        print(f"leakguard: skipped unreadable record {line}", file=sys.stderr)
    print(
        f"imported {result.imported} records into {args.db} "
        f"({result.duplicates} already there); check it with: leakguard audit verify {args.db}"
    )
    return EXIT_ERROR if result.unreadable else EXIT_OK


def run_allowlist(args: argparse.Namespace) -> int:
    from leakguard.audit.report import allowlist_yaml
    from leakguard.audit.verify import iter_records

    sys.stdout.write(allowlist_yaml(iter_records(args.paths)))
    return EXIT_OK
