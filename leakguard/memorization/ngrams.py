"""Stable, seeded hashes of lexemes and of word n-grams.

* A lexeme of code points ``c_0 .. c_{L-1}`` hashes to
  ``fmix64(poly ^ L * K ^ SEED)`` with ``poly = sum(c_i * B ** (L - 1 - i))`` modulo 2**64,
  for fixed odd constants (never Python's salted ``hash``): the same word gives the same
  number in every process, on every machine. In numpy, all the words of a long normalized
  text hash at once from prefix sums over its code points (:func:`hash_words`), with no
  Python step per word; one word at a time (streams), :func:`word_hash` gives the same
  number and memoizes it.
* The n-gram starting at word ``k`` is ``fmix64(sum(w[k + j] * B ** (n - 1 - j)))`` modulo
  2**64, a polynomial rolling hash finished with the SplitMix64/Murmur3 mixer. In numpy it
  is ``n`` multiply-adds over the whole array (no Python loop per n-gram); a stream updates
  it in O(1) per word (:class:`RollingNgrams`). Both give identical numbers (tested).

Changing anything here changes every index: bump :data:`HASH_SCHEME` with it.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

__all__ = [
    "HASH_SCHEME",
    "RECORD_BREAK",
    "RollingNgrams",
    "fmix64",
    "fmix64_int",
    "hash_words",
    "ngram_hashes",
    "word_hash",
    "word_hashes",
]

HASH_SCHEME = "poly-fmix64/v2"
_SEED = 0x6C65616B67756172  # "leakguar"
_MASK = (1 << 64) - 1
_BASE = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)
_LEN = 0xD6E8FEB86659FD93
_C1 = 0xFF51AFD7ED558CCD
_C2 = 0xC4CEB9FE1A85EC53
_CACHE_LIMIT = 1 << 20
_CHUNK = 1 << 20  # characters hashed per numpy pass (bounds the power tables)
# Separates records in a text given to :func:`hash_words`: n-grams never cross it.
RECORD_BREAK = "\x01"

U64 = npt.NDArray[np.uint64]
Ints = npt.NDArray[np.intp]


def word_hash(word: str) -> int:
    """The 64-bit hash of one normalized lexeme (memoized)."""
    value = _WORDS.get(word)
    if value is None:
        poly = 0
        for char in word:
            poly = (poly * _BASE + ord(char)) & _MASK
        value = fmix64_int(poly ^ (len(word) * _LEN & _MASK) ^ _SEED)
        if len(_WORDS) >= _CACHE_LIMIT:
            _WORDS.clear()
        _WORDS[word] = value
    return value


_WORDS: dict[str, int] = {}


class _Powers:
    """``B ** t`` and ``B ** -t`` modulo 2**64 for t < size, grown on demand.

    The pair is replaced as one tuple, so threads never see tables of different sizes.
    """

    def __init__(self) -> None:
        one = np.ones(1, dtype=np.uint64)
        self.tables: tuple[U64, U64] = (one, one)

    def get(self, size: int) -> tuple[U64, U64]:
        tables = self.tables
        if len(tables[0]) < size:
            size = max(size, 2 * len(tables[0]))
            tables = self.tables = (_power_table(_BASE, size), _power_table(_BASE_INV, size))
        return tables


def _power_table(base: int, size: int) -> U64:
    table = np.ones(size, dtype=np.uint64)
    np.cumprod(np.full(size - 1, base, dtype=np.uint64), out=table[1:])  # wraps mod 2**64
    return table


_POWERS = _Powers()


def hash_words(norm: str) -> tuple[U64, Ints]:
    """Hashes of the words of a normalized text, and each word's record number.

    ``norm`` holds lexemes separated by spaces, records separated by :data:`RECORD_BREAK`
    (what :func:`leakguard.memorization.normalize.normalized` returns, joined). Same values as
    :func:`word_hash` on each word of ``norm.split()``.
    """
    hashes: list[U64] = []
    records: list[Ints] = []
    done_records = 0
    pos = 0
    while pos < len(norm):
        cut = len(norm) if len(norm) - pos <= _CHUNK else norm.rfind(" ", pos, pos + _CHUNK)
        if cut <= pos:  # one giant word: take it whole
            cut = norm.find(" ", pos + _CHUNK)
            cut = len(norm) if cut < 0 else cut
        h, r = _hash_chunk(norm[pos:cut])
        hashes.append(h)
        records.append(r + done_records)
        done_records += norm.count(RECORD_BREAK, pos, cut)
        pos = cut
    if not hashes:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.intp)
    return np.concatenate(hashes), np.concatenate(records)


def _hash_chunk(text: str) -> tuple[U64, Ints]:
    code = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    breaks = code == 1
    word = (code != 32) & ~breaks
    edges = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    up, down = _POWERS.get(len(code) + 1)
    # prefix[t] = sum over s < t of c_s * B**-s; a word [a, b) is (prefix[b] - prefix[a]) * B**(b-1)
    prefix = np.zeros(len(code) + 1, dtype=np.uint64)
    np.cumsum(code.astype(np.uint64) * down[: len(code)], out=prefix[1:])
    poly = (prefix[ends] - prefix[starts]) * up[ends - 1]
    lengths = (ends - starts).astype(np.uint64)
    hashes = fmix64(poly ^ (lengths * np.uint64(_LEN)) ^ np.uint64(_SEED))
    records = np.searchsorted(np.flatnonzero(breaks), starts)  # breaks before each word
    return hashes, records.astype(np.intp)


def word_hashes(words: list[str]) -> U64:
    """64-bit hashes of normalized lexemes, as a numpy array."""
    if len(words) < 8:
        return np.array([word_hash(w) for w in words], dtype=np.uint64)
    return hash_words(" ".join(words))[0]


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
