"""Incremental memorization detection over one streamed response.

:meth:`MemorizationDetector.stream` returns a :class:`MemorizationStream`, one per response:

* ``feed(text) -> list[Finding]`` — give the next piece of the response, however it was
  cut; returns findings that became final (absolute offsets into the whole response).
* ``flush() -> list[Finding]`` — the response ended; returns the remaining findings.
* ``hold_from`` — absolute offset: everything before it is decided (either inside a finding
  already returned, or clean for good). Text from ``hold_from`` on may still become part of
  a finding and must be held back. On text that does not match the index this trails the
  end by the last ``ngram`` words (plus an unfinished word); inside a candidate run it
  stays at the run's start, inside an open near-verbatim chain at the chain's start (a
  chain closes ``max_gap`` n-grams after its last hit).
* ``active`` — a finding that is certain already but still growing (a verbatim run past
  ``min_words``, or a near-verbatim chain that qualifies), or ``None``. Its span will be
  inside a finding that ``feed``/``flush`` returns later, so a caller may redact that text
  now and drop it, keeping its buffer bounded.

The rules are those of :mod:`leakguard.memorization.spans`; the findings of any split of a
text, fed piece by piece, equal :meth:`MemorizationDetector.detect` of the whole text
(property-tested). Each word costs O(1): one hash, one rolling n-gram update, one
cache-line lookup in the filter and a few integer updates.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from leakguard.findings import Finding
from leakguard.memorization.ngrams import RollingNgrams, word_hash
from leakguard.memorization.normalize import complete_lexemes, has_separator, lex
from leakguard.memorization.spans import REPEAT_WINDOW, WordSpan, make_finding

if TYPE_CHECKING:
    from leakguard.memorization.detector import MemorizationDetector

__all__ = ["MemorizationStream"]

_TRIM_EVERY = 64
Anchor = tuple[int, tuple[int, int]]  # (text offset, (hits, allowed) prefix counts)


class _Run:
    """The open run of hits: where it starts, and the words its fresh hits cover."""

    __slots__ = ("anchor", "cov", "end", "first", "fresh_first", "length")

    def __init__(self, first: int, anchor: Anchor) -> None:
        self.first = first
        self.length = 0
        self.anchor = anchor
        self.fresh_first = -1  # first fresh hit
        self.cov = 0  # words covered by its fresh hits
        self.end = -1  # last of them

    def add(self, k: int, n: int, *, fresh: bool) -> None:
        self.length += 1
        if fresh:
            if self.fresh_first < 0:
                self.fresh_first = k
            self.cov += k + n - 1 - max(self.end, k - 1)
            self.end = k + n - 1


class _Chain:
    """An open near-verbatim chain, and its state at the end of its last good run."""

    __slots__ = ("anchor", "cov", "end", "first", "last_hit", "missing", "runs", "snap", "tail")

    def __init__(self, run: _Run, last: int, tail: Anchor) -> None:
        self.first = run.first  # n-gram index of its first good run
        self.anchor = run.anchor
        self.runs = 1
        self.cov = run.cov  # words covered by fresh hits so far
        self.end = run.end  # the last of them
        self.last_hit = last
        self.missing = 0
        self.snap = (1, self.cov, last, 0)  # (runs, covered, last n-gram, missing) at last good
        self.tail = tail  # (end offset, prefix counts) after the last good run

    def extend(self, run: _Run, last: int, *, good: bool, tail: Anchor) -> None:
        self.runs += 1
        self.missing += run.first - self.last_hit - 1
        if run.fresh_first >= 0:
            # Only the run's first fresh hit can share words with the chain so far.
            self.cov += run.cov - max(0, self.end - run.fresh_first + 1)
            self.end = run.end
        self.last_hit = last
        if good:
            self.snap = (self.runs, self.cov, last, self.missing)
            self.tail = tail

    def span(self, n: int) -> WordSpan:
        runs, cov, last, missing = self.snap
        return WordSpan(self.first, last + n - 1, "near", cov, gaps=runs - 1, missing=missing)


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
        self._run: _Run | None = None  # the open run of hits
        self._chain: _Chain | None = None
        # hits of the last REPEAT_WINDOW n-grams: hash -> last position, and in order
        self._seen: dict[int, int] = {}
        self._seen_order: deque[tuple[int, int]] = deque()
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
        self._close_chain()
        return self._take()

    @property
    def hold_from(self) -> int:
        """Absolute offset from which text may still become part of a finding."""
        word = self._pending_word()
        starts = [self._carry_start]
        if self._run is not None:
            starts.append(self._run.anchor[0])
        if self._chain is not None:
            starts.append(self._chain.anchor[0])
        if self._base <= word < self._words:
            starts.append(self._starts[word - self._base])
        return min(starts)

    @property
    def active(self) -> Finding | None:
        """A span already certain to be (part of) a finding, still growing; or ``None``."""
        rules = self._rules
        candidates = []
        run = self._run
        if run is not None and run.length + rules.n - 1 >= rules.min_words:
            last = run.first + run.length + rules.n - 2
            span = WordSpan(run.first, last, "verbatim", last - run.first + 1)
            candidates.append((span, run.anchor[0], self._ends[last - self._base]))
        chain = self._chain
        if chain is not None:
            span = chain.span(rules.n)
            if rules.near_qualifies(runs=span.gaps + 1, words=span.words, covered=span.covered):
                candidates.append((span, chain.anchor[0], chain.tail[0]))
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
        self._step(hit, gram)
        if self._grams % _TRIM_EVERY == 0:
            self._trim()

    def _step(self, hit: bool, gram: int) -> None:
        """Process n-gram ``k`` (= self._grams)."""
        k = self._grams
        self._grams += 1
        if hit:
            if self._run is None:
                self._run = _Run(k, (self._starts[k - self._base], self._prefix_at(k)))
            self._run.add(k, self._rules.n, fresh=self._fresh(gram, k))
            return
        self._close_run()
        chain = self._chain
        if chain is not None and k - chain.last_hit > self._rules.max_gap:
            self._close_chain()  # no later run can join it

    def _fresh(self, gram: int, k: int) -> bool:
        """Whether hit ``k`` is fresh: its n-gram was no hit in the last REPEAT_WINDOW."""
        seen, order = self._seen, self._seen_order
        while order and order[0][0] < k - REPEAT_WINDOW:
            old, old_gram = order.popleft()
            if seen.get(old_gram) == old:
                del seen[old_gram]
        before = seen.get(gram)
        seen[gram] = k
        order.append((k, gram))
        return before is None

    def _close_run(self) -> None:
        run = self._run
        if run is None:
            return
        n = self._rules.n
        first, last = run.first, run.first + run.length - 1
        # (end of the run's last word, prefix counts after its last n-gram)
        tail = (self._ends[last + n - 1 - self._base], self._prefix_at(last + 1))
        if last - first + n >= self._rules.min_words:
            span = WordSpan(first, last + n - 1, "verbatim", last - first + n)
            self._emit(span, run.anchor, tail)
        if self._rules.near:
            good = last > first
            if self._chain is not None:
                self._chain.extend(run, last, good=good, tail=tail)
            elif good:
                self._chain = _Chain(run, last, tail)
        self._run = None

    def _close_chain(self) -> None:
        chain, self._chain = self._chain, None
        if chain is None:
            return
        span = chain.span(self._rules.n)
        if self._rules.near_qualifies(runs=span.gaps + 1, words=span.words, covered=span.covered):
            self._emit(span, chain.anchor, chain.tail)

    # -- bookkeeping ---------------------------------------------------------------------
    def _emit(self, span: WordSpan, head: Anchor, tail: Anchor) -> None:
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

        Without ``open_spans``: leaving out the open run and chain, whose first words are
        anchored (their words need not be kept).
        """
        pending = self._grams  # a future n-gram starts here
        if open_spans and self._run is not None:
            pending = min(pending, self._run.first)
        if open_spans and self._chain is not None:
            pending = min(pending, self._chain.first)
        return pending

    def _trim(self) -> None:
        """Forget per-word data no future finding can need (memory stays bounded)."""
        # n words of margin: a run's end needs the offset of its last word, n - 1 back.
        keep_from = max(
            self._base, min(self._pending_word(open_spans=False), self._words) - self._rules.n
        )
        for _ in range(keep_from - self._base):
            self._starts.popleft()
            self._ends.popleft()
            if self._prefix:
                self._prefix.popleft()
        self._base = keep_from

    def _take(self) -> list[Finding]:
        out, self._out = self._out, []
        return sorted(out, key=lambda f: (f.start, f.end, str(f.details.get("mode"))))
