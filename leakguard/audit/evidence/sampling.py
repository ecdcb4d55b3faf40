"""A reproducible, PII-free random sample of the period's records for the auditor.

Each record gets the rank ``SHA-256(seed:stream:seq)``; the sample is the ``size`` records
with the lowest ranks. The draw depends only on the seed and the records (not on the order
they are read in), so anyone with the log and the seed re-draws the same sample, and a
different seed draws an independent one. Sampled records keep what an auditor checks
against the log (stream, seq, hash, action, labels, offsets, keyed fingerprints) and drop
free text that may hold what the detectors missed (context snippets, reasons beyond their
closed-set part).
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Any

__all__ = ["METHOD", "Sampler", "rank", "redacted_copy"]

METHOD = "the records with the lowest SHA-256(seed + ':' + stream + ':' + seq), hex-compared"

Record = dict[str, Any]
_KEPT = (
    "kind",
    "ts",
    "stream",
    "seq",
    "hash",
    "prev",
    "source",
    "route",
    "model",
    "tenant",
    "action",
    "fully_scanned",
    "scan_ms",
    "text_chars",
    "policy_version",
    "index",
    "verdict",
    "reviewer",
    "target",
)
_FINDING_KEPT = ("label", "detector", "score", "threshold", "start", "end", "length", "action")


def rank(seed: str, stream: str, seq: object) -> str:
    return hashlib.sha256(f"{seed}:{stream}:{seq}".encode()).hexdigest()


def redacted_copy(record: Record) -> Record:
    """What the sample shows of a record: no context, no comment, no free-text reason."""
    kept = {name: record[name] for name in _KEPT if name in record}
    reason = record.get("reason")
    if reason is not None:
        kept["reason"] = str(reason).split(" ", 1)[0][:64]
    kept["findings"] = [
        {name: f.get(name) for name in _FINDING_KEPT} | {"fingerprint": f.get("fingerprint")}
        for f in record.get("findings") or ()
    ]
    return kept


class Sampler:
    """Keeps the ``size`` lowest-ranked records offered (a bounded max-heap)."""

    def __init__(self, seed: str, size: int) -> None:
        if size < 0:
            raise ValueError(f"the sample size must be 0 or more, got {size}")
        self.seed = seed
        self.size = size
        self.population = 0
        self._heap: list[tuple[str, int, Record]] = []  # (negated-order key, tiebreak, record)

    def offer(self, record: Record) -> None:
        self.population += 1
        if self.size == 0:
            return
        key = rank(self.seed, str(record.get("stream")), record.get("seq"))
        # heapq is a min-heap: store the complement so the root is the highest rank kept.
        inverted = key.translate(_INVERT)
        item = (inverted, self.population, record)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, item)
        elif inverted > self._heap[0][0]:
            heapq.heapreplace(self._heap, item)

    def records(self) -> list[Record]:
        """The sample, lowest rank first, as PII-free copies with their rank."""
        chosen = sorted(self._heap, key=lambda item: item[0], reverse=True)
        return [
            {"rank": inverted.translate(_INVERT)} | redacted_copy(record)
            for inverted, _, record in chosen
        ]


_INVERT = str.maketrans("0123456789abcdef", "fedcba9876543210")
