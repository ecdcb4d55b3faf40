"""Obfuscated values (pii.deobfuscate): recall per form, findings on real prose, speed.

Three parts, each an A/B of the default guard with ``pii.deobfuscate`` on and off, in one
process (the real spaCy model and Presidio):

1. recall per form class on the hand-written table of tests/deobfuscate_kit.py (a form
   counts when a finding with its label covers exactly the obfuscated span);
2. findings per 1,000 words of real prose: READMEs, NEWS and changelogs under
   /usr/share/doc (bench/realtext.py; Python's documentation is held back), in chunks of
   ``--words`` words. Findings the view adds are listed by label and form, with their shape
   (letters as ``a``, digits as ``9``) so a reader can tell an address written as
   "user at example dot org" (a real one) from a false finding;
3. speed on clean text: median ms per ``Guard.scan`` of bench_scan.py's assistant answers
   (no obfuscation in them), runs interleaved, and ``deobfuscate`` alone per call.

    .venv/bin/python bench/bench_deobfuscate.py [--chunks 1500] [--words 200] [--per-doc 3]
        [--repeats 30] [--skip recall prose speed]
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's leakguard

from deobfuscate_kit import FORMS, Form
from realtext import chunks, package_docs
from texts import assistant_text

from leakguard.config import LeakGuardConfig
from leakguard.guard import Guard
from leakguard.pii.deobfuscate import OBFUSCATION_KEY, deobfuscate


def covered(guard: Guard, form: Form) -> bool:
    start, end = form.span
    return any(
        form.label in f.labels and f.start == start and f.end == end
        for f in guard.scan(form.text).findings
    )


def recall(on: Guard, off: Guard) -> None:
    classes = sorted({f.form for f in FORMS}, key=[f.form for f in FORMS].index)
    print(f"1. recall per form class ({len(FORMS)} forms, tests/deobfuscate_kit.py)")
    print(f"   {'form':<14} {'n':>3} {'off':>5} {'on':>5}")
    total_on = total_off = 0
    for name in classes:
        forms = [f for f in FORMS if f.form == name]
        n_on = sum(covered(on, f) for f in forms)
        n_off = sum(covered(off, f) for f in forms)
        total_on, total_off = total_on + n_on, total_off + n_off
        print(f"   {name:<14} {len(forms):>3} {n_off:>5} {n_on:>5}")
    print(f"   {'all':<14} {len(FORMS):>3} {total_off:>5} {total_on:>5}")
    print(f"   leaked: off {len(FORMS) - total_off}, on {len(FORMS) - total_on}")


def _shape(value: str) -> str:
    """``value`` with digits as 9 and letters as a, but the words "at" and "dot" kept."""

    def word(m: re.Match[str]) -> str:
        return m.group() if m.group().lower() in ("at", "dot") else "a" * len(m.group())

    return re.sub(r"[^\W\d_]+", word, re.sub(r"\d", "9", value))[:60]


def prose(on: Guard, off: Guard, *, limit: int, words: int, per_doc: int) -> None:
    texts: list[str] = []
    docs = 0
    for _, doc in package_docs():  # a few chunks of each document: many packages' prose
        texts.extend(itertools.islice(chunks(doc, words), per_doc))
        docs += 1
        if len(texts) >= limit:
            break
    texts = texts[:limit]
    n_words = sum(len(t.split()) for t in texts)
    count_on = count_off = 0
    added: Counter[tuple[str, str, str]] = Counter()
    lost = 0
    for text in texts:
        found_on = {(f.label, f.start, f.end): f for f in on.detect(text)}
        found_off = {(f.label, f.start, f.end) for f in off.detect(text)}
        count_on += len(found_on)
        count_off += len(found_off)
        lost += len(found_off - found_on.keys())
        for key, f in found_on.items():
            if key not in found_off:
                form = str(f.details.get(OBFUSCATION_KEY, "-"))
                added[(f.label, form, _shape(text[f.start : f.end]))] += 1
    per = 1000 / max(n_words, 1)
    print(f"\n2. real prose: {len(texts)} chunks of {docs} documents (/usr/share/doc)")
    print(
        f"   {n_words:,} words; findings per 1,000 words: off {count_off * per:.3f},"
        f" on {count_on * per:.3f}"
    )
    rewritten = Counter({k: n for k, n in added.items() if k[1] != "-"})
    beside = Counter({k: n for k, n in added.items() if k[1] == "-"})
    print(
        f"   added over a rewritten value: {rewritten.total()} ({rewritten.total() * per:.3f} per"
        f" 1,000 words), by label: {dict(Counter(k[0] for k in rewritten.elements()))}"
    )
    print(
        f"   added elsewhere (the NER read the rewritten text): {beside.total()}"
        f" ({beside.total() * per:.3f} per 1,000 words); lost: {lost}"
    )
    for (label, form, shape), n in rewritten.most_common(12) + beside.most_common(8):
        print(f"     {n:>3} x {label:<14} {form:<22} {shape!r}")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def speed(on: Guard, off: Guard, *, repeats: int) -> None:
    print("\n3. speed on clean text (bench_scan.py's assistant answers), median ms per scan")
    print(f"   {'chars':>6} {'off':>9} {'on':>9} {'on/off':>7} {'deobfuscate() alone':>20}")
    for length in (200, 1000, 5000):
        texts = [assistant_text(length, seed=s) for s in range(repeats)]
        on.scan(texts[0])
        off.scan(texts[0])
        t_on, t_off, t_view = [], [], []
        for i, text in enumerate(texts):
            pair = [(t_on, on), (t_off, off)] if i % 2 else [(t_off, off), (t_on, on)]
            for times, guard in pair:
                times.append(timed(lambda g=guard, t=text: g.scan(t)))
            t_view.append(timed(lambda t=text: [deobfuscate(t) for _ in range(100)]) / 100)
        m_on, m_off = statistics.median(t_on), statistics.median(t_off)
        print(
            f"   {length:>6} {m_off:>9.2f} {m_on:>9.2f} {m_on / m_off:>7.3f}"
            f" {statistics.median(t_view) * 1000:>17.1f} us"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=1500)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--per-doc", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--skip", nargs="*", default=[], choices=["recall", "prose", "speed"])
    args = parser.parse_args()
    on = Guard(LeakGuardConfig())
    off = Guard(LeakGuardConfig.model_validate({"pii": {"deobfuscate": False}}))
    if "recall" not in args.skip:
        recall(on, off)
    if "prose" not in args.skip:
        prose(on, off, limit=args.chunks, words=args.words, per_doc=args.per_doc)
    if "speed" not in args.skip:
        speed(on, off, repeats=args.repeats)


if __name__ == "__main__":
    main()
