"""Stable, seeded hashes of lexemes and of word n-grams.

* A lexeme hashes to 64 bits with keyed BLAKE2b (key :data:`HASH_SEED`), never Python's
  salted ``hash``: the same word gives the same number in every process, on every machine.
  Hashes are memoized per process (bounded), since natural text repeats its words.
* The n-gram starting at word ``k`` is ``fmix64(sum(w[k + j] * B ** (n - 1 - j)))`` modulo
  2**64, a polynomial rolling hash finished with the SplitMix64/Murmur3 mixer. In numpy it
  is ``n`` multiply-adds over the whole array (no Python loop per n-gram); a stream updates
  it in O(1) per word (:class:`RollingNgrams`). Both give identical numbers (tested).

Changing anything here changes every index: bump :data:`HASH_SCHEME` with it.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = [
    "HASH_SCHEME",
    "HASH_SEED",
    "RollingNgrams",
    "fmix64",
    "fmix64_int",
    "ngram_hashes",
    "word_hash",
    "word_hashes",
]

HASH_SCHEME = "blake2b64-poly-fmix64/v1"
HASH_SEED = b"leakguard/ngram/v1"
_MASK = (1 << 64) - 1
_BASE = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_C1 = 0xFF51AFD7ED558CCD
_C2 = 0xC4CEB9FE1A85EC53
_CACHE_LIMIT = 1 << 20

U64 = npt.NDArray[np.uint64]


class _WordHashes(dict[str, int]):
    def __missing__(self, word: str) -> int:
        value = int.from_bytes(
            hashlib.blake2b(word.encode("utf-8"), digest_size=8, key=HASH_SEED).digest(),
            "little",
        )
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[word] = value
        return value


_WORDS = _WordHashes()
word_hash = _WORDS.__getitem__


def word_hashes(words: Iterable[str]) -> U64:
    """64-bit hashes of normalized lexemes, as a numpy array."""
    values = list(map(word_hash, words))
    return np.array(values, dtype=np.uint64)


def fmix64(h: U64) -> U64:
    """The MurmurHash3 64-bit finalizer, elementwise (wraps modulo 2**64)."""
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(_C1)
    h ^= h >> np.uint64(33)
    h *= np.uint64(_C2)
    h ^= h >> np.uint64(33)
    return h


def fmix64_int(h: int) -> int:
    """:func:`fmix64` for one Python int."""
    h ^= h >> 33
    h = (h * _C1) & _MASK
    h ^= h >> 33
    h = (h * _C2) & _MASK
    return h ^ (h >> 33)


def _powers(n: int) -> list[int]:
    return [pow(_BASE, n - 1 - j, 1 << 64) for j in range(n)]


def ngram_hashes(words: U64, n: int) -> U64:
    """Hash of every n-gram of consecutive words (``len(words) - n + 1`` of them, or none)."""
    count = len(words) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    acc = np.zeros(count, dtype=np.uint64)
    for j, power in enumerate(_powers(n)):
        acc += words[j : j + count] * np.uint64(power)
    return fmix64(acc)


class RollingNgrams:
    """The n-gram hashes of a stream of words, one word at a time, in O(1) each."""

    __slots__ = ("_acc", "_lead", "_n", "_window")

    def __init__(self, n: int) -> None:
        self._n = n
        self._lead = _powers(n)[0]  # B ** (n - 1)
        self._window: deque[int] = deque()
        self._acc = 0

    def push(self, word: int) -> int | None:
        """Add the next word hash; the hash of the n-gram it completes, if any."""
        window = self._window
        if len(window) == self._n:
            self._acc = (self._acc - window.popleft() * self._lead) & _MASK
        self._acc = (self._acc * _BASE + word) & _MASK
        window.append(word)
        return fmix64_int(self._acc) if len(window) == self._n else None
