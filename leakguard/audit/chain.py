"""Redaction-log records: PII-free, keyed, hash-chained.

A :class:`~leakguard.events.ScanEvent` becomes a plain JSON record here, in the thread
that emits it, so raw values never wait in a queue: every detected value is replaced by a
keyed fingerprint (HMAC-SHA256 with the per-deployment key, over the normalized value) and
the context snippet is checked once more so that no detected value survives in it.

Records form one hash chain per *stream* (one writer process): each carries ``stream``,
``seq`` (0, 1, 2, … across rotations), ``prev`` (the previous record's ``hash``) and
``hash`` = HMAC(chain key, prev + canonical JSON of the record without ``hash``). A stream
starts every file (segment) with a ``segment`` header and ends it with a ``seal`` (reason
``rotate`` or ``close``), both chained like the rest, so deleted, edited, re-ordered or
truncated records show up in :mod:`leakguard.audit.verify`. The chain key derives from the
deployment key: without it, nobody can rewrite the chain after an edit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leakguard.config import AuditConfig
from leakguard.exceptions import ConfigError
from leakguard.policy import keyed_fingerprint

__all__ = [
    "FORMAT",
    "GENESIS",
    "AuditKey",
    "Chain",
    "canonical",
    "new_stream_id",
    "resolve_audit_key",
    "utc_now",
]

FORMAT = 1
GENESIS = "0" * 64
Record = dict[str, Any]


class AuditKey:
    """The per-deployment key: value and tenant fingerprints, and the chain MAC."""

    __slots__ = ("_chain", "_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ConfigError(
                f"the audit fingerprint key has {len(key)} bytes; use at least 16 "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        self._key = key
        self._chain = hmac.new(key, b"leakguard-audit-chain-v1", hashlib.sha256).digest()
        # Names the key in every segment header (fingerprints under other keys differ).
        self.key_id = hmac.new(key, b"leakguard-key-id", hashlib.sha256).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"AuditKey(key_id={self.key_id!r})"

    def fingerprint(self, label: str, value: str) -> str:
        return keyed_fingerprint(self._key, label, value, length=16)

    def chain_hash(self, prev: str, body: str) -> str:
        return hmac.new(self._chain, f"{prev}\n{body}".encode(), hashlib.sha256).hexdigest()


def resolve_audit_key(config: AuditConfig) -> AuditKey:
    """The key the config resolved when it was built: ``audit.fingerprint_key``, or the
    environment variable ``audit.fingerprint_key_env`` names."""
    if config.fingerprint_key is not None:
        return AuditKey(config.fingerprint_key.get_secret_value().encode())
    env = config.fingerprint_key_env
    raise ConfigError(
        "the redaction log needs a per-deployment fingerprint key: set audit.fingerprint_key, "
        f"or the environment variable named by audit.fingerprint_key_env ({env!r}); "
        "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
    )


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_stream_id() -> str:
    """Sortable by start time, unique across processes: ``20261126T121500Z-3f9a0c1d2b4e``."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"


def canonical(record: Record) -> str:
    """The one serialization that is hashed and written: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class Chain:
    """The running end of one stream's hash chain. Owned by one writer thread."""

    key: AuditKey
    stream: str
    seq: int = 0
    prev: str = GENESIS

    def link(self, record: Record) -> tuple[Record, str]:
        """Chain ``record``: returns the full record and its line (without newline).

        The chain advances only when :meth:`advance` is called after a successful write.
        """
        linked = {**record, "stream": self.stream, "seq": self.seq, "prev": self.prev}
        body = canonical(linked)
        linked["hash"] = self.key.chain_hash(self.prev, body)
        return linked, canonical(linked)

    def advance(self, linked: Record) -> None:
        self.seq = linked["seq"] + 1
        self.prev = linked["hash"]
