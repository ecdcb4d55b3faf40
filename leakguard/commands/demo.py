"""``leakguard demo``: see the guard work in a few seconds, offline, then exit."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from typing import Any

from leakguard.commands.exit_codes import EXIT_ERROR, EXIT_OK


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the guard in front of a fake model and show what it changes",
        description=(
            "Start a fake OpenAI-compatible model server that leaks personal data and a "
            "passage of a small bundled training corpus, put the guarded proxy in front of "
            "it, send a few requests with the openai SDK and show, side by side, what the "
            "model said and what the client received. Runs offline and exits by itself."
        ),
    )
    p.add_argument(
        "--no-ner", action="store_true", help="pattern recognizers only (no spaCy model)"
    )
    p.set_defaults(handler=run)


def side_by_side(left: str, right: str, width: int) -> list[str]:
    column = max(20, (width - 3) // 2)
    a = textwrap.wrap(left, column) or [""]
    b = textwrap.wrap(right, column) or [""]
    rows = max(len(a), len(b))
    a += [""] * (rows - len(a))
    b += [""] * (rows - len(b))
    return [f"{x:<{column}} | {y}" for x, y in zip(a, b, strict=True)]


def run(args: argparse.Namespace) -> int:
    from leakguard.demo import run_demo

    def progress(message: str) -> None:
        print(f"leakguard demo: {message}", file=sys.stderr)

    exchanges = run_demo(ner=not args.no_ner, progress=progress)
    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    column = max(20, (width - 3) // 2)
    for exchange in exchanges:
        print()
        print(f"== {exchange.title}  [{exchange.api}]")
        print(f"{'the model said':<{column}} | the client received")
        print(f"{'-' * column}-+-{'-' * column}")
        for line in side_by_side(exchange.said, exchange.received, width):
            print(line)
    changed = sum(e.said != e.received for e in exchanges)
    print()
    print(f"{changed} of {len(exchanges)} answers were changed before they reached the client.")
    print("Next: leakguard serve --upstream http://127.0.0.1:8000 (your model server)")
    return EXIT_OK if changed == len(exchanges) else EXIT_ERROR
