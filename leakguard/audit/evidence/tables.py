"""The rows of the package's tables, once for both renderings (HTML and Markdown format
them; what a row holds is decided here)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "allow_list_rows",
    "change_rows",
    "criteria_rows",
    "day_rows",
    "sample_rows",
    "stream_rows",
    "verdict_rows",
]

Rows = list[list[Any]]


def change_rows(changes: list[dict[str, Any]], *, unknown: str) -> Rows:
    """Config changes: time, from, to, settings changed (``unknown`` without the config)."""
    return [
        [
            c["ts"],
            c["from"],
            c["to"],
            ", ".join(d["setting"] for d in c["changed"] or []) or unknown,
        ]
        for c in changes
    ]


def day_rows(per_day: list[dict[str, Any]]) -> Rows:
    """Per day: guarded, fully scanned, pass, redact, block, findings."""
    return [
        [
            d["day"],
            d["guarded"],
            d["fully_scanned"],
            d["actions"].get("pass", 0),
            d["actions"].get("redact", 0),
            d["actions"].get("block", 0),
            d["findings"],
        ]
        for d in per_day
    ]


def stream_rows(streams: list[dict[str, Any]]) -> Rows:
    return [
        [s["stream"], s["records"], s["segments"], s["first_ts"], s["last_ts"], s["sealed"]]
        for s in streams
    ]


def verdict_rows(verdicts: list[dict[str, Any]]) -> Rows:
    return [
        [
            v["ts"],
            v["reviewer"],
            v["verdict"],
            f"{v['target']['stream']}#{v['target']['seq']}",
            ", ".join(v["labels"]),
        ]
        for v in verdicts
    ]


def allow_list_rows(changes: list[dict[str, Any]]) -> Rows:
    return [[c["ts"], c["config"], len(c["added"]), len(c["removed"])] for c in changes]


def sample_rows(records: list[dict[str, Any]]) -> Rows:
    return [
        [
            r.get("stream"),
            r.get("seq"),
            r.get("ts"),
            r.get("action") or r.get("verdict"),
            ", ".join(f["label"] for f in r.get("findings", [])),
            str(r.get("hash"))[:16],
        ]
        for r in records
    ]


def criteria_rows(criteria: list[dict[str, Any]]) -> Rows:
    return [[c["section"], ", ".join(c["criteria"]), c["evidence"]] for c in criteria]
