"""Guard.scan (default config) vs stock Presidio, same texts, same run.

Stock Presidio is Presidio's own ``AnalyzerEngine`` on its own ``SpacyNlpEngine`` with
``en_core_web_sm`` (leakguard.evaluation.baseline.stock_presidio): nothing of leakguard's
in its path.

    .venv/bin/python bench/bench_scan.py [--repeats 30]

Reports median ms per call for ~200, 1,000 and 5,000-character assistant answers and the
ratio leakguard / stock (target <= 0.5). Runs are interleaved so machine noise hits both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's leakguard

from texts import assistant_text

from leakguard.config import VANILLA_SPACY_MODEL, LeakGuardConfig
from leakguard.evaluation.baseline import stock_presidio
from leakguard.guard import Guard


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    config = LeakGuardConfig()
    guard = Guard(config)
    vanilla = stock_presidio(VANILLA_SPACY_MODEL, language=config.pii.language)
    entities = list(config.pii.entities)
    systems: dict[str, Callable[[str], object]] = {
        "leakguard Guard.scan": guard.scan,
        "stock Presidio (all recognizers)": lambda t: vanilla.analyze(text=t, language="en"),
        "stock Presidio (same entities)": lambda t: vanilla.analyze(
            text=t, language="en", entities=entities
        ),
    }
    print(
        f"{'chars':>6}  "
        + "  ".join(f"{name:>36}" for name in systems)
        + "  ratio(all)  ratio(same)"
    )
    for length in (200, 1000, 5000):
        texts = [assistant_text(length, seed=s) for s in range(args.repeats)]
        for fn in systems.values():  # warm up
            fn(texts[0])
        times: dict[str, list[float]] = {name: [] for name in systems}
        for text in texts:
            for name, fn in systems.items():
                times[name].append(timed(lambda fn=fn, text=text: fn(text)))
        med = {name: statistics.median(v) for name, v in times.items()}
        names = list(systems)
        print(
            f"{length:>6}  "
            + "  ".join(f"{med[n]:>33.2f} ms" for n in names)
            + f"  {med[names[0]] / med[names[1]]:>10.3f}  {med[names[0]] / med[names[2]]:>11.3f}"
        )


if __name__ == "__main__":
    main()
