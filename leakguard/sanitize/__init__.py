"""Training-data sanitization: the guard's detectors and policy over a whole corpus.

Resumable, in local processes or on Dask.

Parts: :mod:`.run` (tasks, shards, the run), :mod:`.report` (the run's report files),
:mod:`.pseudonyms` (consistent keyed pseudonyms across a corpus)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.sanitize.run import (
        CorpusPolicy,
        Progress,
        RecordSanitizer,
        RunSummary,
        ShardReport,
        ShardTask,
        sanitize_corpus,
        sanitize_shard,
        splice_field,
    )

__all__ = [
    "CorpusPolicy",
    "Progress",
    "RecordSanitizer",
    "RunSummary",
    "ShardReport",
    "ShardTask",
    "sanitize_corpus",
    "sanitize_shard",
    "splice_field",
]

# Loaded on first use, so that importing one part of the package does not load the others.
_PUBLIC = {
    "CorpusPolicy": "run",
    "Progress": "run",
    "RecordSanitizer": "run",
    "RunSummary": "run",
    "ShardReport": "run",
    "ShardTask": "run",
    "sanitize_corpus": "run",
    "sanitize_shard": "run",
    "splice_field": "run",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
