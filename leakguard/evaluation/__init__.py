"""Quality evaluation of the detectors: span scoring, the generated dev set and its templates."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.evaluation.scoring import (
        EvalReport,
        LabelledText,
        Span,
        evaluate,
        format_table,
        load_dataset,
    )

__all__ = [
    "EvalReport",
    "LabelledText",
    "Span",
    "evaluate",
    "format_table",
    "load_dataset",
]

# Loaded on first use, so that importing one part of the package does not load the others.
_PUBLIC = {
    "EvalReport": "scoring",
    "LabelledText": "scoring",
    "Span": "scoring",
    "evaluate": "scoring",
    "format_table": "scoring",
    "load_dataset": "scoring",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
