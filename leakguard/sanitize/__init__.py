"""Training-data sanitization: the guard's detectors and policy over a whole corpus.

Resumable, in local processes or on Dask.

Parts: :mod:`.task` (one shard: what a worker runs), :mod:`.state` (the output directory's
state that lets a rerun resume), :mod:`.run` (the whole run), :mod:`.report` (its report
files), :mod:`.pseudonyms` (consistent keyed pseudonyms across a corpus)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.sanitize.run import Progress, RunSummary, sanitize_corpus
    from leakguard.sanitize.task import (
        CorpusPolicy,
        RecordSanitizer,
        ShardReport,
        ShardTask,
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
    "CorpusPolicy": "task",
    "Progress": "run",
    "RecordSanitizer": "task",
    "RunSummary": "run",
    "ShardReport": "task",
    "ShardTask": "task",
    "sanitize_corpus": "run",
    "sanitize_shard": "task",
    "splice_field": "task",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
