"""Open an n-gram index of a training corpus, and what it was built with.

The reader side only: the online detector imports this module, never the builder
(:mod:`leakguard.memorization.build`, with its worker processes and Dask tasks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from leakguard.exceptions import IndexMismatchError
from leakguard.memorization.bloom import BloomFilter
from leakguard.memorization.ngrams import HASH_SCHEME
from leakguard.memorization.normalize import NORMALIZATION_VERSION, UNICODE_VERSION

__all__ = ["IndexParams", "open_index"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndexParams:
    """What an index is built with; everything but ``fpr`` must match at query time."""

    ngram: int = 8
    fpr: float = 1e-3

    def __post_init__(self) -> None:
        if not 2 <= self.ngram <= 64:
            raise ValueError(f"ngram must be between 2 and 64, got {self.ngram}")
        if not 0.0 < self.fpr < 0.5:
            raise ValueError(f"fpr must be between 0 and 0.5, got {self.fpr}")

    def header_params(self) -> dict[str, int | str]:
        return {
            "ngram": self.ngram,
            "normalization_version": NORMALIZATION_VERSION,
            "unicode_version": UNICODE_VERSION,
            "hash_scheme": HASH_SCHEME,
        }


def open_index(path: str | Path, *, ngram: int, setting: str = "memorization.ngram") -> BloomFilter:
    """Map an index read-only and check it was built the way the caller will query it."""
    bloom = BloomFilter.open(path)
    built = bloom.header.params
    name = str(path)
    inputs = " ".join(map(str, bloom.header.source.get("inputs", []))) or "CORPUS..."
    rebuild = f"leakguard index build {inputs} --out {name} --ngram {ngram}"
    if built.get("ngram") != ngram:
        raise IndexMismatchError(
            name, "ngram", built.get("ngram"), ngram, rebuild=rebuild, setting=setting
        )
    for key, wanted in (
        ("normalization_version", NORMALIZATION_VERSION),
        ("hash_scheme", HASH_SCHEME),
    ):
        if built.get(key) != wanted:
            raise IndexMismatchError(
                name, key, built.get(key), wanted, rebuild=rebuild, wanted_by="this leakguard"
            )
    if built.get("unicode_version") != UNICODE_VERSION:
        logger.warning(
            "index %r was built with Unicode %s data, this Python has %s: texts with "
            "characters assigned in between may lex differently; rebuild it to be exact",
            name,
            built.get("unicode_version"),
            UNICODE_VERSION,
        )
    return bloom
