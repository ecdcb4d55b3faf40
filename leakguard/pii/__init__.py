"""PII detection: Presidio's analyzer with leakguard's lean spaCy engine and recognizers.

Parts: :mod:`.detector` (the detector the guard runs), :mod:`.analyzer` (building Presidio's
analyzer), :mod:`.pipeline` (loading spaCy), :mod:`.engine` (the lean NLP engine),
:mod:`.context` (the context enhancer), :mod:`.batch` (many texts at once, for
the sanitizer), :mod:`.windows` (where each pattern recognizer needs to search),
:mod:`.regex_gil` (pattern searches that let other threads run), :mod:`.recognizers`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.pii.detector import PIIDetector
    from leakguard.pii.pipeline import load_spacy_pipeline

__all__ = [
    "PIIDetector",
    "load_spacy_pipeline",
]

# Loaded on first use, so that importing one part of the package does not load the others.
_PUBLIC = {
    "PIIDetector": "detector",
    "load_spacy_pipeline": "pipeline",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
