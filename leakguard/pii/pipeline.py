"""The spaCy pipeline the PII detector runs: where a model is found, how it is loaded (never
downloaded), and what its shape lets the lean engine (:mod:`leakguard.pii.engine`) skip.

Importing this module is cheap: spaCy is imported by the functions that need it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leakguard.config import PATTERN_ONLY
from leakguard.exceptions import ModelNotInstalledError

__all__ = [
    "PARSE_FACTORIES",
    "PROJECT_ROOT",
    "lemma_components",
    "load_spacy_pipeline",
    "resolve_model",
]

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
