"""PII detection around Presidio's ``AnalyzerEngine``, built once, fully offline.

Nothing here downloads: the spaCy pipeline must be installed (a missing one raises
:class:`ModelNotInstalledError` naming the package), and e-mail validation uses
tldextract's bundled public-suffix snapshot instead of fetching the list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from leakguard.config import PATTERN_ONLY, CustomRecognizer, PIIConfig
from leakguard.exceptions import ModelNotInstalledError
from leakguard.findings import Finding

__all__ = ["PIIDetector", "load_spacy_pipeline"]

DETECTOR_NAME = "pii"


def load_spacy_pipeline(model: str, *, language: str) -> Any:
    """Load an installed spaCy pipeline by package name or path; never download one."""
    import spacy

    if model == PATTERN_ONLY:
        return spacy.blank(language)
    if not (spacy.util.is_package(model) or Path(model).exists()):
        raise ModelNotInstalledError(model, package=model.replace("_", "-"))
    return spacy.load(model)


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
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    defaults = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    settings = yaml.safe_load(defaults.read_text(encoding="utf-8"))
    engine = SpacyNlpEngine(
        models=[{"lang_code": config.language, "model_name": config.spacy_model}],
        ner_model_configuration=NerModelConfiguration.from_dict(
            settings["ner_model_configuration"]
        ),
    )
    pipeline = load_spacy_pipeline(config.spacy_model, language=config.language)
    engine.nlp = {config.language: pipeline}  # type: ignore[assignment]
    return engine


class _NoScannedTextInLogs(logging.Filter):
    """Presidio logs the words around a match at DEBUG ("Context list is: ..."): scanned
    text, PII included. Drop its parameterized DEBUG records, so no log level carries text."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG or not record.args


def _keep_scanned_text_out_of_presidio_logs() -> None:
    presidio = logging.getLogger("presidio-analyzer")
    if not any(isinstance(f, _NoScannedTextInLogs) for f in presidio.filters):
        presidio.addFilter(_NoScannedTextInLogs())


def build_analyzer(config: PIIConfig) -> Any:
    """A Presidio ``AnalyzerEngine`` for ``config``: offline e-mail check, custom recognizers."""
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry

    _keep_scanned_text_out_of_presidio_logs()

    engine = _nlp_engine(config)
    registry = RecognizerRegistry(supported_languages=[config.language])
    registry.load_predefined_recognizers(languages=[config.language], nlp_engine=engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(_offline_email_recognizer(config.language))
    if config.spacy_model == PATTERN_ONLY:
        for name in ("SpacyRecognizer",):
            registry.remove_recognizer(name)
    for label, words in config.deny_lists.items():
        registry.add_recognizer(
            PatternRecognizer(
                supported_entity=label,
                name=f"deny_list_{label.lower()}",
                supported_language=config.language,
                deny_list=words,
            )
        )
    for spec in config.recognizers:
        registry.add_recognizer(_custom_recognizer(spec, config.language))
    return AnalyzerEngine(
        registry=registry, nlp_engine=engine, supported_languages=[config.language]
    )


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
        """Filter Presidio results by threshold and allow lists; convert them to findings."""
        findings = []
        for result in results:
            if result.end <= result.start:
                continue
            if result.score < self.config.threshold_for(result.entity_type):
                continue
            if self._allowed(text[result.start : result.end]):
                continue
            findings.append(
                Finding(
                    detector=DETECTOR_NAME,
                    label=result.entity_type,
                    start=result.start,
                    end=result.end,
                    score=float(result.score),
                )
            )
        return findings

    def _allowed(self, value: str) -> bool:
        if value.strip().casefold() in self._allow_exact:
            return True
        return any(p.fullmatch(value) for p in self._allow_patterns)


def vanilla_analyzer(model: str, *, language: str = "en") -> Any:
    """Presidio as it comes (all predefined recognizers, default thresholds) with the given
    spaCy pipeline: the anchor for evaluations and benchmarks. Only the e-mail recognizer is
    swapped for the offline one, which validates identically without the network."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    engine = _nlp_engine(PIIConfig(spacy_model=model, language=language))
    registry = RecognizerRegistry(supported_languages=[language])
    registry.load_predefined_recognizers(languages=[language], nlp_engine=engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(_offline_email_recognizer(language))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[language])
