"""A blocked Bloom filter on a numpy bit array, with an mmap-able on-disk format.

Layout (the "split block" variant of Putze, Sanders & Singler's blocked filters, as in
Apache Parquet): the bit array is a sequence of 512-bit blocks, one CPU cache line each, made
of eight 64-bit words. An item (a 64-bit n-gram hash ``h``) picks one block from the high
32 bits of ``h`` and sets exactly one bit in each of the block's eight words, chosen by
six-bit slices of ``fmix64(h ^ SALT)``. A lookup reads one cache line; adding and checking a
whole batch is a handful of numpy operations.

False-positive rate: with ``b`` bits per item a block holds ``X ~ Poisson(512 / b)`` items
and a lookup fails to reject with probability ``E[(1 - (63/64) ** X) ** 8]``
(:func:`expected_fpr`). :func:`bits_per_item` inverts it: about 15.8 bits (1.98 bytes) per
item for 1e-3.

On disk (``.lgx``)::

    b"LGXBLOOM"  magic                      8 bytes
    header length L                          4 bytes, little-endian
    header                                   L bytes, UTF-8 JSON (:class:`BloomHeader`)
    zero padding to a 4096-byte boundary
    bits                                     num_blocks * 64 bytes, little-endian uint64

:meth:`BloomFilter.open` maps the bits read-only, so any number of processes share one copy
in the page cache. Two filters with equal parameters merge by bitwise OR (:meth:`merge`).
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from leakguard._files import replacing
from leakguard.exceptions import IndexFormatError
from leakguard.memorization.ngrams import U64, fmix64, fmix64_int

__all__ = [
    "BLOCK_BITS",
    "FORMAT_VERSION",
    "HASH_COUNT",
    "BloomFilter",
    "BloomHeader",
    "add_to_range",
    "bits_per_item",
    "block_of",
    "expected_fpr",
    "write_filter",
]

MAGIC = b"LGXBLOOM"
FORMAT_VERSION = 1
BLOCK_BITS = 512
HASH_COUNT = 8  # one bit in each of the block's eight 64-bit words
_WORDS_PER_BLOCK = BLOCK_BITS // 64
_ALIGN = 4096
_SALT = 0x2545F4914F6CDD1D
_SHIFTS = np.arange(0, 6 * _WORDS_PER_BLOCK, 6, dtype=np.uint64)  # six-bit slices 0..47
_MAX_BLOCKS = 1 << 32  # block index comes from 32 hash bits


def expected_fpr(bits_per_item: float) -> float:
    """The false-positive rate of this layout with ``bits_per_item`` bits per distinct item."""
    load = BLOCK_BITS / bits_per_item
    xs = np.arange(0, int(load * 6 + 60))
    log_p = xs * math.log(load) - load - np.array([math.lgamma(x + 1.0) for x in xs])
    miss = 1.0 - (1.0 - 1.0 / 64) ** xs
    return float(np.sum(np.exp(log_p) * miss**HASH_COUNT))


def bits_per_item(fpr: float) -> float:
    """The fewest bits per item that keep :func:`expected_fpr` at or below ``fpr``."""
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"a false-positive rate must be between 0 and 1, got {fpr!r}")
    low, high = 1.0, 4096.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (low, mid) if expected_fpr(mid) <= fpr else (mid, high)
    return high


@dataclass(frozen=True, slots=True)
class BloomHeader:
    """Everything needed to use (or refuse) a filter; stored as JSON in the file header.

    ``params`` are the parameters two filters must share to be merged and that a detector
    must agree with (n-gram size, normalization and hash versions, …); ``source`` describes
    what was indexed, for people.
    """

    num_blocks: int
    target_fpr: float
    params: dict[str, int | str] = field(default_factory=dict)
    items_added: int = 0
    checksum: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    hash_count: int = HASH_COUNT
    block_bits: int = BLOCK_BITS

    @property
    def bit_count(self) -> int:
        return self.num_blocks * BLOCK_BITS

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"bit_count": self.bit_count}


class BloomFilter:
    """A blocked Bloom filter of 64-bit hashes. Writable when built, read-only when opened."""

    def __init__(self, header: BloomHeader, words: U64, *, path: str | None = None) -> None:
        if len(words) != header.num_blocks * _WORDS_PER_BLOCK:
            raise IndexFormatError(path or "<memory>", "bit array length does not match header")
        self.header = header
        self.words = words
        self.path = path
        self._blocks = np.uint64(header.num_blocks)
        self._view: memoryview | None = None  # scalar lookups for streams, built lazily

    # -- construction --------------------------------------------------------------------
    @classmethod
    def create(
        cls, *, expected_items: int, fpr: float = 1e-3, params: dict[str, int | str] | None = None
    ) -> BloomFilter:
        """An empty filter sized for ``expected_items`` distinct items at rate ``fpr``."""
        bits = max(expected_items, 1) * bits_per_item(fpr)
        num_blocks = max(1, math.ceil(bits / BLOCK_BITS))
        if num_blocks >= _MAX_BLOCKS:
            raise ValueError(f"{expected_items} items at fpr={fpr} need more than 256 GiB")
        header = BloomHeader(num_blocks=num_blocks, target_fpr=fpr, params=dict(params or {}))
        return cls(header, np.zeros(num_blocks * _WORDS_PER_BLOCK, dtype=np.uint64))

    def empty_like(self) -> BloomFilter:
        """A new, empty, writable filter with the same parameters."""
        header = replace(self.header, items_added=0, checksum="", source={})
        return BloomFilter(header, np.zeros_like(self.words))

    # -- hashing to block and bits -------------------------------------------------------
    def _locate(self, hashes: U64) -> tuple[npt.NDArray[np.intp], U64]:
        """Block index and the (n, 8) word masks of each hash."""
        return block_of(hashes, self.header.num_blocks), _masks(hashes)

    def block_of(self, hashes: U64) -> npt.NDArray[np.intp]:
        """The block each hash falls in (what partitioned builds split the work by)."""
        return block_of(hashes, self.header.num_blocks)

    def add(self, hashes: U64) -> None:
        """Add a batch of hashes (duplicates welcome)."""
        if len(hashes) == 0:
            return
        if not self.words.flags.writeable:
            raise IndexFormatError(self.path or "<memory>", "opened read-only; cannot add")
        # Fancy |= keeps only one of repeated blocks: OR the masks per block first. Block
        # order follows hash order, so sorting the hashes groups them (and makes the
        # writes below sequential in memory).
        block, masks = self._locate(np.sort(hashes))
        first = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
        merged = np.bitwise_or.reduceat(masks, first, axis=0)
        table = self.words.reshape(-1, _WORDS_PER_BLOCK)
        table[block[first]] |= merged
        self.header = replace(self.header, items_added=self.header.items_added + len(hashes))

    def contains(self, hashes: U64) -> npt.NDArray[np.bool_]:
        """Whether each hash may be in the set (false positives at the filter's rate)."""
        if len(hashes) == 0:
            return np.zeros(0, dtype=bool)
        block, masks = self._locate(hashes)
        table = self.words.reshape(-1, _WORDS_PER_BLOCK)
        found: npt.NDArray[np.bool_] = np.all((table[block] & masks) == masks, axis=1)
        return found

    def contains_one(self, h: int) -> bool:
        """:meth:`contains` for one hash, without numpy's per-call overhead (for streams)."""
        view = self._view
        if view is None:
            view = self._view = self.words.data.cast("B").cast("Q")
        base = ((h >> 32) * self.header.num_blocks >> 32) << 3
        s = fmix64_int(h ^ _SALT)
        # Unrolled on purpose: this runs once per streamed word.
        return bool(
            view[base] >> (s & 63) & 1
            and view[base + 1] >> (s >> 6 & 63) & 1
            and view[base + 2] >> (s >> 12 & 63) & 1
            and view[base + 3] >> (s >> 18 & 63) & 1
            and view[base + 4] >> (s >> 24 & 63) & 1
            and view[base + 5] >> (s >> 30 & 63) & 1
            and view[base + 6] >> (s >> 36 & 63) & 1
            and view[base + 7] >> (s >> 42 & 63) & 1
        )

    # -- statistics ----------------------------------------------------------------------
    def fill_ratio(self) -> float:
        """Share of bits set."""
        return float(np.bitwise_count(self.words).sum()) / self.header.bit_count

    def estimated_fpr(self) -> float:
        """The real false-positive rate, from how full each word of each block is."""
        per_word = np.bitwise_count(self.words).reshape(-1, _WORDS_PER_BLOCK) / 64.0
        return float(np.prod(per_word, axis=1).mean())

    # -- merging -------------------------------------------------------------------------
    def compatible_with(self, other: BloomFilter) -> bool:
        a, b = self.header, other.header
        return (a.num_blocks, a.params, a.format_version) == (
            b.num_blocks,
            b.params,
            b.format_version,
        )

    def merge(self, other: BloomFilter) -> None:
        """OR ``other`` into this filter; both must have the same parameters."""
        if not self.compatible_with(other):
            raise IndexFormatError(
                other.path or "<memory>",
                f"cannot merge: parameters differ ({_describe(other.header)} vs "
                f"{_describe(self.header)}); build both with the same settings",
            )
        np.bitwise_or(self.words, other.words, out=self.words)
        self.header = replace(
            self.header, items_added=self.header.items_added + other.header.items_added
        )

    # -- files ---------------------------------------------------------------------------
    def checksum(self) -> str:
        digest = hashlib.blake2b(digest_size=32)
        view = self.words.data.cast("B")
        for start in range(0, len(view), 1 << 24):
            digest.update(view[start : start + (1 << 24)])
        return "blake2b:" + digest.hexdigest()

    def save(self, path: str | Path, *, source: dict[str, Any] | None = None) -> BloomHeader:
        """Write the filter atomically (temporary file, then rename); returns the header."""
        header = replace(
            self.header,
            checksum=self.checksum(),
            source=source if source is not None else self.header.source,
        )
        write_filter(path, header, [self.words.astype("<u8", copy=False).data.cast("B")])
        self.header = header
        return header

    @classmethod
    def read_header(cls, path: str | Path) -> tuple[BloomHeader, int]:
        """The header of an index file and the offset of its bits."""
        name = str(path)
        try:
            with open(path, "rb") as f:
                head = f.read(12)
                size = int.from_bytes(head[8:], "little")
                blob = f.read(size)
        except OSError as exc:
            raise IndexFormatError(name, f"cannot read it ({exc.strerror})") from None
        if len(head) < 12 or head[:8] != MAGIC:
            raise IndexFormatError(name, "not a leakguard index (bad magic bytes)")
        try:
            raw = json.loads(blob)
        except ValueError:
            raise IndexFormatError(name, "its header is not valid JSON") from None
        if not isinstance(raw, dict):
            raise IndexFormatError(name, "its header is not a JSON object")
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                name,
                f"format version {version!r}, this leakguard reads {FORMAT_VERSION}; "
                f"rebuild it with 'leakguard index build'",
            )
        raw.pop("bit_count", None)
        try:
            header = BloomHeader(**raw)
        except TypeError as exc:
            raise IndexFormatError(name, f"unexpected header fields ({exc})") from None
        offset = 12 + size
        return header, offset + (-offset % _ALIGN)

    @classmethod
    def open(cls, path: str | Path, *, verify: bool = False) -> BloomFilter:
        """Map an index file read-only. ``verify`` re-computes the checksum (reads it all)."""
        header, offset = cls.read_header(path)
        expected = offset + header.num_blocks * BLOCK_BITS // 8
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != expected:
                raise IndexFormatError(
                    str(path), f"is {size} bytes, the header promises {expected} (truncated?)"
                )
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        words: U64 = np.frombuffer(
            mapped, dtype="<u8", count=header.num_blocks * _WORDS_PER_BLOCK, offset=offset
        )
        bloom = cls(header, words, path=str(path))
        if verify and bloom.checksum() != header.checksum:
            raise IndexFormatError(str(path), "checksum mismatch: the file is damaged; rebuild it")
        return bloom

    def __reduce__(self) -> tuple[Any, ...]:
        # Worker processes re-map the file instead of copying the bits through a pipe.
        if self.path is not None and not self.words.flags.writeable:
            return (BloomFilter.open, (self.path,))
        return (BloomFilter, (self.header, np.array(self.words)))


