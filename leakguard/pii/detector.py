"""PII detection around Presidio's ``AnalyzerEngine``, built once, fully offline.

Nothing here downloads: the spaCy pipeline must be installed or shipped (by default the
name/address NER in ``models/pii-ner``; a missing one raises :class:`ModelNotInstalledError`),
and e-mail validation uses tldextract's bundled public-suffix snapshot instead of fetching
the list. leakguard's own recognizers (``leakguard.pii.recognizers``) join Presidio's, and the
rules in :func:`ner_spans` clean up what the NER reports.
"""

from __future__ import annotations

import bisect
import copy
import functools
import itertools
import logging
import re
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from leakguard.config import PATTERN_ONLY, CustomRecognizer, PIIConfig
from leakguard.exceptions import ModelNotInstalledError
from leakguard.findings import Finding
from leakguard.pii.recognizers import KIND_KEY
from leakguard.pii.recognizers.names import extend_name, plausible_name
from leakguard.pii.recognizers.near_miss import is_near_miss

__all__ = ["PIIDetector", "load_spacy_pipeline"]

_log = logging.getLogger(__name__)

DETECTOR_NAME = "pii"
NER_LABELS = {"ADDRESS": "STREET_ADDRESS"}
_RECOGNIZER_NAME = "recognizer_name"  # presidio RecognizerResult.RECOGNIZER_NAME_KEY
_RECOGNIZER_ID = "recognizer_identifier"  # RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
_ENHANCED = "is_score_enhanced_by_context"  # RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY
_UNSET = object()
# Labels a spaCy NER may produce (after mapping) that the SpacyRecognizer passes on.
_NER_ENTITIES = ["PERSON", "STREET_ADDRESS", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION"]
# Labels whose spans never run across a line break (a NER span that does is cut).
_SINGLE_LINE = frozenset({"PERSON", "NRP", "ORGANIZATION", "LOCATION"})


# The project root: relative model paths (the default ``models/pii-ner/model``) are looked
# up in the working directory first, then here (a checkout), then under <prefix>/share/leakguard
# (where a wheel install puts models/), so the shipped model loads from anywhere.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_LEMMA_FACTORY = "leakguard_norm_lemmas"


def resolve_model(model: str) -> str:
    """``model`` as spaCy should load it: a package name, or a path that exists."""
    path = Path(model)
    if path.exists() or path.is_absolute() or len(path.parts) < 2:
        return model
    for root in (PROJECT_ROOT, Path(sys.prefix) / "share" / "leakguard"):
        shipped = root / path
        if shipped.exists():
            return str(shipped)
    return model


def load_spacy_pipeline(model: str, *, language: str, exclude: Sequence[str] = ()) -> Any:
    """Load an installed spaCy pipeline by package name or path; never download one.

    Components named in ``exclude`` are left out (``pii.spacy_exclude``). A pipeline without
    a lemmatizer (the shipped NER, or ``none``) gets a stand-in that sets each token's lemma
    to its norm, so Presidio's context words still match.
    """
    import spacy

    if model == PATTERN_ONLY:
        nlp = spacy.blank(language)
    else:
        resolved = resolve_model(model)
        if not (spacy.util.is_package(resolved) or Path(resolved).exists()):
            is_path = len(Path(model).parts) > 1 or model.startswith(".")
            package = None if is_path else model.replace("_", "-")
            raise ModelNotInstalledError(model, package=package)
        nlp = spacy.load(resolved, exclude=list(exclude))
    if "lemmatizer" not in nlp.pipe_names:
        _register_norm_lemmas()
        # Named "lemmatizer" so code that runs the pipeline's lemmatizer runs this one.
        nlp.add_pipe(_LEMMA_FACTORY, name="lemmatizer", last=True)
    return nlp


# Components that set only tags, morphology, lemmas (and dependency labels): Presidio reads
# them for context words alone. The components that find entities (and sentence starts for
# them) may run without them, since none of these reads what they set.
_LEMMA_FACTORIES = frozenset({"tagger", "morphologizer", "attribute_ruler", "lemmatizer"})
_ENTITY_FACTORIES = frozenset(
    {"tok2vec", "transformer", "parser", "beam_parser", "senter", "sentencizer", "ner", "beam_ner"}
)
_LEMMA_ATTRS = frozenset({"TAG", "POS", "MORPH", "LEMMA", "DEP"})
# Components that set dependencies or sentence starts (which a NER never crosses).
PARSE_FACTORIES = frozenset({"parser", "beam_parser", "senter", "sentencizer"})
_PARSE_ATTRS = frozenset({"DEP", "HEAD", "SENT_START", "IS_SENT_START"})
_LEXICAL_FEATURES = frozenset(
    {"ORTH", "LOWER", "NORM", "PREFIX", "SUFFIX", "SHAPE", "SPACY", "IS_SPACE"}
)


def lemma_components(nlp: Any) -> tuple[str, ...]:
    """The components of ``nlp`` that may run after the rest, only when lemmas are read
    (tagger, attribute ruler, lemmatizer: ~15% of an ``en_core_web_sm`` scan, needed only
    when a match's recognizer has context words). Empty unless deferring them provably
    leaves the entities alone: every other component must be a known entity-finding
    factory whose own embedding reads only lexical features, and an attribute ruler may
    set only the attributes above."""
    cached = getattr(nlp, "_leakguard_lemma_components", None)
    if cached is None:
        cached = _find_lemma_components(nlp)
        nlp._leakguard_lemma_components = cached
    return cached


def _pipeline_shape(nlp: Any) -> tuple[bool, bool]:
    """Whether ``nlp``'s lemmas are its norms (leakguard's stand-in lemmatizer), and whether
    that is its only component (a tokenizer-only pipeline, i.e. pattern-only). Remembered on
    the pipeline like :func:`lemma_components` (spaCy's ``pipe_names`` costs ~10 us a call)."""
    shape = getattr(nlp, "_leakguard_shape", None)
    if shape is None:
        names = list(nlp.pipe_names)
        norms = "lemmatizer" in names and nlp.get_pipe_meta("lemmatizer").factory == _LEMMA_FACTORY
        shape = nlp._leakguard_shape = (norms, norms and names == ["lemmatizer"])
    return shape


def _special_reach(nlp: Any) -> int:
    """How far (characters) the tokenizer's special cases may look across a whitespace
    boundary and still change a token: a special-case match across one spans at most
    twice the longest rule (its tokens plus the spaces between them), and the match it
    may suppress as much again. Remembered on the pipeline."""
    reach = getattr(nlp, "_leakguard_special_reach", None)
    if reach is None:
        longest = max((len(rule) for rule in nlp.tokenizer.rules), default=0)
        reach = nlp._leakguard_special_reach = 4 * longest + 4
    return int(reach)


def _norms_may_hold(nlp: Any, words: tuple[str, ...]) -> bool:
    """Could a token's norm hold one of ``words`` (lower-case) that its text, lower-cased,
    does not? Only where a word is not ASCII, or is in a norm that the tokenizer's special
    cases ("n't" -> "not", "Jan." -> "January"), spaCy's base norms ("—" -> "-") or the
    vocabulary's norm table give: every other token's norm is its text lower-cased (a test
    checks that on generated answers). Remembered on the pipeline, per words."""
    cache: dict[tuple[str, ...], bool] | None = getattr(nlp, "_leakguard_norm_risk", None)
    if cache is None:
        cache = nlp._leakguard_norm_risk = {}
    risky = cache.get(words)
    if risky is None:
        from spacy.attrs import NORM
        from spacy.lang.norm_exceptions import BASE_NORMS

        extras = {
            str(piece[NORM]).lower()
            for pieces in nlp.tokenizer.rules.values()
            for piece in pieces
            if NORM in piece
        }
        extras.update(str(v).lower() for v in BASE_NORMS.values())
        if nlp.vocab.lookups.has_table("lexeme_norm"):
            extras.update(
                str(v).lower() for v in nlp.vocab.lookups.get_table("lexeme_norm").values()
            )
        risky = cache[words] = not all(w.isascii() for w in words) or any(
            w in extra for w in words for extra in extras
        )
    return risky


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


def _find_lemma_components(nlp: Any) -> tuple[str, ...]:
    if "lemmatizer" not in nlp.pipe_names:
        return ()
    later = []
    parsed = False  # a component that sets dependencies or sentence starts ran already
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        if factory in _LEMMA_FACTORIES:
            later.append(name)
            if factory == "attribute_ruler":
                patterns = nlp.get_pipe(name).patterns
                if any(not {a.upper() for a in p["attrs"]} <= _LEMMA_ATTRS for p in patterns):
                    return ()
                # Run later, a ruler matching on dependencies would see a parse that in
                # pipeline order it runs before.
                keys = {
                    k.upper() for p in patterns for pat in p["patterns"] for t in pat for k in t
                }
                if not parsed and keys & _PARSE_ATTRS and _parses_later(nlp, name):
                    return ()
        elif factory not in _ENTITY_FACTORIES or not _reads_lexical_features(nlp, name):
            return ()
        else:
            parsed = parsed or factory in PARSE_FACTORIES
    return tuple(later)


def _reads_lexical_features(nlp: Any, name: str) -> bool:
    """Whether a component's own embedding (if any) reads only features of the words
    themselves, nothing a tagger or lemmatizer sets."""
    model = nlp.config["components"][name].get("model", {})
    embed = model.get("tok2vec", {}).get("embed", {}) if isinstance(model, dict) else {}
    attrs = embed.get("attrs", []) if isinstance(embed, dict) else []
    return {str(a).upper() for a in attrs} <= _LEXICAL_FEATURES


def _parses_later(nlp: Any, name: str) -> bool:
    after = nlp.pipe_names[nlp.pipe_names.index(name) + 1 :]
    return any(nlp.get_pipe_meta(n).factory in PARSE_FACTORIES for n in after)


def _register_norm_lemmas() -> None:
    from spacy.language import Language

    if Language.has_factory(_LEMMA_FACTORY):
        return

    def norm_lemmas(doc: Any) -> Any:
        for token in doc:
            token.lemma_ = token.norm_
        return doc

    Language.component(_LEMMA_FACTORY, func=norm_lemmas)


def _offline_email_recognizer(language: str) -> Any:
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    # An empty URL list makes tldextract use the snapshot it ships; no cache dir, no network.
    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extractor(pattern_text).fqdn)

    return OfflineEmailRecognizer(supported_language=language)


