"""``leakguard scan``: guard files or standard input and print the result."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from leakguard.commands.exit_codes import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK
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
    p.add_argument(
        "--audit-log",
        metavar="DIR",
        help="write a redaction-log record per input to this JSON Lines directory",
    )
    p.add_argument(
        "--index",
        metavar="PATH",
        help="also flag memorized training text with this n-gram index (leakguard index build)",
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


def _audit_sink(config: Any, directory: str | None) -> Any:
    """The redaction-log sink asked for by ``--audit-log DIR`` or the config, if any."""
    if directory is None and not config.audit.enabled:
        return None
    from leakguard.audit.sinks import open_sink

    if directory is not None:
        audit = config.audit.model_copy(
            update={"enabled": True, "sink": "jsonl", "path": directory}
        )
        config = config.model_copy(update={"audit": audit})
    return open_sink(config)


def _audited(sink: Any, guard: Any, text: str, outcome: Outcome, scan_ms: float) -> bool:
    """Emit this input's record; False if the log refused it (the input then fails closed)."""
    import uuid

    from leakguard.events import ScanEvent, evidence_for

    event = ScanEvent(
        source="scan",
        request_id=uuid.uuid4().hex,
        action=outcome.action,
        evidence=evidence_for(text, outcome.findings),
        policy_version=guard.policy_version,
        fully_scanned=not (outcome.reason or "").startswith("detector_error"),
        reason=outcome.reason,
        scan_ms=scan_ms,
        text_chars=len(text),
    )
    return bool(sink.emit(event))


def run(args: argparse.Namespace) -> int:
    from leakguard.config import load_config
    from leakguard.guard import Guard

    config = load_config(args.config)
    if args.index is not None:
        memorization = config.memorization.model_copy(update={"index": args.index})
        config = config.model_copy(update={"memorization": memorization})
    sink = _audit_sink(config, args.audit_log)  # before loading models: a bad path fails fast
    try:
        code = _scan_all(args, Guard(config), sink)
    finally:
        if sink is not None:
            sink.close()
    if sink is not None and sink.stats().lost:
        lost = sink.stats().lost
        print(
            f"leakguard: error: {lost} redaction-log records could not be written", file=sys.stderr
        )
        return EXIT_ERROR
    return code


def _scan_all(args: argparse.Namespace, guard: Any, sink: Any) -> int:
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
        started = time.perf_counter()
        outcome = guard.scan(text)
        scan_ms = (time.perf_counter() - started) * 1000
        if sink is not None and not _audited(sink, guard, text, outcome, scan_ms):
            print(
                f"leakguard: error: the redaction log refused the record for {source!r}; "
                "nothing was printed for it",
                file=sys.stderr,
            )
            errors += 1
            continue
        blocked += outcome.action is OutcomeAction.BLOCK
        if args.format == "json":
            name = source if several else None
            print(_as_json(outcome, text, source=name, show=args.show_values))
        else:
            sys.stdout.write(outcome.text if outcome.text.endswith("\n") else outcome.text + "\n")
    if errors:
        return EXIT_ERROR
    return EXIT_BLOCKED if blocked else EXIT_OK
