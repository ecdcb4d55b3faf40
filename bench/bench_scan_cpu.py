"""CPU time per ``Guard.scan`` (``time.process_time``): an A/B of two checkouts that holds up
on a shared, loaded machine, where wall-clock medians swing by +-20%.

    cd TREE && PYTHONPATH=TREE .venv/bin/python bench/bench_scan_cpu.py [MODEL ...]

Run it in each tree in turn (A B B A) and compare the figures: median over 7 rounds of the
CPU milliseconds per scan of 40 generated assistant answers of 200 and 1,000 characters,
for each ``pii.spacy_model`` given (default: ``none`` and ``models/pii-ner/model``).
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from texts import assistant_text

from leakguard.config import parse_config
from leakguard.guard import Guard


def main(models: list[str]) -> None:
    logging.disable(logging.WARNING)  # Presidio's notes on recognizers of other languages
    for model in models:
        guard = Guard(parse_config({"pii": {"spacy_model": model}}))
        for length in (200, 1000):
            texts = [assistant_text(length, seed=s) for s in range(40)]
            for text in texts:  # warm up
                guard.scan(text)
            rounds = []
            for _ in range(7):
                start = time.process_time()
                for text in texts:
                    guard.scan(text)
                rounds.append((time.process_time() - start) * 1000 / len(texts))
            print(f"{model:>24} {length:>5} chars  {statistics.median(rounds):.3f} CPU ms/scan")


if __name__ == "__main__":
    main(sys.argv[1:] or ["none", "models/pii-ner/model"])
