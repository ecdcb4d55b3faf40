"""``leakguard evidence``: the SOC 2 evidence package for a period; ``evidence verify``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from leakguard.commands.exit_codes import EXIT_BLOCKED, EXIT_OK

_VERIFY = "verify"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evidence",
        help="build the SOC 2 evidence package for a period (or: evidence verify DIR)",
        description=(
            "Join the redaction log, guard configs, sanitize run, DP run and memorization "
            "index into evidence.json, evidence.html, EVIDENCE.md and manifest.json for the "
            "period. Exits 3 when the package holds error findings (it is still written). "
            "'leakguard evidence verify DIR' re-checks a package against its inputs."
        ),
    )
    p.add_argument(
        "action", nargs="*", metavar="verify DIR", help="re-check the package in DIR instead"
    )
    p.add_argument("--from", dest="first", metavar="DATE", help="first day (UTC)")
    p.add_argument("--to", dest="last", metavar="DATE", help="last day, included")
    p.add_argument("--out", metavar="DIR", help="new or empty output directory")
    p.add_argument(
        "--audit-log",
        action="append",
        default=[],
        metavar="PATH",
        help="redaction log: JSON Lines directory or SQLite database (repeatable)",
    )
    p.add_argument("--sanitize-run", action="append", default=[], metavar="DIR")
    p.add_argument("--dp-run", action="append", default=[], metavar="DIR")
    p.add_argument("--index", action="append", default=[], metavar="PATH")
    p.add_argument(
        "--probe",
        action="append",
        default=[],
        metavar="PATH",
        help="'leakguard dp probe' results (probe.json or its directory; repeatable); those "
        "inside a --dp-run are found on their own",
    )
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="PATH",
        help="guard configs deployed in the period and DP job configs (repeatable); the "
        "first guard config with an audit key gives the key (else LEAKGUARD_AUDIT_KEY)",
    )
    p.add_argument("--anchor", metavar="PATH", help="an earlier package to check this log against")
    p.add_argument("--sample", type=int, default=25, metavar="N", help="records to sample (25)")
    p.add_argument("--seed", help="sample seed (default: derived from the period)")
    p.add_argument(
        "--allow-open",
        action="store_true",
        help="streams still being written (no closing seal) are not flagged as truncated",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from leakguard.exceptions import ConfigError

    if args.action:
        if args.action[0] != _VERIFY or len(args.action) != 2:
            raise ConfigError(
                f"unexpected arguments {' '.join(args.action)!r}: use 'leakguard evidence "
                "verify DIR', or build a package with --from, --to, --audit-log and --out"
            )
        return run_verify(Path(args.action[1]), allow_open=args.allow_open)
    missing = [
        name
        for name, value in (
            ("--from", args.first),
            ("--to", args.last),
            ("--out", args.out),
            ("--audit-log", args.audit_log),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"leakguard evidence needs {', '.join(missing)}")
    return run_build(args)


def run_build(args: argparse.Namespace) -> int:
    from leakguard.audit.evidence import EvidenceInputs, build_evidence, parse_period

    inputs = EvidenceInputs(
        audit_logs=tuple(map(Path, args.audit_log)),
        sanitize_runs=tuple(map(Path, args.sanitize_run)),
        dp_runs=tuple(map(Path, args.dp_run)),
        indexes=tuple(map(Path, args.index)),
        configs=tuple(map(Path, args.config)),
        probes=tuple(map(Path, args.probe)),
    )
    result = build_evidence(
        inputs,
        period=parse_period(args.first, args.last),
        out=args.out,
        sample_size=args.sample,
        seed=args.seed,
        anchor=args.anchor,
        allow_open=args.allow_open,
    )
    op = result.evidence["operation"]
    anchor = result.evidence["integrity"]["anchor"]["digest"]
    print(
        f"wrote {result.out_dir}/evidence.json, evidence.html, EVIDENCE.md, manifest.json: "
        f"{op['guarded']:,} responses guarded, {len(result.flags)} findings "
        f"({result.errors} errors); anchor {anchor}"
    )
    for flag in result.flags:
        print(f"  {flag.severity}: {flag.section}: {flag.code}: {flag.message}", file=sys.stderr)
    return EXIT_BLOCKED if result.errors else EXIT_OK


def run_verify(directory: Path, *, allow_open: bool) -> int:
    from leakguard.audit.evidence import verify_evidence

    check = verify_evidence(directory, allow_open=allow_open)
    for note in check.notes:
        print(f"  note: {note}", file=sys.stderr)
    for problem in check.problems:
        print(f"  {problem}", file=sys.stderr)
    state = "verified" if check.ok else f"NOT verified: {len(check.problems)} problems"
    print(
        f"{directory}: {state} ({check.outputs} outputs, {check.inputs} input files, "
        f"{check.streams} streams re-checked)"
    )
    return EXIT_OK if check.ok else EXIT_BLOCKED
