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
    from leakguard.audit.review import create_app
    from leakguard.config import load_config

    config = load_config(args.config)
    if not Path(args.db).is_file():
        raise ConfigError(
            f"no redaction-log database at {args.db!r}: write one with audit.sink: sqlite, "
            "or import JSON Lines logs with 'leakguard audit import --db PATH DIR'"
        )
    app = create_app(
        args.db,
        config=config,
        key=resolve_audit_key(config.audit),
        password=review_password(config),
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
