"""``leakguard scan``: guard files or standard input and print the result."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from leakguard.cli import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK
from leakguard.findings import Outcome, OutcomeAction


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "scan",
        help="redact or block PII in texts",
        description="Guard each input text and print what a client would receive.",
    )
    p.add_argument("inputs", nargs="*", default=["-"], metavar="FILE", help="files, or - for stdin")
    p.add_argument("--config", metavar="PATH", help="YAML config (default: embedded defaults)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--show-values",
        action="store_true",
        help="include the detected values in JSON output (never use where output is logged)",
    )
    p.set_defaults(handler=run)


def _read(source: str) -> str:
    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    return data.decode("utf-8")


def _as_json(outcome: Outcome, text: str, *, source: str | None, show: bool) -> str:
    findings = []
    for finding in outcome.findings:
        item = finding.to_dict()
        if show:
            item["value"] = text[finding.start : finding.end]
        findings.append(item)
    record: dict[str, Any] = {}
    if source is not None:
        record["source"] = source
    record |= {"action": outcome.action.value, "text": outcome.text, "findings": findings}
    if outcome.reason:
        record["reason"] = outcome.reason
    return json.dumps(record, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    from leakguard.config import load_config
    from leakguard.guard import Guard

    guard = Guard(load_config(args.config))
    several = len(args.inputs) > 1
    errors = blocked = 0
    for source in args.inputs:
        try:
            text = _read(source)
        except OSError as exc:
            print(f"leakguard: error: cannot read {source!r}: {exc.strerror}", file=sys.stderr)
            errors += 1
            continue
        except UnicodeDecodeError as exc:
            print(
                f"leakguard: error: {source!r} is not valid UTF-8 "
                f"(byte offset {exc.start}); nothing was printed for it",
                file=sys.stderr,
            )
            errors += 1
            continue
        outcome = guard.scan(text)
        blocked += outcome.action is OutcomeAction.BLOCK
        if args.format == "json":
            name = source if several else None
            print(_as_json(outcome, text, source=name, show=args.show_values))
        else:
            sys.stdout.write(outcome.text if outcome.text.endswith("\n") else outcome.text + "\n")
    if errors:
        return EXIT_ERROR
    return EXIT_BLOCKED if blocked else EXIT_OK
