"""Presidio's spaCy NLP engine with cheaper artifacts, same results (:class:`LeanSpacyNlpEngine`).

The artifacts (:class:`LeanArtifacts`) read offsets, lengths and lemmas out of one spaCy
array, compute keywords only when a context word asks for them, and (pattern-only)
tokenize a text only when a match's context is read; :meth:`LeanArtifacts.may_support`
answers from a window of tokens around the match whether the context could change a
score at all. The engine bounds spaCy's ever-growing vocabulary by reloading the pipeline.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import logging
import re
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

# Presidio is loaded with transformers hidden (leakguard.pii.recognizers.base) first.
import leakguard.pii.recognizers.base  # noqa: F401  # isort: skip
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from spacy.attrs import IDX, IS_PUNCT, IS_STOP, LEMMA, LENGTH, NORM

from leakguard.pii.bounded import make_doc
from leakguard.pii.pipeline import (
    _norms_may_hold,
    _pipeline_shape,
    _special_reach,
    lemma_components,
)

__all__ = ["LeanArtifacts", "LeanSpacyNlpEngine"]

_log = logging.getLogger(__name__)


# How far back (characters) a context window begins at first (then 4x, then 16x): six
# keywords back take ~50 characters of prose.
_WINDOW = 64
_SPACE_THEN_WORD = re.compile(r"\s\S")
_WORD_THEN_SPACE = re.compile(r"\S\s")


def _piece_start(text: str, at: int) -> int:
    """A place at or after ``at`` where spaCy's tokenizer begins a whitespace-separated
    piece (0 for ``at <= 0`` or when none follows)."""
    if at <= 0:
        return 0
    found = _SPACE_THEN_WORD.search(text, at - 1)
    return found.start() + 1 if found is not None else 0


def _piece_end(text: str, at: int) -> int:
    """A place at or after ``at`` where a whitespace-separated piece ends (the text's end
    when none does)."""
    found = _WORD_THEN_SPACE.search(text, max(at - 1, 0))
    return found.start() + 1 if found is not None else len(text)


def _walk_for_words(
    rows: Sequence[tuple[int, int, str]],
    start: int,
    words: Sequence[str],
    before: int,
    after: int,
    *,
    lo: int,
    hi: int,
    certain: Callable[[str], bool],
) -> bool | None:
    """From the token a match at ``start`` begins in, walk ``after + 1`` certain keywords
    on and ``before + 1`` back over ``rows`` (tokens as ``(offset, length, lemma)``):
    True if a lemma on the way holds one of ``words``, False if none does, None if the
    walk left the trusted stretch ``lo``..``hi`` (a window edge that is not the text's)."""
    ends = [offset + length for offset, length, _ in rows]
    if any(length <= 0 for _, length, _ in rows) or any(
        a >= b for a, b in itertools.pairwise(ends)
    ):
        return True  # tokens Presidio's own walk handles
    index = bisect.bisect_right(ends, start)
    if index >= len(rows):
        return True if not rows or ends[-1] <= hi else None
    first = last = index
    for step, wanted in ((1, after + 1), (-1, before + 1)):
        i, count = index, wanted
        while count > 0 and 0 <= i < len(rows):
            offset, length, lemma = rows[i]
            if offset < lo or offset + length > hi:
                return None
            if certain(lemma):
                count -= 1
            i += step
        if count > 0 and (rows[0][0] < lo if step < 0 else ends[-1] > hi):
            return None
        first, last = min(first, i - step), max(last, i - step)
    # '\0' ends each lemma: no context word holds one.
    walked = "\0".join(lemma.lower() for _, _, lemma in rows[first : last + 1])
    return any(word in walked for word in words)


class LeanArtifacts:
    """What Presidio's recognizers and context enhancer read of ``NlpArtifacts``
    (``entities``, ``scores``, ``tokens``, ``tokens_indices``, ``lemmas``, ``keywords``,
    ``nlp_engine``, ``to_json``), computed when first read. Its own class, not a subclass
    that skips ``NlpArtifacts.__init__`` (which computes the keywords eagerly): should a
    Presidio upgrade read something else, the start-up self-check
    (:mod:`leakguard.pii.selfcheck`) finds the difference and Presidio's own artifacts are
    used instead."""

    def __init__(
        self,
        *,
        doc: Any,
        text: str,
        entities: Any,
        scores: Any,
        engine: Any,
        language: str,
        norms: bool,
        fill: Callable[[Any], None] | None = None,
        make: Callable[[], Any] | None = None,
    ) -> None:
        # ``fill`` runs the components that set the lemmas, which were left out of the
        # pipeline run: only context words need them, so they run on first access.
        # ``make`` (instead of a ``doc``) tokenizes the text when the tokens are first
        # asked for: a tokenizer-only pipeline has no entities to report, and only
        # context words read tokens, so a text without matches is never tokenized.
        self.entities = entities
        self.scores = scores if scores else [0.85] * len(entities)
        self.nlp_engine = engine
        self._language = language
        self._text = text
        self._norms = norms
        self._keywords: list[str] | None = None
        self._make = make
        self._rows: list[list[int]] = []
        self._tokens: list[str] = []
        self._tokens_indices: list[int] = []
        self._doc: Any = None
        self._fill: Callable[[Any], None] | None = fill
        self._lemmas: list[str] | None = None
        # Where recognizers that search only part of the text (leakguard.pii.windows)
        # found it: shared by those that search the same windows, for this text only.
        self.windows: dict[Any, Any] = {}
        self._lowered: str | None = None  # the text lower-cased, when first needed
        if make is None:
            self._read(doc)

    def _read(self, doc: Any) -> None:
        text, fill = self._text, self._fill
        rows = (
            doc.to_array([IDX, LENGTH, NORM if self._norms else LEMMA]).tolist() if len(doc) else []
        )
        self._rows = rows
        self._tokens_indices = [row[0] for row in rows]
        # Token texts stand in for the Doc: the enhancer only takes their lengths.
        self._tokens = [text[row[0] : row[0] + row[1]] for row in rows]
        self._doc = doc if fill is not None else None
        if fill is None and self._lemmas is None:
            strings = doc.vocab.strings
            self._lemmas = [strings[row[2]] for row in rows]

    def _made(self) -> None:
        make, self._make = self._make, None
        if make is not None:
            self._read(make())

    # Presidio types ``tokens`` as a Doc; a list of the token texts serves its readers.
    @property
    def tokens(self) -> list[str]:
        self._made()
        return self._tokens

    @tokens.setter
    def tokens(self, value: list[str]) -> None:
        self._made()
        self._tokens = value

    @property
    def tokens_indices(self) -> list[int]:
        self._made()
        return self._tokens_indices

    @tokens_indices.setter
    def tokens_indices(self, value: list[int]) -> None:
        self._made()
        self._tokens_indices = value

    @property
    def lemmas(self) -> list[str]:
        self._made()
        if self._lemmas is None:
            doc, fill = self._doc, self._fill
            assert doc is not None
            assert fill is not None
            fill(doc)
            strings = doc.vocab.strings
            self._lemmas = [strings[v] for v in doc.to_array(LEMMA).tolist()] if len(doc) else []
            self._doc = self._fill = None
        return self._lemmas

    @lemmas.setter
    def lemmas(self, value: list[str]) -> None:
        self._made()
        self._lemmas = value

    @property
    def token_ends(self) -> list[int] | None:
        """Where each token ends (strictly increasing: spaCy's tokens are non-empty and
        in order; None if one were empty)."""
        self._made()
        if any(row[1] == 0 for row in self._rows):
            return None
        return [row[0] + row[1] for row in self._rows]

    def may_support(
        self, start: int, end: int, words: Sequence[str], before: int, after: int
    ) -> bool:
        """Could a context word (``words``, lower-case) be found around a match at
        ``start``..``end``? False only when it cannot: no lemma the context walk could
        reach holds one. Answered without tokenizing the whole text, from the tokens
        of a window around the match; True (let the enhancer look) once the text is
        tokenized, or when the window cannot tell.

        The enhancer walks from the token the match starts in: ``before + 1``
        keywords back and ``after + 1`` on (:meth:`_ContextView.near`), a keyword
        being a lemma that, lower-cased, is one of the text's keywords. A lemma
        that passes the keyword filters and holds no ':' is one of them whatever
        the rest of the text says (its own lower case is among its parts); counting
        only those, the walk here reaches at least as far as the enhancer's, and
        every lemma on it is checked for a context word (the enhancer asks whether
        a context word is *in* a keyword).

        The window's tokens are the whole text's: spaCy splits at whitespace first
        and tokenizes each piece alone, and the window begins and ends at the
        boundaries of those pieces; only its special cases look across them, and
        never further than :func:`_special_reach` characters, so tokens that close
        to a cut are not trusted (a wider window is tried).
        """
        if self._make is None:
            return True
        text, engine, language = self._text, self.nlp_engine, self._language
        nlp = engine.get_nlp(language)
        # No context word anywhere in the text (lower-cased), and none that a norm
        # could bring in: no lemma holds one, near the match or anywhere else.
        if self._lowered is None:
            self._lowered = text.lower()
        lowered = self._lowered
        if not any(w in lowered for w in words) and not _norms_may_hold(nlp, tuple(words)):
            return False
        reach = _special_reach(nlp)
        back = _WINDOW
        while back <= 16 * _WINDOW:
            lo = _piece_start(text, start - back - reach)
            hi = _piece_end(text, max(start, end) + reach + _WINDOW // 4)
            if lo == 0 and hi == len(text):
                self._made()  # the window is the text: tokenize it once, for the enhancer
                return True
            found = _walk_for_words(
                engine.window(text, lo, hi, language), start, words, before, after,
                lo=lo + reach if lo > 0 else 0,
                hi=hi - reach if hi < len(text) else hi,
                certain=lambda lemma: engine.keyword_parts(lemma, language)
                == (lemma.lower(),),
            )  # fmt: skip
            if found is not None:
                return found
            back *= 4
        return True

    @property
    def keywords(self) -> list[str]:
        if self._keywords is None:
            self._keywords = self.nlp_engine.keywords(self.lemmas, self._language)
        return self._keywords

    @keywords.setter
    def keywords(self, value: list[str]) -> None:
        self._keywords = value

    def to_json(self) -> str:
        """What Presidio's ``NlpArtifacts.to_json`` gives (its decision-process trace, which
        leakguard never turns on: it holds the text)."""
        return json.dumps(
            {
                "entities": [entity.text for entity in self.entities],
                "tokens": self.tokens,
                "lemmas": self.lemmas,
                "tokens_indices": self.tokens_indices,
                "keywords": self.keywords,
                "scores": [float(score) for score in self.scores],
            }
        )


class LeanSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine with cheaper artifacts; the same results.

    Presidio turns every spaCy token into a Python object several times per text (lemmas,
    offsets, and one walk over the tokens per match that has context words) and looks each
    lemma up in the vocabulary for its keyword list: about a tenth of a pattern-only scan.
    Here offsets, lengths and lemmas come out of one ``Doc.to_array`` call (when the
    pipeline's lemmatizer is leakguard's stand-in, lemma = norm, it does not run: the norms
    are read directly); ``tokens`` is the list of token texts (all Presidio's context
    enhancer asks of a token is its length); keywords are computed when a match with
    context words first asks for them, and the engine remembers which lemmas are keywords
    (Presidio asks the vocabulary twice per lemma of every text otherwise).

    Pattern-only (a tokenizer-only pipeline), the text is tokenized only when a match with
    context words reads the tokens: a text without matches (most answers, most stream
    windows) skips it, ~20% of a clean 1 KB scan (measured).

    spaCy keeps every new token string it sees in its vocabulary, for good: a long-running
    guard would grow without bound (+470 MB after 8,000 responses of random words) and hold
    every name and number it ever scanned in memory. Once the vocabulary has grown by
    ``vocab_budget`` strings since the pipeline was loaded, a fresh copy of the pipeline is
    loaded in the background and swapped in (scans in flight finish on the old one, which
    is then freed). spaCy's memory zones would bound it too, but they switch off the
    tokenizer's cache and rebuild every word's lexeme on every text: +58% scan time,
    measured.
    """

    # Strings the vocabulary may gain before the pipeline is reloaded (each costs a few
    # hundred bytes with its lexeme); ``loader`` rebuilds the pipeline for a language.
    vocab_budget = 100_000
    loader: Callable[[str], Any] | None = None
    # Lemmas per language whose keyword parts are remembered; past this the memory
    # (words from scanned text, like spaCy's vocabulary) is dropped and refilled.
    keyword_memory = 20_000
    # False: Presidio's own artifacts (``NlpArtifacts``, made by its ``SpacyNlpEngine``
    # code from the whole pipeline's doc) instead of :class:`LeanArtifacts`: the stock path
    # the start-up self-check falls back to (:mod:`leakguard.pii.selfcheck`). The bounded
    # tokenizing and the vocabulary bound stay.
    lean_artifacts = True

    def _lemmas_are_norms(self, language: str) -> bool:
        return _pipeline_shape(self.get_nlp(language))[0]

    def process_text(self, text: str, language: str) -> Any:
        if not self.nlp:
            raise ValueError("NLP engine is not loaded")
        nlp = self.get_nlp(language)
        if not self.lean_artifacts:
            doc = nlp(make_doc(nlp, text))
            stock = super()._doc_to_nlp_artifact(doc, language)
            if self.over_budget(nlp):
                self._renew(language, nlp)
            return stock
        norms, tokens_only = _pipeline_shape(nlp)
        if tokens_only:
            # Pattern-only: the tokens are the whole analysis; made when first read.
            def make() -> Any:
                doc = make_doc(nlp, text)
                if self.over_budget(nlp):
                    self._renew(language, nlp)
                return doc

            return LeanArtifacts(
                doc=None,
                text=text,
                entities=[],
                scores=[],
                engine=self,
                language=language,
                norms=True,
                make=make,
            )
        later = () if norms else lemma_components(nlp)
        doc = nlp(make_doc(nlp, text), disable=["lemmatizer"] if norms else list(later))
        fill = None
        if later:

            def fill(doc: Any) -> None:
                for name in later:
                    nlp.get_pipe(name)(doc)

        artifacts = self._artifacts(doc, text, language, norms, fill)
        if self.over_budget(nlp):
            self._renew(language, nlp)
        return artifacts

    def over_budget(self, nlp: Any) -> bool:
        """Has ``nlp``'s vocabulary grown by ``vocab_budget`` strings since it was loaded?"""
        return self.loader is not None and len(nlp.vocab.strings) > self._limit(nlp)

    def reload(self, language: str) -> Any:
        """Load a fresh pipeline for ``language``, swap it in and return it."""
        assert self.loader is not None
        fresh = self.loader(language)
        self._sizes[fresh] = len(fresh.vocab.strings)
        self.nlp[language] = fresh  # type: ignore[index]
        return fresh

    @functools.cached_property
    def _sizes(self) -> weakref.WeakKeyDictionary[Any, int]:
        # Per loaded pipeline: its vocabulary's size when this engine first saw it.
        return weakref.WeakKeyDictionary()

    def _limit(self, nlp: Any) -> int:
        """The vocabulary size at which ``nlp`` is replaced (``vocab_budget`` is read now,
        so a budget set after the first scans still counts)."""
        size = self._sizes.get(nlp)
        if size is None:
            size = self._sizes[nlp] = len(nlp.vocab.strings)
        return size + self.vocab_budget

    @functools.cached_property
    def _renewing(self) -> threading.Lock:
        return threading.Lock()

    def _renew(self, language: str, old: Any) -> None:
        """:meth:`reload` in the background (once at a time); scans go on meanwhile."""
        if not self._renewing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                if self.get_nlp(language) is old:
                    self.reload(language)
            except Exception:  # keep scanning on the old one; retried later
                _log.warning("reloading the spaCy pipeline failed; will retry", exc_info=True)
            finally:
                self._renewing.release()

        threading.Thread(target=run, name="leakguard-spacy-reload", daemon=True).start()

    def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
        if not self.lean_artifacts:
            return super()._doc_to_nlp_artifact(doc, language)
        return self._artifacts(doc, doc.text, language, self._lemmas_are_norms(language))

    def _artifacts(
        self,
        doc: Any,
        text: str,
        language: str,
        norms: bool,
        fill: Callable[[Any], None] | None = None,
    ) -> Any:
        if not self.lean_artifacts:
            if fill is not None:
                fill(doc)  # Presidio's artifacts read every lemma up front
            return super()._doc_to_nlp_artifact(doc, language)
        # ``text`` is what the doc was made of: ``Doc.text`` would rebuild it token by token.
        entities = self._get_entities(doc)
        scores = self._get_scores_for_entities(doc)
        entities, scores = self._get_updated_entities(entities, scores)
        return LeanArtifacts(
            doc=doc,
            text=text,
            entities=entities,
            scores=scores,
            engine=self,
            language=language,
            norms=norms,
            fill=fill,
        )

    def _flag(self, word: str, language: str, attr: int) -> bool:
        # ``vocab[word]`` would add a lexeme for every new word (outside any zone: for
        # good); a new lexeme's flags come from these same functions.
        vocab = self.get_nlp(language).vocab
        if word in vocab:
            return bool(vocab[word].check_flag(attr))
        return bool(vocab.lex_attr_getters[attr](word))  # type: ignore[attr-defined]

    @functools.cached_property
    def _keyword_parts(self) -> dict[str, dict[str, tuple[str, ...]]]:
        return {}

    def keywords(self, lemmas: list[str], language: str) -> list[str]:
        """Presidio's ``NlpArtifacts.set_keywords``: the lemmas that are neither stop
        words nor punctuation (nor "-PRON-" or "be"), lower-cased and split at ':'.
        A word's flags depend on the word alone, so each lemma's parts are remembered."""
        memory = self._keyword_parts.setdefault(language, {})
        keywords: list[str] = []
        for lemma in lemmas:
            parts = memory.get(lemma)
            if parts is None:
                parts = self.keyword_parts(lemma, language)
            keywords.extend(parts)
        return keywords

    def keyword_parts(self, lemma: str, language: str) -> tuple[str, ...]:
        """The keywords ``lemma`` contributes (remembered per lemma)."""
        memory = self._keyword_parts.setdefault(language, {})
        parts = memory.get(lemma)
        if parts is None:
            parts = self._keyword_parts_of(lemma, language)
            if len(memory) >= self.keyword_memory:
                memory.clear()
            memory[lemma] = parts
        return parts

    def window(self, text: str, lo: int, hi: int, language: str) -> list[tuple[int, int, str]]:
        """The tokens of ``text[lo:hi]``: (offset in ``text``, length, norm)."""
        nlp = self.get_nlp(language)
        doc = make_doc(nlp, text[lo:hi])
        if self.over_budget(nlp):
            self._renew(language, nlp)
        if not len(doc):
            return []
        strings = doc.vocab.strings
        return [(lo + a, n, strings[m]) for a, n, m in doc.to_array([IDX, LENGTH, NORM]).tolist()]

    def _keyword_parts_of(self, lemma: str, language: str) -> tuple[str, ...]:
        if (
            lemma in ("-PRON-", "be")
            or self.is_stopword(lemma, language)
            or self.is_punct(lemma, language)
        ):
            return ()
        return tuple(lemma.lower().split(":"))

    def is_stopword(self, word: str, language: str) -> bool:
        return self._flag(word, language, IS_STOP)

    def is_punct(self, word: str, language: str) -> bool:
        return self._flag(word, language, IS_PUNCT)
