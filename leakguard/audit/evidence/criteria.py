"""Which Trust Services Criteria (AICPA TSC 2017, revised points of focus 2022) each
section gives evidence for. Worded as evidence: the package shows how a control operated;
whether that satisfies a criterion is the auditor's judgement, not this tool's claim."""

from __future__ import annotations

from typing import Any

__all__ = ["CRITERIA"]

CRITERIA: list[dict[str, Any]] = [
    {
        "section": "controls",
        "criteria": ["CC8.1", "C1.1", "P4.1"],
        "evidence": "The detectors, entities, actions and fail-closed settings the output "
        "filter ran with, identified by the fingerprint each record carries, and every "
        "configuration change in the period with its time.",
    },
    {
        "section": "operation",
        "criteria": ["C1.1", "P4.1", "PI1.4", "CC7.2"],
        "evidence": "Per day, how many responses the filter scanned, redacted, blocked or "
        "passed unscanned and why, including fail-closed events and gaps in the record.",
    },
    {
        "section": "integrity",
        "criteria": ["CC7.2", "CC4.1", "PI1.5"],
        "evidence": "The keyed hash chain of the redaction log verified over the period, and "
        "an anchor (digest of the last records) to file outside the system.",
    },
    {
        "section": "lineage",
        "criteria": ["C1.2", "P4.2", "PI1.2", "CC8.1"],
        "evidence": "The training corpus was sanitized, the model trained with differential "
        "privacy on the sanitized data (ε recomputed), and the guard served with the index of "
        "that data: each link checked by content hash.",
    },
    {
        "section": "review",
        "criteria": ["CC4.1", "CC4.2", "P8.1"],
        "evidence": "Reviewers' verdicts on findings and the allow-list changes that followed, "
        "by whom and when.",
    },
    {
        "section": "sample",
        "criteria": ["CC4.1"],
        "evidence": "A seeded, reproducible sample of records for the auditor's own tests of "
        "operating effectiveness.",
    },
]
