"""Presidio's lemma context enhancer, with the same results for less work
(:class:`LeanContextEnhancer`).

* The enhancer deep-copies every result (with its explanation and recognizer metadata)
  before it raises scores; what it changes is the score, the explanation's context
  fields and one metadata key, so a copy of the result, its metadata dict and its
  explanation is enough.
* For each result Presidio walks the tokens from the start of the text to find the one
  the match starts in, and tests each lemma near it for membership in the text's keyword
  *list*. Here the token is found by bisection over the token ends (computed once per
  text: the first token ending after the match's start is the one Presidio's walk
  stops at, as tokens are non-empty and in order) and membership is tested in a set of
  the same keywords.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Sequence
from typing import Any

# Presidio is loaded with transformers hidden (leakguard.pii.recognizers.base) first.
import leakguard.pii.recognizers.base  # noqa: F401  # isort: skip
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

__all__ = ["LeanContextEnhancer"]

RECOGNIZER_ID = "recognizer_identifier"  # presidio RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
_ENHANCED = "is_score_enhanced_by_context"  # RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY
_UNSET = object()
_UNKNOWN = object()


class _ResultsToCopy(list[Any]):
    """The results, for Presidio's enhancer, which deep-copies them before it raises
    scores: only those at the ``walked`` indices (the ones it may change) are copied,
    each with its metadata and explanation (what it changes); the rest are passed on
    as they are. Those at the ``settled`` indices are marked as already enhanced (so
    Presidio's loop passes them by) until :meth:`unmark`."""

    def __init__(self, results: list[Any], walked: set[int], settled: list[int]) -> None:
        super().__init__(results)
        self._walked = walked
        self._marked = [
            (results[i], results[i].recognition_metadata.get(_ENHANCED, _UNSET)) for i in settled
        ]

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        copies = []
        for i, result in enumerate(self):
            if i not in self._walked:
                copies.append(result)
                continue
            twin = copy.copy(result)
            twin.recognition_metadata = dict(result.recognition_metadata or {})
            twin.analysis_explanation = copy.copy(result.analysis_explanation)
            copies.append(twin)
        for result, _ in self._marked:
            result.recognition_metadata[_ENHANCED] = True
        return copies

    def unmark(self) -> None:
        for result, was in self._marked:
            if was is _UNSET:
                result.recognition_metadata.pop(_ENHANCED, None)
            else:
                result.recognition_metadata[_ENHANCED] = was


class LeanContextEnhancer(LemmaContextAwareEnhancer):
    def enhance_using_context(
        self,
        text: str,
        raw_results: list[Any],
        nlp_artifacts: Any,
        recognizers: list[Any],
        context: list[str] | None = None,
    ) -> list[Any]:
        walked, settled = self._plan(raw_results, nlp_artifacts, recognizers, context)
        copies = _ResultsToCopy(raw_results, walked, settled)
        try:
            return super().enhance_using_context(text, copies, nlp_artifacts, recognizers, context)
        finally:
            copies.unmark()

    def _plan(
        self,
        results: list[Any],
        nlp_artifacts: Any,
        recognizers: list[Any],
        context: list[str] | None,
    ) -> tuple[set[int], list[int]]:
        """Which results Presidio's loop will walk the context of, and which it would
        but need not: their score cannot change, at the maximum already or (on a text
        not tokenized yet, without external context words) with none of their
        recognizer's context words in any lemma the walk could reach
        (:meth:`LeanArtifacts.may_support`). A text whose matches are all settled is
        never tokenized. (A settled result's decision process names no supporting
        word; leakguard does not ask for it.)"""
        may_support = None if context else getattr(nlp_artifacts, "may_support", None)
        by_id = {r.id: r for r in recognizers}
        walked: set[int] = set()
        settled = []
        for i, result in enumerate(results):
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RECOGNIZER_ID))
            if recognizer is None or not recognizer.context or metadata.get(_ENHANCED):
                continue  # Presidio passes these by itself
            if result.score == self.MAX_SCORE or (
                may_support is not None
                and not may_support(
                    result.start,
                    result.end,
                    [w.lower() for w in recognizer.context],
                    self.context_prefix_count,
                    self.context_suffix_count,
                )
            ):
                settled.append(i)
            else:
                walked.add(i)
        return walked, settled

    def _extract_surrounding_words(self, nlp_artifacts: Any, word: str, start: int) -> list[str]:
        view = _ContextView.of(nlp_artifacts) if nlp_artifacts.tokens else None
        ends = view.ends if view is not None else None
        index = bisect.bisect_right(ends, start) if ends is not None else -1
        if view is None or ends is None or index >= len(ends):
            # No tokens, or tokens Presidio's own walk must handle (it raises
            # ValueError for a start past the last token).
            return super()._extract_surrounding_words(nlp_artifacts, word, start)
        lemmas = nlp_artifacts.lemmas
        words = view.near(lemmas, index, self.context_prefix_count, -1)
        words += view.near(lemmas, index, self.context_suffix_count, 1)
        return list(set(words))


class _ContextView:
    """What the context enhancer asks of one text's NLP artifacts, computed once: the
    keywords as a set and the token ends (None when they are not strictly increasing,
    i.e. some token is empty or out of order: then Presidio's walk is used)."""

    __slots__ = ("ends", "keywords")
    _ATTR = "_leakguard_context_view"

    def __init__(self, nlp_artifacts: Any) -> None:
        self.keywords = frozenset(nlp_artifacts.keywords)
        # leakguard's artifacts know their token ends; others' are computed (and checked).
        ends: Any = getattr(nlp_artifacts, "token_ends", _UNKNOWN)
        self.ends: list[int] | None = self._token_ends(nlp_artifacts) if ends is _UNKNOWN else ends

    @staticmethod
    def _token_ends(nlp_artifacts: Any) -> list[int] | None:
        ends: list[int] = []
        last = -1
        for idx, token in zip(nlp_artifacts.tokens_indices, nlp_artifacts.tokens, strict=False):
            end = idx + len(token)
            if end <= last or end <= idx:
                return None
            ends.append(end)
            last = end
        return ends

    @classmethod
    def of(cls, nlp_artifacts: Any) -> _ContextView | None:
        # Cached on the artifacts: they belong to one text (and one thread).
        view = getattr(nlp_artifacts, cls._ATTR, None)
        if view is None:
            view = cls(nlp_artifacts)
            setattr(nlp_artifacts, cls._ATTR, view)
        return view if view.ends is not None else None

    def near(self, lemmas: Sequence[str], index: int, count: int, step: int) -> list[str]:
        """Presidio's ``_add_n_words``: from ``index`` on (that token included), the first
        ``count + 1`` lemmas, lower-cased, that are keywords."""
        words: list[str] = []
        remaining = count + 1
        i = index
        while 0 <= i < len(lemmas) and remaining > 0:
            lemma = lemmas[i].lower()
            if lemma in self.keywords:
                words.append(lemma)
                remaining -= 1
            i += step
        return words
