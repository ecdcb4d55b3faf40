"""``leakguard review``: serve the review page over a redaction-log database."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from leakguard.commands.exit_codes import EXIT_OK
from leakguard.exceptions import ConfigError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "review",
        help="serve the review page for a redaction-log database",
        description=(
            "Serve a small web app to filter and read redaction-log records and record "
            "verdicts. Log in with audit.review_password (or the env var it names)."
        ),
    )
    p.add_argument("--db", required=True, metavar="PATH", help="SQLite redaction log")
    p.add_argument("--config", metavar="PATH", help="YAML config with the audit section")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8765)
    evidence = p.add_argument_group(
        "evidence package",
        "what the page's SOC 2 evidence package may be built from, besides this log (as "
        "'leakguard evidence' takes them; the browser only picks among these)",
    )
    for flag, meta in (
        ("--sanitize-run", "DIR"),
        ("--dp-run", "DIR"),
        ("--index", "PATH"),
        ("--probe", "PATH"),
    ):
        evidence.add_argument(flag, action="append", default=[], metavar=meta)
    evidence.add_argument(
        "--evidence-config",
        action="append",
        default=[],
        metavar="PATH",
        help="guard configs deployed in the period and DP job configs ('leakguard evidence "
        "--config'; repeatable)",
    )
    evidence.add_argument(
        "--evidence-dir",
        metavar="DIR",
        help="keep the packages built in DIR (default: a temporary directory, removed when "
        "the server stops)",
    )
    p.set_defaults(handler=run)


def review_password(config: Any) -> str:
    """The review secret the config resolved: ``audit.review_password`` or the env var
    ``audit.review_password_env`` names."""
    audit = config.audit
    secret = ""
    if audit.review_password is not None:
        secret = str(audit.review_password.get_secret_value())
    if len(secret) < 8:
        raise ConfigError(
            "the review page needs a password or token of at least 8 characters: set "
            f"audit.review_password or the environment variable {audit.review_password_env!r}"
        )
    return secret


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from leakguard.audit.chain import resolve_audit_key
    from leakguard.audit.evidence.jobs import EvidenceSources
    from leakguard.audit.review import create_app
    from leakguard.config import load_config

    config = load_config(args.config)
    if not Path(args.db).is_file():
        raise ConfigError(
            f"no redaction-log database at {args.db!r}: write one with audit.sink: sqlite, "
            "or import JSON Lines logs with 'leakguard audit import --db PATH DIR'"
        )
    sources = EvidenceSources(
        audit_log=Path(args.db),
        sanitize_runs=tuple(map(Path, args.sanitize_run)),
        dp_runs=tuple(map(Path, args.dp_run)),
        indexes=tuple(map(Path, args.index)),
        configs=tuple(map(Path, args.evidence_config)),
        probes=tuple(map(Path, args.probe)),
    )
    app = create_app(
        args.db,
        config=config,
        key=resolve_audit_key(config.audit),
        password=review_password(config),
        evidence=sources,
        evidence_dir=args.evidence_dir,
    )
    if not _loopback(args.host):
        print(
            f"leakguard: warning: serving the review page on {args.host} without TLS; "
            "put it behind an HTTPS proxy",
            file=sys.stderr,
        )
    print(f"leakguard review: http://{args.host}:{args.port}/ (Ctrl+C to stop)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
