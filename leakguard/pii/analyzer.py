"""Building Presidio's ``AnalyzerEngine`` for a :class:`~leakguard.config.PIIConfig`: the
recognizer registry (Presidio's predefined recognizers, an offline e-mail check,
leakguard's own recognizers, deny lists and configured patterns), the lean NLP engine
(:mod:`leakguard.pii.engine`) and context enhancer (:mod:`leakguard.pii.context`).

Nothing here downloads: e-mail validation uses tldextract's bundled public-suffix snapshot
instead of fetching the list, and the spaCy pipeline is handed to Presidio already loaded
(:mod:`leakguard.pii.pipeline`). :func:`vanilla_analyzer` is Presidio as it comes, the
anchor for evaluations and benchmarks.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Presidio is loaded with transformers hidden (leakguard.pii.recognizers.base) first.
import leakguard.pii.recognizers.base  # noqa: F401  # isort: skip
import presidio_analyzer
import tldextract
import yaml
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer, SpacyRecognizer

from leakguard.checksums import luhn_valid, mod97_valid
from leakguard.config import PATTERN_ONLY, CustomRecognizer, PIIConfig
from leakguard.pii.context import RECOGNIZER_ID, LeanContextEnhancer
from leakguard.pii.engine import LeanSpacyNlpEngine
from leakguard.pii.pipeline import load_spacy_pipeline
from leakguard.pii.recognizers import builtin_recognizers
from leakguard.pii.regex_gil import hold_gil
from leakguard.pii.windows import windowed

__all__ = [
    "LEAN_PARTS",
    "AnalyzerPlan",
    "CachingRecognizerRegistry",
    "LeanAnalyzerEngine",
    "OfflineEmailRecognizer",
    "Planned",
    "assemble",
    "build_analyzer",
    "plan_analyzer",
    "stock_analyzer",
    "vanilla_analyzer",
]

NER_LABELS = {"ADDRESS": "STREET_ADDRESS"}
# Labels a spaCy NER may produce (after mapping) that the SpacyRecognizer passes on.
_NER_ENTITIES = ["PERSON", "STREET_ADDRESS", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION"]


def ner_model_configuration() -> NerModelConfiguration:
    """Presidio's default spaCy engine settings (entity mapping, ignored labels), with the
    shipped NER's labels mapped too (a fresh object each time)."""
    return NerModelConfiguration.from_dict(copy.deepcopy(_ner_settings()))


@functools.cache
def _ner_settings() -> dict[str, Any]:
    defaults = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    settings = yaml.safe_load(defaults.read_text(encoding="utf-8"))  # ~40 ms: read once
    ner: dict[str, Any] = settings["ner_model_configuration"]
    # The shipped NER's ADDRESS label (one entity per address line) is a street address.
    ner["model_to_presidio_entity_mapping"].update(NER_LABELS)
    return ner


