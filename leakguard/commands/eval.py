"""``leakguard eval``: score the configured guard (and vanilla Presidio) on labelled data."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "eval",
        help="recall / precision / F2 / ms per text on a labelled JSON Lines data set",
        description=(
            'Each line: {"text": ..., "spans": [{"start", "end", "label"}, ...]}. '
            "Recall counts labelled spans >= 80%% covered by any finding; precision counts "
            "findings that touch labelled text."
        ),
    )
    p.add_argument("dataset", metavar="DATASET.jsonl")
    p.add_argument("--config", metavar="PATH", help="YAML config (default: embedded defaults)")
    p.add_argument(
        "--baseline",
        choices=["presidio", "none"],
        default="presidio",
        help="also score stock Presidio (its own AnalyzerEngine and SpacyNlpEngine with the "
        "small English spaCy pipeline, nothing of leakguard's), in the same run",
    )
    p.add_argument("--limit", type=int, default=None, help="score only the first N texts")
    p.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from leakguard.config import VANILLA_SPACY_MODEL, load_config
    from leakguard.evaluation.baseline import stock_presidio
    from leakguard.evaluation.scoring import Span, evaluate, format_table, load_dataset
    from leakguard.guard import Guard

    config = load_config(args.config)
    data = load_dataset(args.dataset)[: args.limit]
    guard = Guard(config)

    def ours(text: str) -> list[Span]:
        return [Span(f.start, f.end, f.label) for f in guard.scan(text).findings]

    systems: list[tuple[str, Any]] = [("leakguard", ours)]
    if args.baseline == "presidio":
        analyzer = stock_presidio(VANILLA_SPACY_MODEL, language=config.pii.language)

        def vanilla(text: str) -> list[Span]:
            results = analyzer.analyze(text=text, language=config.pii.language)
            return [Span(r.start, r.end, r.entity_type) for r in results]

        systems.append(("presidio", vanilla))
    for _, system in systems:  # warm up: first calls load lazy parts of spaCy
        system("Warm up with Jane Doe, jane@example.com.")
    reports = [evaluate(system, data, name=name) for name, system in systems]
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        print(format_table(reports, markdown=args.format == "markdown"))
    return 0
