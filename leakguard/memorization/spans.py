"""The rules that turn n-gram hits into memorization findings (batch form).

N-gram ``k`` covers words ``k .. k + n - 1``; it is a *hit* when the index holds it. Hits
form *runs* (consecutive hits); a run of two or more hits is *good*: it means at least
``n + 1`` consecutive words of the response occur in the corpus, which chance (the
filter's false-positive rate ``p``, so ``p ** 2`` per position) essentially never does.

* **verbatim** — a run covering at least ``min_words`` words.
* **near-verbatim** — runs join into a *chain* while at most ``max_gap`` n-grams in a row
  miss between one hit and the next (an edited word costs ``n`` misses, an inserted one
  ``n + 1``, a deleted one ``n - 1``). A chain is trimmed to start and end with a good
  run; it is a finding when it still holds at least two runs (at least one edit
  tolerated), spans at least ``min_words`` words and at least ``coverage * min_words`` of
  them lie in *fresh* hits. All three conditions only become truer as a chain grows, so a
  stream can report a qualifying chain as certain while it is still open.

A hit is *fresh* unless the same n-gram was a hit within the previous :data:`REPEAT_WINDOW`
n-grams: a response that repeats one indexed phrase (a signature line, an author's address
in every changelog entry) has copied that phrase once, not a passage, and only fresh hits
count as covered words.

A finding's details say why: ``mode`` (``verbatim`` or ``near``), ``words`` (the span),
``covered_words`` and ``coverage`` (share of the span inside hits), and for near-verbatim
ones ``runs`` and ``gaps`` (the stretches of missing n-grams tolerated, each at least one
edit) and ``missing_ngrams``.

:class:`leakguard.memorization.stream.MemorizationStream` applies the same rules word by
word; the two agree on any split of a text (property-tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leakguard.config import MemorizationConfig
from leakguard.findings import Finding

__all__ = [
    "DETECTOR",
    "REPEAT_WINDOW",
    "Rules",
    "WordSpan",
    "find_spans",
    "fresh_hits",
    "make_finding",
]

DETECTOR = "memorization"
REPEAT_WINDOW = 512  # n-grams: a hit repeating one this close is not fresh

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class WordSpan:
    """A finding in word indices (``first``..``last`` inclusive)."""

    first: int
    last: int
    mode: str  # "verbatim" | "near"
    covered: int  # words of the span inside hits (== words for verbatim)
    gaps: int = 0  # near-verbatim: stretches of missing n-grams tolerated
    missing: int = 0  # near-verbatim: missing n-grams inside the span

    @property
    def words(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds of the module docstring, from a :class:`MemorizationConfig`."""

    n: int
    min_words: int
    near: bool
    max_gap: int  # missing n-grams in a row a chain tolerates
    min_covered: int  # covered words a near-verbatim chain needs

    @classmethod
    def from_config(cls, config: MemorizationConfig) -> Rules:
        return cls(
            n=config.ngram,
            min_words=config.min_words,
            near=config.near_verbatim,
            max_gap=config.max_gap,
            # at least one covered word, or coverage=0 would need none
            min_covered=max(1, math.ceil(config.coverage * config.min_words - 1e-9)),
        )

    def near_qualifies(self, *, runs: int, words: int, covered: int) -> bool:
        return runs >= 2 and words >= self.min_words and covered >= self.min_covered


def fresh_hits(grams: npt.NDArray[np.uint64], hits: Bools) -> Bools:
    """``hits`` without repeats: a hit whose n-gram was a hit within :data:`REPEAT_WINDOW`."""
    where = np.flatnonzero(hits)
    fresh = hits.copy()
    if len(where) > 1:
        order = np.lexsort((where, grams[where]))  # by hash, then position
        h, k = grams[where][order], where[order]
        repeat = (h[1:] == h[:-1]) & (k[1:] - k[:-1] <= REPEAT_WINDOW)
        fresh[k[1:][repeat]] = False
    return fresh


def find_spans(
    hits: Bools, words: int, rules: Rules, *, fresh: Bools | None = None
) -> list[WordSpan]:
    """The verbatim and near-verbatim spans of one text, from its n-gram hits.

    ``fresh`` (default: all hits) are the hits that count as covered words in a chain.
    """
    n = rules.n
    if not hits.any():
        return []
    edges = np.diff(hits.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    run_first = np.flatnonzero(edges == 1)
    run_last = np.flatnonzero(edges == -1) - 1  # last n-gram of each run
    run_words = run_last - run_first + n
    spans = [
        WordSpan(int(a), int(a + w - 1), "verbatim", int(w))
        for a, w in zip(run_first, run_words, strict=True)
        if w >= rules.min_words
    ]
    if rules.near:
        fresh_at = np.flatnonzero(hits if fresh is None else fresh)
        spans += _chains(run_first.tolist(), run_last.tolist(), fresh_at, rules)
    return sorted(spans, key=lambda s: (s.first, s.last, s.mode))


def _chains(
    firsts: list[int], lasts: list[int], fresh_at: npt.NDArray[np.intp], rules: Rules
) -> list[WordSpan]:
    """Near-verbatim spans: runs chained over gaps of at most ``max_gap`` missing n-grams."""
    n, out = rules.n, []
    i, count = 0, len(firsts)
    while i < count:
        j = i
        while j + 1 < count and firsts[j + 1] - lasts[j] - 1 <= rules.max_gap:
            j += 1
        good = [r for r in range(i, j + 1) if lasts[r] > firsts[r]]
        if len(good) >= 2:
            a, b = good[0], good[-1]
            lo, hi = np.searchsorted(fresh_at, [firsts[a], lasts[b] + 1])
            ks = fresh_at[lo:hi]  # union of the words of the fresh hits
            covered = int(n + np.minimum(np.diff(ks), n).sum()) if len(ks) else 0
            missing = sum(firsts[r] - lasts[r - 1] - 1 for r in range(a + 1, b + 1))
            first, last = firsts[a], lasts[b] + n - 1
            span = WordSpan(first, last, "near", covered, gaps=b - a, missing=missing)
            if rules.near_qualifies(runs=b - a + 1, words=span.words, covered=covered):
                out.append(span)
        i = j + 1
    return out


def details(span: WordSpan) -> dict[str, float | int | str]:
    """What a reviewer reads in the finding (no text)."""
    if span.mode == "verbatim":
        return {"mode": "verbatim", "words": span.words, "run_words": span.words, "coverage": 1.0}
    return {
        "mode": "near",
        "words": span.words,
        "covered_words": span.covered,
        "coverage": round(span.covered / span.words, 4),
        "runs": span.gaps + 1,
        "gaps": span.gaps,
        "missing_ngrams": span.missing,
    }


def make_finding(span: WordSpan, start: int, end: int, label: str) -> Finding:
    score = 1.0 if span.mode == "verbatim" else round(span.covered / span.words, 4)
    return Finding(DETECTOR, label, start, end, score, details=details(span))
