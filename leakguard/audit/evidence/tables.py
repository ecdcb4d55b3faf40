"""The rows of the package's tables, once for both renderings (HTML and Markdown format
them; what a row holds is decided here)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "PROBE_HEADER",
    "PROBE_NOTE",
    "allow_list_rows",
    "change_rows",
    "criteria_rows",
    "day_rows",
    "probe_rows",
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


def _rate(group: dict[str, Any] | None) -> str:
    if not group:
        return "n/a"
    return f"{group['exact_extraction_rate']:.1%} ({group['exact_extractions']}/{group['prompts']})"


def _pair(groups: dict[str, Any], key: str, fmt: str) -> str:
    training, control = groups.get("training", {}), groups.get("control", {})
    if key not in training or key not in control:
        return "n/a"
    return f"{format(training[key], fmt)} / {format(control[key], fmt)}"


PROBE_HEADER = [
    "model",
    "training exact",
    "repeated exact",
    "control exact",
    "near run, words (training / control)",
    "index hits (training / control)",
    "repeated vs control",
]
PROBE_NOTE = (
    "Prompted with the first words of training records, and of records the model never saw "
    "(the control), how often the model's greedy continuation is the record's true next words "
    "('leakguard dp probe'). Rates on training (above all repeated) records clearly above the "
    "control's mean the model recites its training data; a DP model's should not be."
)


def probe_rows(probes: list[dict[str, Any]]) -> Rows:
    """Per probed model: model (role), exact extraction on training, repeated and control
    prompts, near-run and index-hit rates training / control, the repeated-vs-control test."""
    rows = []
    for p in probes:
        groups = p["groups"]
        test = (p.get("comparisons") or {}).get("repeated_vs_control")
        rows.append(
            [
                f"{p['model']} ({p['role']})",
                _rate(groups.get("training")),
                _rate(groups.get("repeated")),
                _rate(groups.get("control")),
                _pair(groups, "near_extraction_mean_run", ".2f"),
                _pair(groups, "index_hit_rate", ".1%"),
                f"{test['verdict']} (p = {test['p_value']:.2g})" if test else "n/a",
            ]
        )
    return rows