def build_nlp_engine(
    config: PIIConfig, *, pipeline: Any = None, lean_artifacts: bool = True
) -> Any:
    """Presidio's default spaCy engine settings (entity mapping, ignored labels), but with the
    configured pipeline handed over already loaded (``pipeline``, or loaded here), so the
    engine never takes its own download path. ``lean_artifacts=False``: Presidio's own
    artifacts (:attr:`LeanSpacyNlpEngine.lean_artifacts`)."""
    engine = LeanSpacyNlpEngine(
        models=[{"lang_code": config.language, "model_name": config.spacy_model}],
        ner_model_configuration=ner_model_configuration(),
    )
    engine.lean_artifacts = lean_artifacts
    exclude = tuple(config.spacy_exclude)
    if pipeline is None:
        pipeline = load_spacy_pipeline(
            config.spacy_model, language=config.language, exclude=exclude
        )
    # Presidio types ``nlp`` after its unloaded state (None); a loaded engine holds a dict.
    engine.nlp = {config.language: pipeline}  # type: ignore[assignment]
    engine.loader = lambda language: load_spacy_pipeline(
        config.spacy_model, language=language, exclude=exclude
    )
    return engine


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, but the domain is checked against tldextract's bundled
    public-suffix snapshot: never fetched, no cache directory."""

    def __init__(self, *, supported_language: str = "en") -> None:
        # An empty URL list makes tldextract use the snapshot it ships; no cache dir, no network.
        self._extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        super().__init__(supported_language=supported_language)

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self._extractor(pattern_text).fqdn)


def _offline_email_recognizer(language: str) -> OfflineEmailRecognizer:
    return OfflineEmailRecognizer(supported_language=language)


_VALIDATORS = {"luhn": luhn_valid, "mod97": mod97_valid}


class ConfiguredRecognizer(PatternRecognizer):
    """A pattern recognizer from the config (``pii.recognizers``), with its checksum
    (``validation``: Luhn, mod-97) as Presidio's ``validate_result``, or none."""

    def __init__(self, spec: CustomRecognizer, *, language: str) -> None:
        self._validator = _VALIDATORS.get(spec.validation)
        super().__init__(
            supported_entity=spec.label,
            name=spec.name,
            supported_language=language,
            patterns=[Pattern(p.name, p.regex, p.score) for p in spec.patterns],
            context=list(spec.context),
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if self._validator is None else self._validator(pattern_text)


def _spacy_recognizer(language: str) -> Any:
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
            grouped.setdefault(result.recognition_metadata[RECOGNIZER_ID], []).append(result)
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


# The parts of the analyzer where leakguard's fast path stands in for Presidio's own; each
# is checked at start-up against stock Presidio (leakguard.pii.selfcheck) and may run stock:
# windows: pattern recognizers search only where they can match (leakguard.pii.windows);
# regex_gil: their regex searches keep the GIL (leakguard.pii.regex_gil);
# registry: the recognizers serving a request are remembered (CachingRecognizerRegistry);
# analyzer: results are grouped by recognizer in one pass (LeanAnalyzerEngine);
# context: the context enhancer's cheaper walk (leakguard.pii.context);
# engine: the lean NLP artifacts (leakguard.pii.engine).
LEAN_PARTS = ("windows", "regex_gil", "registry", "analyzer", "context", "engine")


@dataclass(frozen=True, slots=True)
class Planned:
    """One recognizer of the analyzer as Presidio (or leakguard, or the config) made it, and
    what the lean parts may do to it."""

    recognizer: Any
    windowed: bool = False  # may search only its windows (leakguard.pii.windows)
    stock_name: str | None = None  # the Presidio class whose patterns it uses, if a subclass
    held: bool = False  # its regex searches may keep the GIL


@dataclass(frozen=True, slots=True)
class AnalyzerPlan:
    """What an analyzer for ``config`` is made of: the loaded spaCy pipeline and the
    recognizers, in registry order; :func:`assemble` builds analyzers from it."""

    config: PIIConfig
    pipeline: Any
    recognizers: tuple[Planned, ...]


def _case_sensitive_iban(recognizer: Any) -> Any:
    """A second IBAN recognizer, without the registry's IGNORECASE.

    Under IGNORECASE the pattern's groups run on into the words after an IBAN ("ES05 2753
    ... 0501 belongs": " belo", "ngs"); the whole reading then fails the check digits and
    the IBAN goes out in clear (stock Presidio misses it too). Read case-sensitively, the
    groups stop at the lower-case word. The registry's own recognizer stays for IBANs
    written in lower case."""
    twin = copy.copy(recognizer)
    twin.global_regex_flags = re.DOTALL | re.MULTILINE
    twin._id = f"{recognizer.name}_{id(twin)}"
    return twin


def plan_analyzer(config: PIIConfig) -> AnalyzerPlan:
    """Load the pipeline and make the recognizers for ``config``: Presidio's predefined ones
    (the offline e-mail check in place of its own), leakguard's (unless
    ``builtin_recognizers`` is off), deny lists, configured patterns."""
    _keep_scanned_text_out_of_presidio_logs()
    exclude = tuple(config.spacy_exclude)
    pipeline = load_spacy_pipeline(config.spacy_model, language=config.language, exclude=exclude)
    engine = build_nlp_engine(config, pipeline=pipeline)
    registry = RecognizerRegistry(supported_languages=[config.language])
    registry.load_predefined_recognizers(languages=[config.language], nlp_engine=engine)
    dropped = {"EmailRecognizer", "SpacyRecognizer"}
    if config.builtin_recognizers:
        # ours covers every region; knows each scheme's IIN ranges and lengths (Presidio's
        # flags numbers none issues); asks for health-care context (Presidio's labels phone
        # numbers UK_NHS 1.0)
        dropped |= {"PhoneRecognizer", "CreditCardRecognizer", "NhsRecognizer"}
    # Presidio's e-mail, IP, licence, passport and DEA patterns may search only the
    # stretches of text where they can match, and keep the GIL over short texts; not
    # leakguard's recognizers (Python's re) nor user-configured patterns (see below).
    predefined: list[Any] = list(registry.recognizers)
    if config.builtin_recognizers:
        predefined += [_case_sensitive_iban(r) for r in predefined if r.name == "IbanRecognizer"]
    planned = [Planned(r, windowed=True, held=True) for r in predefined if r.name not in dropped]
    email = _offline_email_recognizer(config.language)
    planned.append(Planned(email, windowed=True, stock_name="EmailRecognizer", held=True))
    if config.spacy_model != PATTERN_ONLY:
        planned.append(Planned(_spacy_recognizer(config.language)))
    if config.builtin_recognizers:
        planned += [Planned(r) for r in builtin_recognizers(config.language)]
    for label, words in config.deny_lists.items():
        deny = PatternRecognizer(
            supported_entity=label,
            name=f"deny_list_{label.lower()}",
            supported_language=config.language,
            deny_list=words,
        )
        planned.append(Planned(deny, held=True))  # escaped words: no backtracking
    # A user's pattern may backtrack for long: it lets the GIL go, so that the event loop
    # can still time the scan out.
    planned += [
        Planned(ConfiguredRecognizer(s, language=config.language)) for s in config.recognizers
    ]
    return AnalyzerPlan(config=config, pipeline=pipeline, recognizers=tuple(planned))


def _recognizer(planned: Planned, lean: frozenset[str]) -> Any:
    recognizer = planned.recognizer
    if planned.held and "regex_gil" in lean:
        recognizer = hold_gil(recognizer)
    if planned.windowed and "windows" in lean:
        recognizer = windowed(recognizer, stock=planned.stock_name)
    return recognizer


def assemble(plan: AnalyzerPlan, *, lean: Collection[str] = LEAN_PARTS) -> Any:
    """A Presidio ``AnalyzerEngine`` from ``plan``, with leakguard's fast path in the parts
    named in ``lean`` (:data:`LEAN_PARTS`) and Presidio's own in the others. The pipeline
    and the recognizers as planned are shared, never changed (the lean parts wrap or copy
    them)."""
    unknown = set(lean) - set(LEAN_PARTS)
    if unknown:
        raise ValueError(f"unknown analyzer parts {sorted(unknown)}; known: {LEAN_PARTS}")
    parts = frozenset(lean)
    config = plan.config
    engine = build_nlp_engine(config, pipeline=plan.pipeline, lean_artifacts="engine" in parts)
    registry_class = CachingRecognizerRegistry if "registry" in parts else RecognizerRegistry
    registry = registry_class(
        recognizers=[_recognizer(p, parts) for p in plan.recognizers],
        supported_languages=[config.language],
    )
    analyzer_class = LeanAnalyzerEngine if "analyzer" in parts else AnalyzerEngine
    enhancer = LeanContextEnhancer() if "context" in parts else LemmaContextAwareEnhancer()
    return analyzer_class(
        registry=registry,
        nlp_engine=engine,
        supported_languages=[config.language],
        context_aware_enhancer=enhancer,
    )


def stock_analyzer(plan: AnalyzerPlan) -> Any:
    """Stock Presidio on ``plan``: ``AnalyzerEngine`` on Presidio's own ``SpacyNlpEngine``
    (the same loaded pipeline and entity mapping) with the same recognizers as they were
    made, nothing of leakguard's engine in the path: what the self-check compares with."""
    config = plan.config
    engine = SpacyNlpEngine(
        models=[{"lang_code": config.language, "model_name": config.spacy_model}],
        ner_model_configuration=ner_model_configuration(),
    )
    engine.nlp = {config.language: plan.pipeline}  # type: ignore[assignment]
    registry = RecognizerRegistry(
        recognizers=[p.recognizer for p in plan.recognizers],
        supported_languages=[config.language],
    )
    return AnalyzerEngine(
        registry=registry, nlp_engine=engine, supported_languages=[config.language]
    )


def build_analyzer(config: PIIConfig, *, lean: Collection[str] = LEAN_PARTS) -> Any:
    """A Presidio ``AnalyzerEngine`` for ``config``: offline e-mail check, leakguard's
    recognizers (unless ``builtin_recognizers`` is off), custom recognizers; leakguard's
    fast path in the parts named in ``lean``. Unchecked: the detector builds its analyzer
    with :func:`leakguard.pii.selfcheck.checked_analyzer`."""
    return assemble(plan_analyzer(config), lean=lean)


def vanilla_analyzer(model: str, *, language: str = "en") -> Any:
    """Presidio as it comes (all predefined recognizers, default thresholds) with the given
    spaCy pipeline: the anchor for evaluations and benchmarks. Only the e-mail recognizer is
    swapped for the offline one, which validates identically without the network."""
    # The whole pipeline, parser included, as Presidio loads it.
    engine = build_nlp_engine(PIIConfig(spacy_model=model, language=language, spacy_exclude=[]))
    registry = RecognizerRegistry(supported_languages=[language])
    registry.load_predefined_recognizers(languages=[language], nlp_engine=engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(_offline_email_recognizer(language))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[language])
