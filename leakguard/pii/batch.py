"""Batch PII detection for corpus-sized jobs, over one :class:`~leakguard.pii.detector.PIIDetector`.

Presidio's own ``BatchAnalyzerEngine`` runs the whole spaCy pipeline through ``nlp.pipe``
and then ``AnalyzerEngine.analyze`` per text with the precomputed artifacts. We do the
same, with three savings (``tests/test_pii_batch.py`` compares the findings with
:meth:`PIIDetector.detect` text by text):

- the batch runs only the entity recognizer (``ner``), the components before it that set
  the sentence starts it respects (the small English pipeline's parser), and the shared
  embedding layer those listen to;
- lemmas (shared ``tok2vec``, POS tagger, attribute ruler, lemmatizer; the parser too for
  a text that skipped the model, as the attribute ruler reads dependency labels) are
  computed per text, only when Presidio's context enhancer asks for them, i.e. when a
  recognizer with context words matched something in that text. Texts likely to need them
  (a digit or an ``@``: what the pattern recognizers look for) get their ``tok2vec`` pass
  in batches;
- texts without an alphabetic run long enough to be a name skip the neural network
  altogether (tokenizer only), when every configured NER label needs letters. This is
  the one place findings can differ: such a text loses what the model alone would have
  labelled in it (the small English model calls "203.0.113.5 404 555-123-4567" a PERSON),
  never what the pattern recognizers find.

The first two change nothing: the findings are identical.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from leakguard.config import PATTERN_ONLY
from leakguard.findings import Finding
from leakguard.pii.bounded import make_doc
from leakguard.pii.deobfuscate import deobfuscate
from leakguard.pii.detector import PIIDetector
from leakguard.pii.pipeline import PARSE_FACTORIES

__all__ = ["BatchPIIDetector"]

# Presidio labels that spaCy NER produces only from alphabetic words. DATE_TIME is not
# among them ("2024" is a date), so configuring it turns the fast path off.
_LETTER_LABELS = frozenset({"PERSON", "NRP", "LOCATION", "ORGANIZATION"})
# Components the entity recognizer needs in the batch; the rest run lazily or never.
_NER_COMPONENTS = ("ner",)
_LEMMA_COMPONENTS = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer")
# Texts that pattern recognizers (and so the context enhancer) are likely to care about.
_LEMMA_LIKELY = re.compile(r"[\d@]")


class BatchPIIDetector:
    """Detects PII in many texts at once; same findings as ``detector.detect`` per text.

    One instance per worker process (it holds the spaCy pipeline); not thread-safe.
    """

    def __init__(
        self, detector: PIIDetector, *, batch_size: int = 32, name_min_letters: int = 2
    ) -> None:
        self.detector = detector
        self.batch_size = batch_size
        config = detector.config
        analyzer = detector.analyzer
        self._analyzer = analyzer
        self._engine = analyzer.nlp_engine
        self._language = config.language
        self._entities = list(config.entities)
        self._floor = min([config.score_threshold, *config.thresholds.values()])
        self._nlp = self._engine.nlp[config.language]
        names = set(self._nlp.pipe_names)
        self._uses_ner = config.spacy_model != PATTERN_ONLY and "ner" in names
        # The NER, the components before it that set sentence starts (its entities never
        # cross one: without en_core_web_sm's parser, findings differ on ~1 text in 600),
        # and the shared embedding layers these listen to.
        order = self._nlp.pipe_names
        before_ner = order[: order.index("ner")] if "ner" in order else []
        batch = set(_NER_COMPONENTS) | {
            n for n in before_ner if self._nlp.get_pipe_meta(n).factory in PARSE_FACTORIES
        }
        for name, component in self._nlp.pipeline:
            if batch & set(getattr(component, "listening_components", ())):
                batch.add(name)
        self._batch_disable = [n for n in self._nlp.pipe_names if n not in batch]
        self._batch_only = frozenset(batch - set(_NER_COMPONENTS))
        # Without a lemmatizer every lemma is "" (as in the full pipeline): nothing to fill.
        lemmatizes = "lemmatizer" in names
        # In pipeline order; the parser too, as en_core_web_sm's attribute ruler reads the
        # dependency labels it sets (a doc that skipped the model gets them here).
        fill = set(_LEMMA_COMPONENTS) | self._batch_only
        self._lemma_components = [n for n in order if n in fill and lemmatizes]
        ner_labels = set(self._ner_labels()) & set(self._entities)
        self._fast_path = self._uses_ner and ner_labels <= _LETTER_LABELS
        self._name_run = re.compile(rf"[^\W\d_]{{{max(1, name_min_letters)},}}")

    def _ner_labels(self) -> list[str]:
        mapping = self._engine.ner_model_configuration.model_to_presidio_entity_mapping
        return list(mapping.values())

    def needs_ner(self, text: str) -> bool:
        """Whether ``text`` must go through the neural pipeline (else tokenizer only)."""
        if not self._uses_ner:
            return False
        return not self._fast_path or self._name_run.search(text) is not None

    def detect_batch(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Raw findings (before policy) for each text, in order; with ``deobfuscate`` on,
        found in each text's normalised view and moved back onto the text, as
        :meth:`PIIDetector.detect` does."""
        if not self.detector.config.deobfuscate:
            return self._detect_batch(texts)
        views = [deobfuscate(text) for text in texts]
        found = self._detect_batch([view.text for view in views])
        return [view.restore(f) for view, f in zip(views, found, strict=True)]

    def _detect_batch(self, texts: Sequence[str]) -> list[list[Finding]]:
        docs: list[Any] = [None] * len(texts)
        neural = [i for i, text in enumerate(texts) if self.needs_ner(text)]
        piped = self._nlp.pipe(
            (make_doc(self._nlp, texts[i]) for i in neural),
            batch_size=self.batch_size,
            disable=self._batch_disable,
        )
        for i, doc in zip(neural, piped, strict=True):
            docs[i] = doc
        for i, text in enumerate(texts):
            if docs[i] is None:
                docs[i] = make_doc(self._nlp, text)
        self._embed([d for d in docs if _LEMMA_LIKELY.search(d.text)])
        piped = set(neural)
        found = [
            self._analyze(text, doc, piped=i in piped)
            for i, (text, doc) in enumerate(zip(texts, docs, strict=True))
        ]
        self._bound_vocabulary()
        return found

    def _bound_vocabulary(self) -> None:
        """spaCy keeps every token string it sees (IDs, numbers, names of a whole corpus):
        past the engine's ``vocab_budget`` the pipeline is replaced by a fresh copy, between
        batches, when no doc of the old one is left (see
        :class:`~leakguard.pii.engine.LeanSpacyNlpEngine`; an analyzer built elsewhere,
        without that engine, is left as it is)."""
        engine = self._engine
        if hasattr(engine, "over_budget") and engine.over_budget(self._nlp):
            self._nlp = engine.reload(self._language)

    def _analyze(self, text: str, doc: Any, *, piped: bool) -> list[Finding]:
        # The online path's artifacts (leakguard.pii.engine.LeanArtifacts), with the lemmas
        # filled in only when Presidio's context enhancer reads them.
        fill = functools.partial(self._fill_lemmas, piped=piped)
        if hasattr(self._engine, "_artifacts"):
            artifacts = self._engine._artifacts(doc, text, self._language, False, fill)
        else:  # stock Presidio's engine (the self-check's last resort): its own artifacts
            fill(doc)
            artifacts = self._engine._doc_to_nlp_artifact(doc, self._language)
        results = self._analyzer.analyze(
            text=text,
            language=self._language,
            entities=self._entities,
            score_threshold=self._floor,
            nlp_artifacts=artifacts,
        )
        return self.detector.to_findings(text, results)

    def _embed(self, docs: list[Any]) -> None:
        """The shared ``tok2vec`` pass, batched, for docs that will probably need lemmas."""
        docs = [d for d in docs if not d.tensor.size]  # not embedded in the batch already
        if docs and "tok2vec" in self._lemma_components:
            for _ in self._nlp.get_pipe("tok2vec").pipe(docs, batch_size=self.batch_size):
                pass

    def _fill_lemmas(self, doc: Any, *, piped: bool) -> None:
        # The tagger reads doc.tensor, set by tok2vec in _embed; a doc that was not
        # expected to need lemmas gets its tok2vec pass here.
        for name in self._lemma_components:
            if name == "tok2vec" and doc.tensor.size:
                continue
            if piped and name in self._batch_only:
                continue  # ran in the batch: this doc went through the model
            self._nlp.get_pipe(name)(doc)
