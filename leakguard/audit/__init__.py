"""The redaction log: PII-free records, their hash chain, sinks, checks, reports, review.

Parts: :mod:`.chain` (key, canonical form, chain), :mod:`.records` (scan event → record),
:mod:`.sinks` (JSON Lines and SQLite writers), :mod:`.db`, :mod:`.verify`, :mod:`.report`,
:mod:`.review` (the privacy officer's web page, with ``templates/``)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.audit.chain import (
        FORMAT,
        GENESIS,
        AuditKey,
        Chain,
        canonical,
        new_stream_id,
        resolve_audit_key,
        utc_now,
    )
    from leakguard.audit.records import record_from_event, wants_record

__all__ = [
    "FORMAT",
    "GENESIS",
    "AuditKey",
    "Chain",
    "canonical",
    "new_stream_id",
    "record_from_event",
    "resolve_audit_key",
    "utc_now",
    "wants_record",
]

# Loaded on first use, so that importing one part of the package does not load the others.
_PUBLIC = {
    "AuditKey": "chain",
    "Chain": "chain",
    "FORMAT": "chain",
    "GENESIS": "chain",
    "canonical": "chain",
    "new_stream_id": "chain",
    "record_from_event": "records",
    "resolve_audit_key": "chain",
    "utc_now": "chain",
    "wants_record": "records",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