def _luhn_ok(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if i % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _mod97_ok(text: str) -> bool:
    compact = re.sub(r"[\s-]", "", text).upper()
    if len(compact) < 5 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_VALIDATORS = {"luhn": _luhn_ok, "mod97": _mod97_ok}


def _custom_recognizer(spec: CustomRecognizer, language: str) -> Any:
    from presidio_analyzer import Pattern, PatternRecognizer

    validator = _VALIDATORS.get(spec.validation)

    class ConfiguredRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool | None:
            return None if validator is None else validator(pattern_text)

    return ConfiguredRecognizer(
        supported_entity=spec.label,
        name=spec.name,
        supported_language=language,
        patterns=[Pattern(p.name, p.regex, p.score) for p in spec.patterns],
        context=list(spec.context),
    )


def _nlp_engine(config: PIIConfig) -> Any:
    """Presidio's default spaCy engine settings (entity mapping, ignored labels), but with the
    configured pipeline handed over already loaded, so the engine never takes its own
    download path."""
    import presidio_analyzer
    from presidio_analyzer.nlp_engine import NerModelConfiguration

    defaults = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    settings = yaml.safe_load(defaults.read_text(encoding="utf-8"))
    # The shipped NER's ADDRESS label (one entity per address line) is a street address.
    settings["ner_model_configuration"]["model_to_presidio_entity_mapping"].update(NER_LABELS)
    engine = _lean_engine_class()(
        models=[{"lang_code": config.language, "model_name": config.spacy_model}],
        ner_model_configuration=NerModelConfiguration.from_dict(
            settings["ner_model_configuration"]
        ),
    )
    exclude = tuple(config.spacy_exclude)
    pipeline = load_spacy_pipeline(config.spacy_model, language=config.language, exclude=exclude)
    engine.nlp = {config.language: pipeline}
    engine.loader = lambda language: load_spacy_pipeline(
        config.spacy_model, language=language, exclude=exclude
    )
    return engine


def _lean_engine_class() -> type[Any]:
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
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
    from spacy.attrs import IDX, IS_PUNCT, IS_STOP, LEMMA, LENGTH, NORM

    class LeanArtifacts(NlpArtifacts):
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
            # Not calling NlpArtifacts.__init__: it computes the keywords eagerly.
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
                doc.to_array([IDX, LENGTH, NORM if self._norms else LEMMA]).tolist()
                if len(doc)
                else []
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
        @property  # type: ignore[override]
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
                self._lemmas = (
                    [strings[v] for v in doc.to_array(LEMMA).tolist()] if len(doc) else []
                )
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

    class LeanSpacyNlpEngine(SpacyNlpEngine):
        # Strings the vocabulary may gain before the pipeline is reloaded (each costs a few
        # hundred bytes with its lexeme); ``loader`` rebuilds the pipeline for a language.
        vocab_budget = 100_000
        loader: Callable[[str], Any] | None = None
        # Lemmas per language whose keyword parts are remembered; past this the memory
        # (words from scanned text, like spaCy's vocabulary) is dropped and refilled.
        keyword_memory = 20_000

        def _lemmas_are_norms(self, language: str) -> bool:
            return _pipeline_shape(self.get_nlp(language))[0]

        def process_text(self, text: str, language: str) -> Any:
            if not self.nlp:
                raise ValueError("NLP engine is not loaded")
            nlp = self.get_nlp(language)
            norms, tokens_only = _pipeline_shape(nlp)
            if tokens_only:
                # Pattern-only: the tokens are the whole analysis; made when first read.
                def make() -> Any:
                    doc = nlp.make_doc(text)
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
            doc = nlp(text, disable=["lemmatizer"] if norms else list(later))
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
            self._limits[fresh] = len(fresh.vocab.strings) + self.vocab_budget
            self.nlp[language] = fresh  # type: ignore[index]
            return fresh

        @functools.cached_property
        def _limits(self) -> weakref.WeakKeyDictionary[Any, int]:
            # Per loaded pipeline: the vocabulary size at which it is replaced.
            return weakref.WeakKeyDictionary()

        def _limit(self, nlp: Any) -> int:
            limit = self._limits.get(nlp)
            if limit is None:
                limit = self._limits[nlp] = len(nlp.vocab.strings) + self.vocab_budget
            return limit

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
            return self._artifacts(doc, doc.text, language, self._lemmas_are_norms(language))

        def _artifacts(
            self,
            doc: Any,
            text: str,
            language: str,
            norms: bool,
            fill: Callable[[Any], None] | None = None,
        ) -> Any:
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
            doc = nlp.make_doc(text[lo:hi])
            if self.over_budget(nlp):
                self._renew(language, nlp)
            if not len(doc):
                return []
            strings = doc.vocab.strings
            return [
                (lo + a, n, strings[m]) for a, n, m in doc.to_array([IDX, LENGTH, NORM]).tolist()
            ]

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

    return LeanSpacyNlpEngine


def _lean_enhancer() -> Any:
    """Presidio's lemma context enhancer, with the same results for less work.

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
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

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
                (results[i], results[i].recognition_metadata.get(_ENHANCED, _UNSET))
                for i in settled
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
                return super().enhance_using_context(
                    text, copies, nlp_artifacts, recognizers, context
                )
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
                recognizer = by_id.get(metadata.get(_RECOGNIZER_ID))
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

        def _extract_surrounding_words(
            self, nlp_artifacts: Any, word: str, start: int
        ) -> list[str]:
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

    return LeanContextEnhancer()


_UNKNOWN = object()


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


def _spacy_recognizer(language: str) -> Any:
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    return SpacyRecognizer(supported_language=language, supported_entities=_NER_ENTITIES)


class _NoScannedTextInLogs(logging.Filter):
    """Presidio logs the words around a match at DEBUG ("Context list is: ..."): scanned
    text, PII included. Drop its parameterized DEBUG records, so no log level carries text."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG or not record.args


def _keep_scanned_text_out_of_presidio_logs() -> None:
    presidio = logging.getLogger("presidio-analyzer")
    if not any(isinstance(f, _NoScannedTextInLogs) for f in presidio.filters):
        presidio.addFilter(_NoScannedTextInLogs())


@functools.cache
def _caching_registry_class() -> type:
    from presidio_analyzer import RecognizerRegistry

    class CachingRecognizerRegistry(RecognizerRegistry):
        """Presidio's registry, remembering which recognizers serve a request. Presidio
        filters its whole list once per requested entity on every ``analyze`` call (~0.04
        ms of the ~0.2 ms a short pattern-only scan costs, measured); the answer depends only on the
        language, the entities, ``all_fields`` and the recognizers, so it is kept per
        request and recomputed when the list of recognizers changes. (The kept lists hold
        their recognizers, so an id in a key is never reused by another object.)"""

        def get_recognizers(
            self,
            language: str,
            entities: list[str] | None = None,
            all_fields: bool = False,
            ad_hoc_recognizers: list[Any] | None = None,
        ) -> list[Any]:
            if ad_hoc_recognizers:
                return super().get_recognizers(language, entities, all_fields, ad_hoc_recognizers)
            ids = tuple(id(r) for r in self.recognizers)
            key = (language, None if entities is None else tuple(entities), all_fields, ids)
            served: dict[Any, list[Any]] = self.__dict__.setdefault("_leakguard_served", {})
            found = served.get(key)
            if found is None:
                found = super().get_recognizers(language, entities, all_fields)
                if len(served) >= 16:
                    served.clear()
                served[key] = found
            return list(found)

    return CachingRecognizerRegistry


def build_analyzer(config: PIIConfig) -> Any:
    """A Presidio ``AnalyzerEngine`` for ``config``: offline e-mail check, leakguard's
    recognizers (unless ``builtin_recognizers`` is off), custom recognizers."""
    from presidio_analyzer import PatternRecognizer

    from leakguard.pii.regex_gil import hold_gil
    from leakguard.pii.windows import windowed

    _keep_scanned_text_out_of_presidio_logs()

    engine = _nlp_engine(config)
    registry = _caching_registry_class()(supported_languages=[config.language])
    registry.load_predefined_recognizers(languages=[config.language], nlp_engine=engine)
    # Presidio's e-mail, IP, licence, passport and DEA patterns search only the stretches of
    # text where they can match (same results, a fraction of the time).
    # Their regex matches over short texts keep the GIL (leakguard.pii.regex_gil): scans in
    # threads do not hand it over at every search. Not user-configured patterns below.
    registry.recognizers = [hold_gil(windowed(r)) for r in registry.recognizers]
    registry.remove_recognizer("EmailRecognizer")
    email = _offline_email_recognizer(config.language)
    registry.add_recognizer(hold_gil(windowed(email, stock="EmailRecognizer")))
    registry.remove_recognizer("SpacyRecognizer")
    if config.spacy_model != PATTERN_ONLY:
        registry.add_recognizer(_spacy_recognizer(config.language))
    if config.builtin_recognizers:
        from leakguard.pii.recognizers import builtin_recognizers

        registry.remove_recognizer("PhoneRecognizer")  # ours covers every region
        for recognizer in builtin_recognizers(config.language):
            registry.add_recognizer(recognizer)
    for label, words in config.deny_lists.items():
        deny = PatternRecognizer(
            supported_entity=label,
            name=f"deny_list_{label.lower()}",
            supported_language=config.language,
            deny_list=words,
        )
        registry.add_recognizer(hold_gil(deny))  # escaped words: no backtracking
    for spec in config.recognizers:
        registry.add_recognizer(_custom_recognizer(spec, config.language))
    return _lean_analyzer_class()(
        registry=registry,
        nlp_engine=engine,
        supported_languages=[config.language],
        context_aware_enhancer=_lean_enhancer(),
    )


@functools.cache
def _lean_analyzer_class() -> type:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer

    class LeanAnalyzerEngine(AnalyzerEngine):
        """Presidio's engine. Before its context enhancer runs, Presidio hands each
        recognizer its own results (two filters over all results per recognizer) for the
        recognizer's ``enhance_using_context``, and puts them back together in recognizer
        order. When every recognizer keeps Presidio's default, which returns its results
        as they are, the results are grouped by recognizer in one pass instead."""

        def _enhance_using_context(
            self,
            text: str,
            raw_results: list[Any],
            nlp_artifacts: Any,
            recognizers: list[Any],
            context: list[str] | None = None,
        ) -> list[Any]:
            default = EntityRecognizer.enhance_using_context
            if any(type(r).enhance_using_context is not default for r in recognizers):
                return super()._enhance_using_context(
                    text, raw_results, nlp_artifacts, recognizers, context
                )
            grouped: dict[Any, list[Any]] = {}
            for result in raw_results:
                grouped.setdefault(result.recognition_metadata[_RECOGNIZER_ID], []).append(result)
            results: list[Any] = []
            for recognizer in recognizers:
                results.extend(grouped.get(recognizer.id, ()))
            return self.context_aware_enhancer.enhance_using_context(
                text=text,
                raw_results=results,
                nlp_artifacts=nlp_artifacts,
                recognizers=recognizers,
                context=context,
            )

    return LeanAnalyzerEngine


class PIIDetector:
    """Finds personal data with Presidio. Built once; ``detect`` is safe to call from threads."""

    name = DETECTOR_NAME

    def __init__(self, config: PIIConfig, *, analyzer: Any | None = None) -> None:
        self.config = config
        self._analyzer = analyzer if analyzer is not None else build_analyzer(config)
        self._entities = list(config.entities)
        self._floor = min([config.score_threshold, *config.thresholds.values()])
        self._allow_exact = frozenset(v.casefold() for v in config.allow_list)
        self._allow_patterns = tuple(re.compile(p) for p in config.allow_patterns)
        self._near_misses = config.builtin_recognizers

    @property
    def analyzer(self) -> Any:
        return self._analyzer

    def detect(self, text: str) -> list[Finding]:
        results = self._analyzer.analyze(
            text=text,
            language=self.config.language,
            entities=self._entities,
            score_threshold=self._floor,
        )
        return self.to_findings(text, results)

    def to_findings(self, text: str, results: Sequence[Any]) -> list[Finding]:
        """Filter Presidio results by threshold and allow lists; convert them to findings.

        NER spans get the rules of :func:`ner_spans` (line breaks, titles, address lines
        without any number nearby); pattern matches glued to other characters or read as
        versions are near misses (``builtin_recognizers``).
        """
        kept = [r for r in results if r.score >= self.config.threshold_for(r.entity_type)]
        digit_lines = _address_lines_with_digits(text, kept)
        findings = []
        for result in kept:
            metadata = result.recognition_metadata or {}
            label = result.entity_type
            kind = "ner" if metadata.get(_RECOGNIZER_NAME) == "SpacyRecognizer" else None
            kind = metadata.get(KIND_KEY, kind)
            # Which rule found a secret (e.g. "aws_access_key") helps a reviewer rotate it.
            details = {"kind": kind} if label == "SECRET" and isinstance(kind, str) else {}
            if kind == "ner":
                spans = ner_spans(text, result.start, result.end, label, digit_lines)
            else:
                spans = [(result.start, result.end)] if result.end > result.start else []
            for start, end in spans:
                if self._allowed(text[start:end]):
                    continue
                if self._near_misses and is_near_miss(text, start, end, label):
                    continue
                findings.append(
                    Finding(
                        detector=DETECTOR_NAME,
                        label=label,
                        start=start,
                        end=end,
                        score=float(result.score),
                        details=details,
                    )
                )
        return findings

    def _allowed(self, value: str) -> bool:
        if value.strip().casefold() in self._allow_exact:
            return True
        return any(p.fullmatch(value) for p in self._allow_patterns)


def ner_spans(
    text: str, start: int, end: int, label: str, digit_lines: Sequence[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    """The spans to report for one NER entity.

    * names never cross a line break (:func:`split_lines`), are never only function words
      ("call me"), one lower-case word or a short acronym, and take in an adjacent title
      or suffix ("Dr.", "Jr.");
    * the NER tags an address one line at a time; a line with no digit ("North Holly") is
      kept only next to an address line that has one (house number or postcode), so a
      stray capitalised line is not reported as an address.
    """
    spans = split_lines(text, start, end, label)
    if label == "PERSON":
        return [
            extend_name(text, a, b)
            for a, b in spans
            if plausible_name(text[a:b]) and not _lone_word(text[a:b])
        ]
    if label == "STREET_ADDRESS":
        return [(a, b) for a, b in spans if _near_digit_line(text, a, b, digit_lines)]
    return spans


def _lone_word(value: str) -> bool:
    """One lower-case word ("connect") or one short acronym ("IBAN"): the NER's usual false
    alarms; a lower-case name comes with a surname or a cue ("my name is ...")."""
    return " " not in value and (value.islower() or (value.isupper() and len(value) <= 4))


def _address_lines_with_digits(text: str, results: Sequence[Any]) -> list[tuple[int, int]]:
    return [
        (r.start, r.end)
        for r in results
        if r.entity_type == "STREET_ADDRESS" and any(c.isdigit() for c in text[r.start : r.end])
    ]


def _near_digit_line(
    text: str, start: int, end: int, digit_lines: Sequence[tuple[int, int]]
) -> bool:
    if any(c.isdigit() for c in text[start:end]):
        return True
    for a, b in digit_lines:
        between = text[end:a] if a >= end else text[b:start] if b <= start else ""
        if (a < end and start < b) or (len(between) <= 4 and not between.strip(" \t\n,;|")):
            return True
    return False


def split_lines(text: str, start: int, end: int, label: str) -> list[tuple[int, int]]:
    """The span of one result; a name-like span that crosses line breaks is cut at them.

    spaCy's NER sometimes runs a name into the next line ("Jane Doe\\n- E"); the first line
    is kept, later lines only if they still hold a word of two or more letters.
    """
    if end <= start:
        return []
    if label not in _SINGLE_LINE or "\n" not in text[start:end]:
        return [(start, end)]
    spans = []
    offset = start
    for i, line in enumerate(text[start:end].split("\n")):
        core = line.strip(" \t\r-*•|>:,;.")
        if core and (i == 0 or _WORD.search(core)):
            lo = offset + line.index(core)
            spans.append((lo, lo + len(core)))
        offset += len(line) + 1
    return spans


_WORD = re.compile(r"[^\W\d_]{2,}")


def vanilla_analyzer(model: str, *, language: str = "en") -> Any:
    """Presidio as it comes (all predefined recognizers, default thresholds) with the given
    spaCy pipeline: the anchor for evaluations and benchmarks. Only the e-mail recognizer is
    swapped for the offline one, which validates identically without the network."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    # The whole pipeline, parser included, as Presidio loads it.
    engine = _nlp_engine(PIIConfig(spacy_model=model, language=language, spacy_exclude=[]))
    registry = RecognizerRegistry(supported_languages=[language])
    registry.load_predefined_recognizers(languages=[language], nlp_engine=engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(_offline_email_recognizer(language))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[language])
