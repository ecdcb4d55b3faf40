"""Memorization detection: every target of issue 4, measured in one run.

* recall on verbatim spans (>= min_words) under each evasion transform;
* near-verbatim recall at 5% and 10% of words edited;
* false alarms on unrelated 500-word responses against an index of >= 10M n-grams,
  with the arithmetic for a 1-billion-n-gram index;
* bytes per indexed n-gram; build words/s per core end to end (``leakguard index build``'s
  code path on a JSON Lines file); check latency of a 1,000-word response; per-word latency
  of the incremental (streaming) check. Anchor, side by side: an exact Python ``set`` of the
  same n-gram hashes, queried word by word with the same lexer.

The corpus is generated: words drawn from a Zipf distribution over a generated 50,000-word
vocabulary (no external data). Medians; ratios against the anchor.

    .venv/bin/python bench/bench_memorization.py            # 10M-word index (minutes)
    .venv/bin/python bench/bench_memorization.py --quick    # 1M-word index
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from leakguard.config import MemorizationConfig
from leakguard.findings import Finding
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.build import build_index
from leakguard.memorization.detector import MemorizationDetector
from leakguard.memorization.ngrams import fmix64_int, ngram_hashes, word_hash, word_hashes
from leakguard.memorization.normalize import lex, lexemes

_SYLLABLES = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def vocabulary(size: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))))
    return sorted(words, key=lambda w: (len(w), w))  # short words are the frequent ones


VOCAB = vocabulary(50_000)


def draw(count: int, rng: np.random.Generator) -> list[str]:
    ranks = np.minimum(rng.zipf(1.1, count), len(VOCAB)) - 1
    return [VOCAB[r] for r in ranks]


def sentences(words: list[str], rng: random.Random) -> str:
    """Words with sentence punctuation and capitals, like prose."""
    out, i = [], 0
    while i < len(words):
        n = rng.randint(6, 18)
        chunk = words[i : i + n]
        chunk[0] = chunk[0].capitalize()
        out.append(" ".join(chunk) + rng.choice([".", ".", ".", "?", "!"]))
        i += n
    return " ".join(out)


# -- transforms (the evasions of the issue) --------------------------------------------------
def caps(text: str, _rng: random.Random) -> str:
    return text.upper()


def mixed_case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def respace(text: str, rng: random.Random) -> str:
    return "".join(rng.choice([" ", "  ", "\n", " \n\n ", "\t"]) if c == " " else c for c in text)


def repunctuate(text: str, rng: random.Random) -> str:
    marks = ["", ",", ";", " -", ":", "...", " (", ")"]
    return " ".join(w.strip(".!?") + rng.choice(marks) for w in text.split())


def zero_width(text: str, rng: random.Random) -> str:
    marks = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
    return "".join(
        c + (rng.choice(marks) if c.isalpha() and rng.random() < 0.2 else "") for c in text
    )


_LOOKALIKE = {
    "a": "\u0430",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "c": "\u0441",
    "i": "\u0456",
}


def lookalikes(text: str, rng: random.Random) -> str:
    return "".join(_LOOKALIKE.get(c, c) if rng.random() < 0.5 else c for c in text)


def markdown(text: str, rng: random.Random) -> str:
    words = text.split()
    out = []
    for i, word in enumerate(words):
        roll = rng.random()
        w = (
            f"**{word}**"
            if roll < 0.1
            else f"_{word}_"
            if roll < 0.2
            else f"`{word}`"
            if roll < 0.25
            else word
        )
        if i % 12 == 0:
            w = rng.choice(["\n- ", "\n> ", "\n* ", "\n## ", "\n> - "]) + w
        out.append(w)
    return " ".join(out)


def full_width(text: str, _rng: random.Random) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


TRANSFORMS: dict[str, Callable[[str, random.Random], str]] = {
    "verbatim": lambda t, _r: t,
    "ALL CAPS": caps,
    "mixed case": mixed_case,
    "whitespace/line breaks": respace,
    "punctuation": repunctuate,
    "zero-width chars": zero_width,
    "look-alike letters": lookalikes,
    "markdown": markdown,
    "full-width": full_width,
}


def edit_words(words: list[str], share: float, rng: random.Random) -> list[str]:
    """Substitute, delete or insert ``share`` of the words (a third each)."""
    out = list(words)
    for i in sorted(rng.sample(range(len(words)), round(share * len(words))), reverse=True):
        kind = rng.random()
        if kind < 1 / 3:
            out[i] = rng.choice(VOCAB)
        elif kind < 2 / 3:
            del out[i]
        else:
            out.insert(i, rng.choice(VOCAB))
    return out


# -- the run ------------------------------------------------------------------------------------
# Latencies are measured in this thread's CPU time: on a shared, overloaded machine the wall
# clock mostly measures the other tenants (waiting for a core), not the code.
clock = time.thread_time_ns


def median_ns(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def write_corpus(path: Path, words: int, doc_words: int, seed: int) -> list[list[str]]:
    rng, prng = np.random.default_rng(seed), random.Random(seed)
    docs = []
    with path.open("w", encoding="utf-8") as f:
        for _ in range(max(1, words // doc_words)):
            doc = draw(doc_words, rng)
            docs.append(doc)
            f.write(json.dumps({"id": len(docs), "text": sentences(list(doc), prng)}) + "\n")
    return docs


def embedded(span: str, rng: np.random.Generator, prng: random.Random) -> tuple[str, int, int]:
    before = sentences(draw(60, rng), prng) + "\n\n"
    after = "\n\n" + sentences(draw(60, rng), prng)
    return before + span + after, len(before), len(before) + len(span)


def covered(findings: list[Finding], start: int, end: int, need: float = 0.8) -> bool:
    inside = sum(max(0, min(f.end, end) - max(f.start, start)) for f in findings)
    return inside >= need * (end - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-words", type=int, default=10_000_000)
    parser.add_argument("--build-words", type=int, default=2_000_000)
    parser.add_argument("--responses", type=int, default=1000)
    parser.add_argument("--spans", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1M-word index, fewer samples")
    args = parser.parse_args(argv)
    if args.quick:
        args.index_words, args.build_words, args.responses, args.spans = 1_000_000, 500_000, 300, 60
    tmp = Path(tempfile.mkdtemp(prefix="lg-bench-mem-"))
    config = MemorizationConfig(index=str(tmp / "index.lgx"))
    print(
        f"# memorization benchmark (ngram={config.ngram}, min_words={config.min_words}, "
        f"max_gap={config.max_gap}, coverage={config.coverage})\n"
    )

    # 1. build speed, one core, end to end (read JSONL, lex, hash, filter, write)
    small = tmp / "small.jsonl"
    write_corpus(small, args.build_words, 500, seed=11)
    rates, cpu_rates = [], []
    for _ in range(3):
        cpu = time.process_time()
        report = build_index([small], out=tmp / "small.lgx", workers=1)
        cpu = time.process_time() - cpu
        rates.append(report.stats.words / report.seconds)
        cpu_rates.append(report.stats.words / cpu)
    print(
        f"build, 1 worker, end to end: median {statistics.median(cpu_rates) / 1e6:.2f}M words "
        f"per CPU-second (wall clock on this shared machine: "
        f"{statistics.median(rates) / 1e6:.2f}M words/s; {report.stats.words} words, "
        f"CPU runs {[round(r / 1e6, 2) for r in cpu_rates]}M)"
    )

    # 2. the big index
    big = tmp / "corpus.jsonl"
    docs = write_corpus(big, args.index_words, 500, seed=1)
    report = build_index([big], out=tmp / "index.lgx", workers=args.workers)
    header = report.header
    all_grams = np.concatenate([ngram_hashes(word_hashes(lexemes(" ".join(d))), 8) for d in docs])
    distinct = len(np.unique(all_grams))
    bloom = BloomFilter.open(tmp / "index.lgx")
    file_bytes = (tmp / "index.lgx").stat().st_size
    print(
        f"index: {report.stats.words} words, {header.items_added} n-grams ({distinct} distinct), "
        f"built in {report.seconds:.1f} s with {report.workers} workers "
        f"({report.stats.words / report.seconds / 1e6:.2f}M words/s)"
    )
    print(
        f"  sized by the default estimate ({header.source['expected_ngrams']} n-grams): "
        f"{file_bytes} bytes = {file_bytes / distinct:.3f} bytes per distinct n-gram; "
        f"fill {bloom.fill_ratio():.3f}, estimated fpr {bloom.estimated_fpr():.2e} "
        f"(target {header.target_fpr:g})"
    )
    exact = build_index(
        [big], out=tmp / "exact.lgx", workers=args.workers, expected_ngrams=distinct
    )
    exact_bytes = (tmp / "exact.lgx").stat().st_size
    print(
        f"  sized with --expected-ngrams {distinct}: {exact_bytes / distinct:.3f} bytes per n-gram "
        f"({exact.header.bit_count / distinct:.2f} bits), estimated fpr "
        f"{BloomFilter.open(tmp / 'exact.lgx').estimated_fpr():.2e}"
    )
    detector = MemorizationDetector(config, index=bloom)

    # 3. recall under transforms
    rng, prng = np.random.default_rng(5), random.Random(5)
    print("\nrecall on verbatim spans (span fully inside one indexed document):")
    for length in (config.min_words, 60, 100):
        line = []
        for name, transform in TRANSFORMS.items():
            hits = 0
            for _ in range(args.spans // 4 if length != 60 else args.spans):
                doc = docs[prng.randrange(len(docs))]
                start = prng.randrange(0, len(doc) - length)
                span = transform(sentences(doc[start : start + length], prng), prng)
                text, a, b = embedded(span, rng, prng)
                hits += covered(detector.detect(text), a, b)
            total = args.spans // 4 if length != 60 else args.spans
            line.append(f"{name} {hits / total:.1%}")
        print(f"  {length:>3} words: " + ", ".join(line))

    print("\nnear-verbatim recall (share of words substituted/deleted/inserted):")
    for share in (0.05, 0.10):
        for length in (60, 100, 200):
            hits = 0
            for _ in range(args.spans):
                doc = docs[prng.randrange(len(docs))]
                start = prng.randrange(0, len(doc) - length)
                span = sentences(edit_words(doc[start : start + length], share, prng), prng)
                text, a, b = embedded(span, rng, prng)
                hits += covered(detector.detect(text), a, b, need=0.5)
            print(f"  {share:.0%} edited, {length:>3}-word spans: {hits / args.spans:.1%}")

    # 4. false alarms on unrelated text
    known = np.unique(all_grams)
    gram_hits = shared = grams = flagged = 0
    for _ in range(args.responses):
        response = sentences(draw(500, rng), prng)
        g = ngram_hashes(word_hashes(lexemes(response)), 8)
        hit = bloom.contains(g)
        real = known[np.minimum(np.searchsorted(known, g), len(known) - 1)] == g
        gram_hits += int((hit & ~real).sum())
        shared += int(real.sum())
        grams += len(g) - int(real.sum())
        flagged += bool(detector.detect(response))
    rate = gram_hits / grams
    print(
        f"\nfalse alarms: {flagged} of {args.responses} unrelated 500-word responses flagged; "
        f"filter false-positive rate on absent n-grams {rate:.2e} ({gram_hits}/{grams}); "
        f"{shared} n-grams really shared with the corpus (frequent-word phrases)"
    )
    # Filter false positives are independent per n-gram (rate p). A verbatim finding needs
    # `run` consecutive hits; a near-verbatim chain starts and ends with a run of >= 2 hits
    # (p^2 each), the second within max_gap + 1 positions of the first ... and needs more
    # runs than two to reach min_words words, so two runs bound it from above.
    n, gap = config.ngram, config.max_gap
    run = config.min_words - n + 1
    verbatim = 493 * rate**run
    near = 493 * rate**2 * (gap + 1) * rate**2
    print(
        f"  arithmetic (filter false positives, p = {rate:.2e}): verbatim needs {run} "
        f"consecutive hits: <= 493 * p^{run} = {verbatim:.1e} per response; near-verbatim needs "
        f">= 2 runs of >= 2 hits at most {gap} n-grams apart: <= 493 * p^2 * {gap + 1} * p^2 "
        f"= {near:.1e} per response."
    )
    big_bits = 1e9 * header.bit_count / header.items_added
    print(
        f"  a 1-billion-n-gram index at the same target needs {big_bits / 8 / 2**30:.2f} GiB; p "
        f"depends only on bits per n-gram, so the bounds above hold unchanged. What does grow "
        f"with the corpus are n-grams it really shares with unrelated text (common phrases: "
        f"{shared / (grams + shared):.2%} of n-grams here); those, not the filter, caused "
        f"the {flagged} flagged response(s)."
    )

    # 5. latency: 1,000-word check and per streamed word; anchor: a Python set, word by word
    subset = set(np.unique(all_grams[: min(len(all_grams), 2_000_000)]).tolist())
    clean = sentences(draw(1000, rng), prng)
    doc = docs[0]
    leaky = (
        sentences(draw(450, rng), prng)
        + " "
        + sentences(doc[:100], prng)
        + " "
        + sentences(draw(450, rng), prng)
    )
    for name, text in (("clean", clean), ("with a 100-word memorized span", leaky)):
        check = median_ns(functools.partial(detector.detect, text), 200) / 1e6
        anchor = median_ns(functools.partial(set_check, text, subset), 50) / 1e6
        per_word = stream_per_word(detector, text)
        print(
            f"\n1,000-word response, {name}: detect median {check:.3f} ms (CPU time); "
            f"anchor (set, word by word) {anchor:.3f} ms; ratio {check / anchor:.2f}"
        )
        print(
            f"  streaming, one word per feed: median {per_word:.2f} us per word "
            f"(= {per_word:.2f} ms per 1,000 words, {per_word / check:.1f}x the batch check)"
        )
    calibrate = median_ns(lambda: sum(range(1000)), 200) / 1000
    print(f"\nmachine speed reference: sum(range(1000)) takes {calibrate:.1f} ns per element here")
    return 0


def set_check(text: str, grams: set[int]) -> int:
    """The anchor: exact membership in a Python set, one n-gram at a time."""
    words = [word_hash(w) for w in lex(text).words]
    mask = (1 << 64) - 1
    hits = 0
    for k in range(len(words) - 7):
        acc = 0
        for w in words[k : k + 8]:
            acc = (acc * 0x9E3779B97F4A7C15 + w) & mask
        hits += fmix64_int(acc) in grams
    return hits


def stream_per_word(detector: MemorizationDetector, text: str) -> float:
    pieces = [w + " " for w in text.split(" ")]
    times = []
    for _ in range(5):
        stream = detector.stream()
        for piece in pieces:
            start = clock()
            stream.feed(piece)
            times.append(clock() - start)
        stream.flush()
    return statistics.median(times) / 1000


if __name__ == "__main__":
    sys.exit(main())
