"""The SOC 2 evidence package: ``leakguard evidence``.

Joins, for a period, the redaction log (operation, integrity), the guard configs (controls),
the sanitize run, the DP run and the memorization index (training-data lineage) into
``evidence.json`` (schema: :mod:`.schema`), ``evidence.html``, ``EVIDENCE.md`` and
``manifest.json``. Parts: :mod:`.inputs`, :mod:`.logpass` (one pass over the log),
:mod:`.controls`, :mod:`.operation`, :mod:`.integrity`, :mod:`.lineage`, :mod:`.sampling`,
:mod:`.criteria`, :mod:`.render_md`, :mod:`.render_html` (+ :mod:`.charts`),
:mod:`.package` (build) and :mod:`.check` (``leakguard evidence verify``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.audit.evidence.check import PackageCheck, verify_evidence
    from leakguard.audit.evidence.inputs import EvidenceInputs
    from leakguard.audit.evidence.package import EvidenceResult, build_evidence
    from leakguard.audit.evidence.schema import SCHEMA_VERSION, Flag, Period, parse_period

__all__ = [
    "SCHEMA_VERSION",
    "EvidenceInputs",
    "EvidenceResult",
    "Flag",
    "PackageCheck",
    "Period",
    "build_evidence",
    "parse_period",
    "verify_evidence",
]

_PUBLIC = {
    "SCHEMA_VERSION": "schema",
    "EvidenceInputs": "inputs",
    "EvidenceResult": "package",
    "Flag": "schema",
    "PackageCheck": "check",
    "Period": "schema",
    "build_evidence": "package",
    "parse_period": "schema",
    "verify_evidence": "check",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