def block_of(hashes: U64, num_blocks: int) -> npt.NDArray[np.intp]:
    """The block of each hash in a filter of ``num_blocks`` blocks (high 32 bits, scaled)."""
    block = ((hashes >> np.uint64(32)) * np.uint64(num_blocks)) >> np.uint64(32)
    return block.astype(np.intp)


def _masks(hashes: U64) -> U64:
    salted = fmix64(hashes ^ np.uint64(_SALT))
    masks: U64 = np.uint64(1) << ((salted[:, None] >> _SHIFTS) & np.uint64(63))
    return masks


def add_to_range(table: U64, hashes: U64, *, first_block: int, num_blocks: int) -> None:
    """OR ``hashes`` into ``table``, the ``(blocks, 8)`` words of the blocks of a filter of
    ``num_blocks`` from ``first_block`` on; every hash must fall in that range (what one
    worker of a partitioned build holds)."""
    if len(hashes) == 0:
        return
    hashes = np.sort(hashes)
    block = block_of(hashes, num_blocks)
    first = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    table[block[first] - first_block] |= np.bitwise_or.reduceat(_masks(hashes), first, axis=0)


def write_filter(
    path: str | Path, header: BloomHeader, pieces: Iterable[bytes | memoryview]
) -> None:
    """Write an index file atomically from its header and its bits, given in order
    (temporary file, then rename). ``header.checksum`` must already be that of the bits."""
    path = Path(path)
    blob = json.dumps(header.to_json(), sort_keys=True).encode()
    prefix = MAGIC + len(blob).to_bytes(4, "little") + blob
    padding = b"\0" * (-len(prefix) % _ALIGN)
    with replacing(path, fsync=True) as tmp, tmp.open("wb") as f:
        f.write(prefix + padding)
        for piece in pieces:
            f.write(piece)


def _describe(header: BloomHeader) -> str:
    items = ", ".join(f"{k}={v}" for k, v in sorted(header.params.items()))
    return f"blocks={header.num_blocks}, {items}"
