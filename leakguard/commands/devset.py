"""``leakguard devset``: write the seeded, labelled dev set (``leakguard eval`` input)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "devset",
        help="write a seeded labelled dev set of assistant-style answers (JSON Lines)",
        description=(
            "Faker values (50+ locales) in our own templates. The tune, heldout and fresh splits "
            "share no template and no locale; report each."
        ),
    )
    p.add_argument("output", metavar="OUT.jsonl")
    p.add_argument("--split", choices=["tune", "heldout", "fresh"], default="heldout")
    p.add_argument("--count", type=int, default=1000, help="number of texts (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from leakguard.evaluation.devset import generate, write_jsonl

    n = write_jsonl(generate(args.split, count=args.count, seed=args.seed), args.output)
    print(f"wrote {n} texts ({args.split} split, seed {args.seed}) to {args.output}")
    return 0
