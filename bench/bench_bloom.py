"""Side by side on the same n-gram hashes: leakguard's blocked Bloom filter vs rbloom
(persistable mode: an explicit hash function) vs a Python ``set`` of the hashes.

Measures add and query throughput, bytes per item and the measured false-positive rate.
Medians of ``--repeat`` runs; ratios against leakguard's batch path.

    .venv/bin/python bench/bench_bloom.py [--items 2000000] [--queries 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rbloom import Bloom

from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.ngrams import ngram_hashes, word_hashes


def _ngram_hashes(count: int, seed: int) -> np.ndarray:
    """Real n-gram hashes: random words from a Zipf-like vocabulary, hashed as 8-grams."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{seed}x{i}" for i in range(50_000)]
    ranks = np.minimum(rng.zipf(1.2, count + 7), len(vocab)) - 1
    return ngram_hashes(word_hashes([vocab[r] for r in ranks]), 8)


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _identity(item: int) -> int:
    return item


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2_000_000)
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--fpr", type=float, default=1e-3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    items = np.unique(_ngram_hashes(args.items, seed=1))
    queries = _ngram_hashes(args.queries, seed=2)  # another vocabulary: all absent
    queries = queries[~np.isin(queries, items)]
    items_list, queries_list = items.tolist(), queries.tolist()
    n, q = len(items), len(queries)
    print(f"{n} distinct items, {q} absent queries, target fpr {args.fpr:g}\n")
    rows: list[tuple[str, float, float, float, float]] = []

    def ours_add() -> BloomFilter:
        bloom = BloomFilter.create(expected_items=n, fpr=args.fpr)
        for start in range(0, n, 1 << 18):
            bloom.add(items[start : start + (1 << 18)])
        return bloom

    t_add, bloom = _median(ours_add, args.repeat)
    t_query, hits = _median(lambda: bloom.contains(queries), args.repeat)
    assert bloom.contains(items).all()
    rows.append(
        (
            "leakguard (numpy batch)",
            n / t_add,
            q / t_query,
            bloom.words.nbytes / n,
            float(hits.mean()),
        )
    )
    sub = queries_list[: min(q, 200_000)]
    t_one, one_hits = _median(lambda: [bloom.contains_one(h) for h in sub], args.repeat)
    rows.append(
        (
            "leakguard (scalar lookup)",
            float("nan"),
            len(sub) / t_one,
            bloom.words.nbytes / n,
            sum(one_hits) / len(sub),
        )
    )

    def rbloom_add() -> Bloom:
        filt = Bloom(n, args.fpr, hash_func=_identity)
        filt.update(items_list)
        return filt

    t_add, rb = _median(rbloom_add, args.repeat)
    t_query, rb_hits = _median(lambda: sum(1 for h in queries_list if h in rb), args.repeat)
    rows.append(
        ("rbloom (persistable)", n / t_add, q / t_query, rb.size_in_bits / 8 / n, rb_hits / q)
    )

    t_add, hashes = _median(lambda: set(items_list), args.repeat)
    t_query, set_hits = _median(lambda: sum(1 for h in queries_list if h in hashes), args.repeat)
    size = sys.getsizeof(hashes) + sum(sys.getsizeof(h) for h in items_list[:10_000]) / 10_000 * n
    rows.append(("Python set of hashes", n / t_add, q / t_query, size / n, set_hits / q))

    base_add, base_query = rows[0][1], rows[0][2]
    print(
        f"{'structure':<28}{'add/s':>12}{'query/s':>12}{'add ratio':>10}"
        f"{'query ratio':>12}{'B/item':>8}{'fpr':>10}"
    )
    for name, add, query, per_item, fpr in rows:
        print(
            f"{name:<28}{add:>12,.0f}{query:>12,.0f}{add / base_add:>10.2f}"
            f"{query / base_query:>12.3f}{per_item:>8.2f}{fpr:>10.2e}"
        )
    print("\nratios are against leakguard's numpy batch path (same machine, same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
