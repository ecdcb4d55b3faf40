"""The ``leakguard`` command: a thin dispatcher over :mod:`leakguard.commands`.

Only the CLI prints or exits. Each sub-command lives in its own module under
``leakguard/commands`` and exposes ``add_parser(subparsers)``; heavy imports happen
inside the command's ``run``, so ``leakguard --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from leakguard import __version__
from leakguard.commands.exit_codes import (
    EXIT_BLOCKED,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
)
from leakguard.exceptions import Interrupted, LeakGuardError

__all__ = ["EXIT_BLOCKED", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "build_parser", "main"]


# One module per sub-command (or group of sub-commands).
COMMAND_MODULES: tuple[str, ...] = (
    "leakguard.commands.scan",
    "leakguard.commands.eval",
    "leakguard.commands.index",
    "leakguard.commands.sanitize",
    "leakguard.commands.devset",
    "leakguard.commands.audit",
    "leakguard.commands.review",
    "leakguard.commands.evidence",
    "leakguard.commands.dp",
    "leakguard.commands.serve",
    "leakguard.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leakguard",
        description="Stop LLM services from leaking PII and memorized training data.",
    )
    parser.add_argument("--version", action="version", version=f"leakguard {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output on stderr"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:
        # Presidio warns about every recognizer of another language it skips: noise for users.
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    if args.verbose < 1:
        # Dask configures its own loggers at import (INFO: dozens of lines per local cluster)
        # from its config, which this environment variable sets; worker processes inherit it.
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    try:
        code: int = args.handler(args)
    except LeakGuardError as exc:
        print(f"leakguard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        detail = exc.detail if isinstance(exc, Interrupted) else ""
        print(f"leakguard: interrupted{': ' + detail if detail else ''}", file=sys.stderr)
        terminated = isinstance(exc, Interrupted) and exc.signal_name == "SIGTERM"
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
