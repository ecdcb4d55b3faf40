"""Memorized training text: n-gram Bloom-filter indexes of a corpus, and their detector.

Parts: :mod:`.normalize` and :mod:`.ngrams` (shared by builder and detector, so they never
disagree), :mod:`.bloom` (the filter file), :mod:`.index` (opening an index: the reader),
:mod:`.build` (building one: processes or Dask), :mod:`.detector` (the online detector)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.memorization.build import (
        BuildStats,
        add_shard,
        build_index,
        build_partial,
        estimate_ngrams,
        merge_partials,
        size_index,
    )
    from leakguard.memorization.detector import (
        BOILERPLATE_SHARE,
        MemorizationDetector,
        MemorizationStream,
        WordSpan,
    )
    from leakguard.memorization.index import IndexParams, open_index

__all__ = [
    "BOILERPLATE_SHARE",
    "BuildStats",
    "IndexParams",
    "MemorizationDetector",
    "MemorizationStream",
    "WordSpan",
    "add_shard",
    "build_index",
    "build_partial",
    "estimate_ngrams",
    "merge_partials",
    "open_index",
    "size_index",
]

# Loaded on first use, so that importing one part of the package does not load the others.
_PUBLIC = {
    "BOILERPLATE_SHARE": "detector",
    "BuildStats": "build",
    "IndexParams": "index",
    "MemorizationDetector": "detector",
    "MemorizationStream": "detector",
    "WordSpan": "detector",
    "add_shard": "build",
    "build_index": "build",
    "build_partial": "build",
    "estimate_ngrams": "build",
    "merge_partials": "build",
    "open_index": "index",
    "size_index": "build",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
