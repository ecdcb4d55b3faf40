"""Memorization detection: flag stretches of a response that reproduce the indexed corpus.

A response is lexed with :mod:`.normalize` (the same code that built the index), every word
n-gram is looked up in the index's Bloom filter, and the rules of :mod:`.spans` turn the hits
into findings (label ``MEMORIZED``, detector ``memorization``): **verbatim** runs of hits
covering at least ``min_words`` words, and **near-verbatim** chains of hits that tolerate
light edits (substituted, inserted or deleted words) with gaps of at most ``max_gap``
missing n-grams. The finding's details say which, and why (covered words, gaps tolerated).

With an allow-list index (licences, public boilerplate), a finding whose index hits are at
least :data:`BOILERPLATE_SHARE` also in the allow list gets label ``BOILERPLATE`` instead
(allowed by default by the policy).

:meth:`MemorizationDetector.stream` scans a streamed response word by word with the same
rules (:mod:`.stream`).
"""

from __future__ import annotations

import numpy as np

from leakguard.config import MemorizationConfig
from leakguard.findings import Finding
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.index import open_index
from leakguard.memorization.ngrams import ngram_hashes, word_hashes
from leakguard.memorization.normalize import lex
from leakguard.memorization.spans import (
    DETECTOR,
    Rules,
    WordSpan,
    find_spans,
    fresh_hits,
    make_finding,
)
from leakguard.memorization.stream import MemorizationStream

__all__ = [
    "BOILERPLATE_SHARE",
    "MemorizationDetector",
    "MemorizationStream",
    "WordSpan",
    "find_spans",
    "make_finding",
]

BOILERPLATE_SHARE = 0.8


class MemorizationDetector:
    """Finds memorized training text using an n-gram index (see the module docstring)."""

    name = DETECTOR

    def __init__(
        self,
        config: MemorizationConfig,
        *,
        index: BloomFilter | None = None,
        allow_index: BloomFilter | None = None,
    ) -> None:
        self.config = config
        self.rules = Rules.from_config(config)
        if index is None:
            if config.index is None:
                raise ValueError("MemorizationDetector needs memorization.index or index=")
            index = open_index(config.index, ngram=config.ngram)
        if allow_index is None and config.allow_index is not None:
            allow_index = open_index(config.allow_index, ngram=config.ngram)
        self.index = index
        self.allow_index = allow_index

    def detect(self, text: str) -> list[Finding]:
        lexed = lex(text)
        n = self.rules.n
        if len(lexed) < n:
            return []
        grams = ngram_hashes(word_hashes(lexed.words), n)
        hits = self.index.contains(grams)
        fresh = fresh_hits(grams, hits) if self.rules.near else None
        spans = find_spans(hits, len(lexed), self.rules, fresh=fresh)
        if not spans:
            return []
        main = both = None
        if self.allow_index is not None:
            allowed = np.zeros(len(grams), dtype=bool)
            allowed[hits] = self.allow_index.contains(grams[hits])
            main = np.concatenate(([0], np.cumsum(hits)))
            both = np.concatenate(([0], np.cumsum(allowed)))
        findings = []
        for span in spans:
            label = self.config.label
            if main is not None and both is not None:
                stop = span.last - n + 2  # n-grams first .. last-n+1 lie inside the span
                label = self.label_for(
                    int(main[stop] - main[span.first]), int(both[stop] - both[span.first])
                )
            start, end = int(lexed.starts[span.first]), int(lexed.ends[span.last])
            findings.append(make_finding(span, start, end, label))
        return findings

    def label_for(self, hits: int, allowed: int) -> str:
        """``BOILERPLATE`` when enough of a span's index hits are in the allow list too."""
        if hits and allowed >= BOILERPLATE_SHARE * hits:
            return self.config.boilerplate_label
        return self.config.label

    def stream(self) -> MemorizationStream:
        """A new incremental scanner for one response."""
        return MemorizationStream(self)
