"""Operation over the period: the figures of :class:`~.logpass.LogTally` as a section, and
the gaps in the record."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from leakguard.audit.evidence.logpass import LogTally
from leakguard.audit.evidence.schema import Flag

__all__ = ["GAP_MIN_RATE", "find_gaps", "operation_section"]

# Empty hours count as gaps only where the log usually holds this many records an hour
# (the median over its hours with records): below that, a quiet hour is not a missing one.
GAP_MIN_RATE = 10


def _hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=UTC)


def find_gaps(hours: dict[str, int], *, min_rate: int = GAP_MIN_RATE) -> dict[str, Any]:
    """Runs of empty hours between the first and the last hour with records."""
    if not hours:
        return {"median_per_hour": 0, "expected": False, "gaps": []}
    median = statistics.median(hours.values())
    expected = median >= min_rate
    gaps: list[dict[str, Any]] = []
    if expected:
        first, last = _hour(min(hours)), _hour(max(hours))
        moment, start = first, None
        while moment <= last:
            key = moment.strftime("%Y-%m-%dT%H")
            if key not in hours and start is None:
                start = moment
            elif key in hours and start is not None:
                gaps.append(
                    {
                        "from": start.strftime("%Y-%m-%dT%H:00Z"),
                        "to": moment.strftime("%Y-%m-%dT%H:00Z"),
                        "hours": int((moment - start).total_seconds() // 3600),
                    }
                )
                start = None
            moment += timedelta(hours=1)
    return {"median_per_hour": median, "expected": expected, "gaps": gaps}


def operation_section(tally: LogTally) -> tuple[dict[str, Any], list[Flag]]:
    flags: list[Flag] = []
    gaps = find_gaps(tally.hours)
    for gap in gaps["gaps"]:
        flags.append(
            Flag(
                "warning",
                "operation",
                "record_gap",
                f"no records from {gap['from']} to {gap['to']} ({gap['hours']} h) while the "
                f"log otherwise holds a median {gaps['median_per_hour']:g} records an hour",
            )
        )
    if tally.unparsed:
        flags.append(
            Flag(
                "warning",
                "operation",
                "records_unparsed",
                f"{tally.unparsed:,} records have no timestamp, stream or known kind: not counted",
            )
        )
    keys = sorted(tally.keys.items(), key=lambda item: (item[1].first, item[0]))
    rotations = [
        {"ts": usage.first, "from": old, "to": new} for (old, _), (new, usage) in pairwise(keys)
    ]
    share = tally.fully_scanned / tally.guarded if tally.guarded else None
    section = {
        "records": tally.records,
        "guarded": tally.guarded,
        "fully_scanned": tally.fully_scanned,
        "fully_scanned_share": share,
        "actions": dict(sorted(tally.actions.items())),
        "per_day": [
            {
                "day": day,
                "guarded": c.guarded,
                "fully_scanned": c.fully_scanned,
                "actions": dict(sorted(c.actions.items())),
                "findings": c.findings,
            }
            for day, c in sorted(tally.days.items())
        ],
        "findings_per_label": {
            label: dict(sorted(actions.items()))
            for label, actions in sorted(tally.findings.items())
        },
        "fail_closed": dict(sorted(tally.fail_closed.items())),
        "policy_blocks": dict(sorted(tally.policy_blocks.items())),
        "passed_unscanned": dict(sorted(tally.passed_unscanned.items())),
        "audit_refusals": tally.audit_refusals,
        "audit_refusals_note": (
            "A response the audit sink refused is blocked (fail closed) and cannot be in the "
            "log; refusals are counted on /metrics (leakguard_audit_sink_records_total"
            '{state="refused"}). Counted here: records whose reason is audit_refused.'
        ),
        "sources": dict(sorted(tally.sources.items())),
        "routes": dict(sorted(tally.routes.items())),
        "gaps": gaps["gaps"],
        "gap_rule": {
            "median_per_hour": gaps["median_per_hour"],
            "min_rate": GAP_MIN_RATE,
            "expected_traffic": gaps["expected"],
        },
        "streams": len(tally.streams_in_period),
        "segments": tally.segments,
        "log_rotations": tally.log_rotations,
        "key_ids": [{"key_id": k, **u.to_dict()} for k, u in keys],
        "key_rotations": rotations,
    }
    return section, flags


def review_section(tally: LogTally, allow_changes: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for verdict in tally.verdicts:
        counts[verdict["verdict"]] = counts.get(verdict["verdict"], 0) + 1
    return {
        "verdicts": sorted(tally.verdicts, key=lambda v: v["ts"]),
        "verdict_counts": dict(sorted(counts.items())),
        "allow_list_changes": allow_changes,
    }
