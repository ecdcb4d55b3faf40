"""Memorization detection: flag stretches of a response that reproduce the indexed corpus.

A response is lexed with :mod:`.normalize` (the same code that built the index),
every word n-gram is looked up in the index's Bloom filter, and two rules turn the hits
into findings (label ``MEMORIZED``, detector ``memorization``), both in words:

* **verbatim** — a maximal run of consecutive n-gram hits covering at least ``min_words``
  words. Details: ``mode="verbatim"``, ``words`` (the run), ``coverage=1.0``.
* **near-verbatim** — words are *covered* when they lie in a hit that belongs to a run of
  at least two consecutive hits (single hits are mostly chance or common phrases). A
  window of ``window_words`` consecutive words qualifies when at least ``coverage`` of its
  words are covered; overlapping or touching qualifying windows unite, and the span from
  the first to the last covered word of a union is a finding if it has at least
  ``min_words`` words. Texts shorter than one window have no near-verbatim findings.
  Details: ``mode="near"``, ``words``, ``covered_words``, ``coverage`` (share of the span).

With an allow-list index (licences, public boilerplate), a finding whose index hits are at
least :data:`BOILERPLATE_SHARE` also in the allow list gets label ``BOILERPLATE`` instead
(allowed by default by the policy).

Streaming
---------
:meth:`MemorizationDetector.stream` returns a :class:`MemorizationStream`, one per response:

* ``feed(text) -> list[Finding]`` — give the next piece of the response, however it was
  cut; returns findings that became final (absolute offsets into the whole response).
* ``flush() -> list[Finding]`` — the response ended; returns the remaining findings.
* ``hold_from`` — absolute offset: everything before it is decided (either inside a finding
  already returned, or clean for good). Text from ``hold_from`` on may still become part of
  a finding and must be held back. On text that does not match the index this trails the
  end by the last ``ngram`` words (plus an unfinished word); inside a candidate run it
  stays at the run's start; with near-verbatim on, at most ``window_words`` words back.
* ``active`` — a finding that is certain already but still growing (a verbatim run past
  ``min_words``, or a near-verbatim span past ``min_words``), or ``None``. Its span will be
  inside a finding that ``feed``/``flush`` returns later, so a caller may redact that text
  now and drop it, keeping its buffer bounded.

The findings of any split of a text, fed piece by piece, equal :meth:`detect` of the whole
text (property-tested). Each word costs O(1): one hash, one rolling n-gram update and one
cache-line lookup in the filter.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leakguard.config import MemorizationConfig
from leakguard.findings import Finding
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.index import open_index
from leakguard.memorization.ngrams import RollingNgrams, ngram_hashes, word_hash, word_hashes
from leakguard.memorization.normalize import complete_lexemes, has_separator, lex

__all__ = ["BOILERPLATE_SHARE", "MemorizationDetector", "MemorizationStream", "WordSpan"]

DETECTOR = "memorization"
BOILERPLATE_SHARE = 0.8
_TRIM_EVERY = 64

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class WordSpan:
    """A finding in word indices (``first``..``last`` inclusive)."""

    first: int
    last: int
    mode: str  # "verbatim" | "near"
    covered: int  # covered words in the span (== words for verbatim)

    @property
    def words(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class _Rules:
    n: int
    min_words: int
    near: bool
    window: int
    threshold: int  # covered words a window needs

    @classmethod
    def from_config(cls, config: MemorizationConfig) -> _Rules:
        return cls(
            n=config.ngram,
            min_words=config.min_words,
            near=config.near_verbatim,
            window=config.window_words,
            # at least one covered word, or empty windows would qualify
            threshold=max(1, math.ceil(config.coverage * config.window_words - 1e-9)),
        )


def find_spans(hits: Bools, words: int, rules: _Rules) -> list[WordSpan]:
    """The verbatim and near-verbatim spans of one text, from its n-gram hits (vectorized)."""
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
    if rules.near and words >= rules.window:
        verbatim = list(spans)
        spans += [
            near
            for near in _near_spans(run_first, run_last, words, rules)
            if not _inside(near, verbatim)
        ]
    return sorted(spans, key=lambda s: (s.first, s.last, s.mode))


def _inside(span: WordSpan, others: Iterable[WordSpan]) -> bool:
    """Whether ``span`` lies within one of ``others`` (a near span adding nothing)."""
    return any(o.first <= span.first and span.last <= o.last for o in others)


def _near_spans(
    run_first: npt.NDArray[np.intp], run_last: npt.NDArray[np.intp], words: int, rules: _Rules
) -> list[WordSpan]:
    good = run_last > run_first  # runs of at least two hits
    if not good.any():
        return []
    step = np.bincount(run_first[good], minlength=words + 1)
    step -= np.bincount(run_last[good] + rules.n, minlength=words + 1)[: words + 1]
    covered = np.cumsum(step)[:words] > 0
    counts = np.concatenate(([0], np.cumsum(covered)))
    window = rules.window
    qualifying = np.flatnonzero(counts[window:] - counts[:-window] >= rules.threshold)
    if len(qualifying) == 0:
        return []
    inside = np.bincount(qualifying, minlength=words + 1)
    inside -= np.bincount(qualifying + window, minlength=words + 1)[: words + 1]
    united = np.cumsum(inside)[:words] > 0
    edges = np.diff(united.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    spans = []
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        hit = np.flatnonzero(covered[start:stop])
        first, last = int(start + hit[0]), int(start + hit[-1])
        if last - first + 1 >= rules.min_words:
            spans.append(WordSpan(first, last, "near", int(counts[last + 1] - counts[first])))
    return spans


def _details(span: WordSpan) -> dict[str, float | int | str]:
    if span.mode == "verbatim":
        return {"mode": "verbatim", "words": span.words, "run_words": span.words, "coverage": 1.0}
    return {
        "mode": "near",
        "words": span.words,
        "covered_words": span.covered,
        "coverage": round(span.covered / span.words, 4),
    }


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
        self.rules = _Rules.from_config(config)
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
        spans = find_spans(hits, len(lexed), self.rules)
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


def make_finding(span: WordSpan, start: int, end: int, label: str) -> Finding:
    score = 1.0 if span.mode == "verbatim" else round(span.covered / span.words, 4)
    return Finding(DETECTOR, label, start, end, score, details=_details(span))


class MemorizationStream:
    """Incremental :meth:`MemorizationDetector.detect` over one response (module docstring)."""

    def __init__(self, detector: MemorizationDetector) -> None:
        self._detector = detector
        self._rules = rules = detector.rules
        self._index = detector.index
        self._allow = detector.allow_index
        self._rolling = RollingNgrams(rules.n)
        self._carry = ""  # the unfinished tail of the text (an open word)
        self._carry_start = 0  # its absolute offset
        self._out: list[Finding] = []
        # Per word (absolute index ``base + i``): offsets; per n-gram: prefix hit counts.
        self._base = 0
        self._starts: deque[int] = deque()
        self._ends: deque[int] = deque()
        self._prefix: deque[tuple[int, int]] = deque()  # (hits, allowed) before n-gram k
        self._hits_total = 0
        self._allowed_total = 0
        self._words = 0  # words seen
        self._grams = 0  # n-grams processed
        # verbatim: the open run of hits
        self._run_first = -1
        self._run_len = 0
        # near-verbatim: good-hit coverage, finalized word by word
        self._cover: deque[tuple[int, int]] = deque()  # merged covered intervals (inclusive)
        self._final = 0  # words whose coverage is final
        self._covered_total = 0  # covered words among the final ones
        self._window: deque[int] = deque()  # covered final words in the current window
        self._seg_first = -1  # open union of qualifying windows: first covered word
        self._seg_last = -1  # ... last covered word
        self._seg_end = -1  # ... exclusive end of its last window
        self._seg_before = 0  # covered words before _seg_first
        self._seg_covered = 0  # covered words up to _seg_last
        # What the open run / segment needs once its first words are trimmed away:
        # (start offset, prefix counts) of its first word; end and prefix after its last.
        self._run_anchor: tuple[int, tuple[int, int]] = (0, (0, 0))
        self._seg_anchor: tuple[int, tuple[int, int]] = (0, (0, 0))
        self._seg_tail: tuple[int, tuple[int, int]] = (0, (0, 0))
        self._verbatim: list[WordSpan] = []  # emitted, not yet behind hold_from
        self._closed = False

    # -- public API ----------------------------------------------------------------------
    def feed(self, text: str) -> list[Finding]:
        """Scan the next piece of the response; the findings that became final."""
        if self._closed:
            raise ValueError("this stream was flushed; start a new one per response")
        if not text:
            return []
        if self._carry and not has_separator(text):
            self._carry += text  # still inside one word: nothing to decide yet
            return []
        buffer = self._carry + text
        base = self._carry_start
        push = self._push
        words, tail = complete_lexemes(buffer)
        for word, start, end in words:
            push(word, base + start, base + end)
        self._carry = buffer[tail:]
        self._carry_start = base + tail
        return self._take()

    def flush(self) -> list[Finding]:
        """The response is complete: the remaining findings."""
        if self._closed:
            return []
        if self._carry:
            lexed = lex(self._carry)
            for word, start, end in zip(
                lexed.words, lexed.starts.tolist(), lexed.ends.tolist(), strict=True
            ):
                self._push(word, self._carry_start + start, self._carry_start + end)
            self._carry_start += len(self._carry)
            self._carry = ""
        self._closed = True
        self._close_run()
        self._finalize_words(self._words)
        self._close_segment()
        return self._take()

    @property
    def hold_from(self) -> int:
        """Absolute offset from which text may still become part of a finding."""
        word = self._pending_word()
        starts = [self._carry_start]
        if self._run_first >= 0:
            starts.append(self._run_anchor[0])
        if self._seg_first >= 0:
            starts.append(self._seg_anchor[0])
        if self._base <= word < self._words:
            starts.append(self._starts[word - self._base])
        return min(starts)

    @property
    def active(self) -> Finding | None:
        """A span already certain to be (part of) a finding, still growing; or ``None``."""
        rules = self._rules
        candidates = []
        if self._run_first >= 0 and self._run_len + rules.n - 1 >= rules.min_words:
            last = self._run_first + self._run_len + rules.n - 2
            span = WordSpan(self._run_first, last, "verbatim", last - self._run_first + 1)
            candidates.append((span, self._run_anchor[0], self._ends[last - self._base]))
        if self._seg_first >= 0 and self._seg_last - self._seg_first + 1 >= rules.min_words:
            covered = self._seg_covered - self._seg_before
            span = WordSpan(self._seg_first, self._seg_last, "near", covered)
            candidates.append((span, self._seg_anchor[0], self._seg_tail[0]))
        if not candidates:
            return None
        span, start, end = min(candidates, key=lambda c: c[0].first)
        return make_finding(span, start, end, self._detector.config.label)

    # -- per word ------------------------------------------------------------------------
    def _push(self, word: str, start: int, end: int) -> None:
        self._starts.append(start)
        self._ends.append(end)
        self._words += 1
        gram = self._rolling.push(word_hash(word))
        if gram is None:
            return
        hit = self._index.contains_one(gram)
        self._prefix.append((self._hits_total, self._allowed_total))
        if hit:
            self._hits_total += 1
            if self._allow is not None and self._allow.contains_one(gram):
                self._allowed_total += 1
        self._step(hit)
        if self._grams % _TRIM_EVERY == 0:
            self._trim()

    def _step(self, hit: bool) -> None:
        """Process n-gram ``k`` (= self._grams)."""
        k = self._grams
        self._grams += 1
        if hit:
            if self._run_first < 0:
                self._run_first, self._run_len = k, 1
                self._run_anchor = (self._starts[k - self._base], self._prefix_at(k))
            else:
                self._run_len += 1
                if self._rules.near:
                    if self._run_len == 2:
                        self._good(k - 1)
                    self._good(k)
        else:
            self._close_run()
        if self._rules.near:
            self._finalize_words(k)  # word k-1 is final once n-gram k is known

    def _close_run(self) -> None:
        if self._run_first < 0:
            return
        words = self._run_len + self._rules.n - 1
        if words >= self._rules.min_words:
            span = WordSpan(self._run_first, self._run_first + words - 1, "verbatim", words)
            stop = self._run_first + self._run_len  # the n-gram after the run
            tail = (self._ends[span.last - self._base], self._prefix_at(stop))
            self._emit(span, self._run_anchor, tail)
            self._verbatim.append(span)
        self._run_first, self._run_len = -1, 0

    # -- near-verbatim -------------------------------------------------------------------
    def _good(self, k: int) -> None:
        """N-gram ``k`` is a hit in a run of two or more: its words are covered."""
        last = k + self._rules.n - 1
        if self._cover and k <= self._cover[-1][1] + 1:
            self._cover[-1] = (self._cover[-1][0], max(self._cover[-1][1], last))
        else:
            self._cover.append((k, last))

    def _finalize_words(self, upto: int) -> None:
        """Coverage of words before ``upto`` is final: slide the window over them."""
        if not self._rules.near:
            return
        rules = self._rules
        cover, window = self._cover, self._window
        while self._final < upto:
            i = self._final
            self._final += 1
            while cover and cover[0][1] < i:
                cover.popleft()
            if cover and cover[0][0] <= i:
                self._covered_total += 1
                window.append(i)
            s = i - rules.window + 1  # the window ending at word i
            if s < 0:
                continue
            while window and window[0] < s:
                window.popleft()
            if self._seg_first >= 0 and s > self._seg_end:
                self._close_segment()
            if len(window) >= rules.threshold:
                if self._seg_first < 0:
                    self._seg_first = window[0]
                    self._seg_before = self._covered_total - len(window)
                    self._seg_anchor = (
                        self._starts[window[0] - self._base],
                        self._prefix_at(window[0]),
                    )
                if window[-1] != self._seg_last:
                    self._seg_last = window[-1]
                    self._seg_tail = (
                        self._ends[window[-1] - self._base],
                        self._prefix_at(max(window[-1] - rules.n + 2, 0)),
                    )
                self._seg_covered = self._covered_total
                self._seg_end = s + rules.window

    def _close_segment(self) -> None:
        if self._seg_first < 0:
            return
        span = WordSpan(
            self._seg_first, self._seg_last, "near", self._seg_covered - self._seg_before
        )
        # A verbatim run containing it has always closed by now (it ends W words earlier).
        if span.words >= self._rules.min_words and not _inside(span, self._verbatim):
            self._emit(span, self._seg_anchor, self._seg_tail)
        self._seg_first = self._seg_last = self._seg_end = -1

    # -- bookkeeping ---------------------------------------------------------------------
    def _emit(
        self, span: WordSpan, head: tuple[int, tuple[int, int]], tail: tuple[int, tuple[int, int]]
    ) -> None:
        """Report ``span``: ``head`` and ``tail`` are (offset, prefix counts) at its ends."""
        (start, before), (end, after) = head, tail
        label = self._detector.config.label
        if self._allow is not None:
            label = self._detector.label_for(after[0] - before[0], after[1] - before[1])
        self._out.append(make_finding(span, start, end, label))

    def _prefix_at(self, k: int) -> tuple[int, int]:
        offset = k - self._base
        if offset < len(self._prefix):
            return self._prefix[offset]
        return (self._hits_total, self._allowed_total)

    def _pending_word(self, *, open_spans: bool = True) -> int:
        """The first word that may still become part of a finding not yet returned.

        Without ``open_spans``: leaving out the open run and segment, whose first words
        are anchored (their words need not be kept).
        """
        pending = self._grams  # a future n-gram starts here
        if open_spans and self._run_first >= 0:
            pending = min(pending, self._run_first)
        if self._rules.near:
            pending = min(pending, max(self._grams - 1, 0))
            if open_spans and self._seg_first >= 0:
                pending = min(pending, self._seg_first)
            if self._window:
                pending = min(pending, self._window[0])
        return pending

    def _trim(self) -> None:
        """Forget per-word data no future finding can need (memory stays bounded)."""
        if self._verbatim:
            still = self._pending_word()
            self._verbatim = [v for v in self._verbatim if v.last >= still]
        # n words of margin: a segment's end needs the prefix n-2 words before its last word.
        keep_from = max(
            self._base, min(self._pending_word(open_spans=False), self._words) - self._rules.n
        )
        drop = keep_from - self._base
        for _ in range(drop):
            self._starts.popleft()
            self._ends.popleft()
            if self._prefix:
                self._prefix.popleft()
        self._base = keep_from

    def _take(self) -> list[Finding]:
        out, self._out = self._out, []
        return sorted(out, key=lambda f: (f.start, f.end, str(f.details.get("mode"))))
