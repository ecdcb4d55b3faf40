"""``EVIDENCE.md``: the package as a Markdown document (same figures as evidence.json)."""

# ruff: noqa: E501  (HTML and Markdown templates read best unwrapped)
from __future__ import annotations

from typing import Any

from leakguard.audit.evidence.tables import (
    PROBE_HEADER,
    PROBE_NOTE,
    allow_list_rows,
    change_rows,
    criteria_rows,
    day_rows,
    probe_rows,
    sample_rows,
    stream_rows,
    verdict_rows,
)

__all__ = ["render_markdown"]


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _flags(evidence: dict[str, Any]) -> list[str]:
    flags = evidence["flags"]
    if not flags:
        return ["No findings: every check passed.", ""]
    return _table(
        ["severity", "section", "finding", "detail"],
        [[f["severity"], f["section"], f["code"], f["message"]] for f in flags],
    )


def _controls(section: dict[str, Any]) -> list[str]:
    lines = ["## Controls in place", ""]
    for row in section["configs"]:
        settings = row["settings"]
        used = row["used"]
        lines.append(
            f"### Config `{row['fingerprint']}` ({row['config_file'] or 'file not given'})"
        )
        lines += [
            "",
            f"In use from {used['first']} to {used['last']}: {used['records']:,} records.",
        ]
        if settings:
            pii, mem = settings["detectors"]["pii"], settings["detectors"]["memorization"]
            policy, fail, bounds = settings["policy"], settings["fail_closed"], settings["bounds"]
            lines += [
                "",
                f"- PII detector: {'on' if pii['enabled'] else 'off'}, spaCy `{pii['spacy_model']}`,"
                f" threshold {pii['score_threshold']}, entities "
                + ", ".join(f"`{e}`" for e in pii["entities"]),
                f"- Memorization detector: {'on, index ' + str(mem['index']) if mem['enabled'] else 'off'}",
                f"- Policy: default `{policy['default_action']}`"
                + "".join(f", `{k}` → `{v}`" for k, v in policy["actions"].items()),
                f"- Fail closed: unscannable `{fail['on_unscannable']}`, failure "
                f"`{fail['on_failure']}`, hold overflow `{fail['on_hold_overflow']}`, scan "
                f"time-out {fail['scan_timeout_s']} s",
                f"- Bounds: hold-back {bounds['hold_back_chars']} chars, max hold "
                f"{bounds['max_hold_chars']}, body {bounds['max_body_bytes']:,} bytes",
                f"- Allow list: {pii['allow_list_entries']} entries, "
                f"{len(pii['allow_fingerprints'])} fingerprints",
            ]
        if row["routes"]:
            lines += [
                "",
                "Records per route: " + ", ".join(f"`{k}` {v:,}" for k, v in row["routes"].items()),
            ]
        lines.append("")
    lines += ["### Configuration changes", ""]
    lines += _table(
        ["time", "from", "to", "settings changed"],
        change_rows(section["changes"], unknown="?"),
    )
    return lines


def _operation(op: dict[str, Any]) -> list[str]:
    lines = [
        "## Operation over the period",
        "",
        f"- Responses guarded: **{op['guarded']:,}**; fully scanned: {op['fully_scanned']:,} "
        f"({_share(op['fully_scanned_share'])})",
        "- Actions: " + ", ".join(f"{k} {v:,}" for k, v in op["actions"].items()),
        f"- Audit refusals in the record: {op['audit_refusals']} ({op['audit_refusals_note']})",
        f"- Streams: {op['streams']}, segments opened: {op['segments']}, log rotations: "
        f"{op['log_rotations']}, key rotations: {len(op['key_rotations'])}",
        "",
        "### Per day",
        "",
    ]
    lines += _table(
        ["day", "guarded", "fully scanned", "pass", "redact", "block", "findings"],
        day_rows(op["per_day"]),
    )
    lines += ["### Findings per label and action", ""]
    lines += _table(
        ["label", "actions"],
        [
            [k, ", ".join(f"{a} {n:,}" for a, n in v.items())]
            for k, v in op["findings_per_label"].items()
        ],
    )
    for title, key in (
        ("Fail-closed blocks by reason", "fail_closed"),
        ("Policy blocks by reason", "policy_blocks"),
        ("Passed unscanned by reason", "passed_unscanned"),
    ):
        lines += [
            f"### {title}",
            "",
            *_table(["reason", "responses"], list(map(list, op[key].items()))),
        ]
    lines += ["### Gaps in the record", ""]
    rule = op["gap_rule"]
    lines.append(
        f"Median {rule['median_per_hour']:g} records per hour with records; empty hours count "
        f"as gaps where that median is at least {rule['min_rate']}."
    )
    lines += [
        "",
        *_table(["from", "to", "hours"], [[g["from"], g["to"], g["hours"]] for g in op["gaps"]]),
    ]
    return lines


def _integrity(section: dict[str, Any]) -> list[str]:
    lines = [
        "## Integrity of the record",
        "",
        f"Chain verified: **{'yes' if section['verified'] else 'NO'}** "
        f"({section['problem_count']} problems) with audit key id `{section['key_id']}`.",
        "",
    ]
    lines += _table(
        ["stream", "records", "segments", "first", "last", "sealed"],
        stream_rows(section["streams"]),
    )
    first, last = section["first_record"], section["last_record"]
    if first and last:
        lines += [
            f"First record of the period: stream {first['stream']} seq {first['seq']} at {first['ts']}.",
            f"Last record of the period: stream {last['stream']} seq {last['seq']} at {last['ts']}.",
            "",
        ]
    lines += [
        f"**Anchor** (file it outside this system): `{section['anchor']['digest']}`",
        "",
        "What the verified chain proves:",
        "",
        *[f"- {p}" for p in section["proves"]],
        "",
        "What it cannot prove:",
        "",
        *[f"- {p}" for p in section["cannot_prove"]],
        "",
    ]
    check = section["anchor_check"]
    if check:
        lines += [
            f"Checked against the earlier anchor `{check['digest']}` ({check['source']}): "
            f"{check['matched']} of {check['heads']} heads found unchanged.",
            "",
        ]
    return lines


def _lineage(section: dict[str, Any]) -> list[str]:
    lines = ["## Training-data lineage", ""]
    for run in section["sanitize_runs"]:
        lines += [
            f"- Sanitize run `{run['run']}`: {run['records_in']:,} records in, "
            f"{run['records_out']:,} out, {run['rejected']:,} rejected; config "
            f"`{run['config_fingerprint']}`, key check `{run['key_check']}`; findings: "
            + ", ".join(f"{k} {v:,}" for k, v in run["findings_per_label"].items()),
        ]
    for run in section["dp_runs"]:
        eps = run.get("epsilons_recomputed") or {}
        lines.append(
            f"- DP run `{run['run']}`: ε reported {run['epsilon_reported']}, recomputed "
            + ", ".join(f"{k} {v}" for k, v in eps.items())
            + f"; δ {run['delta']}, N {run['dataset_size']} ({run['privacy_unit']}s), "
            f"steps {run['steps']}, σ {run['noise_multiplier']}"
        )
        for art in run["artifacts"]:
            lines.append(f"  - `{art['path']}` sha256 `{art['sha256']}`")
    for index in section["indexes"]:
        lines.append(
            f"- Index `{index['path']}`: checksum `{index['checksum']}` "
            f"({'verified' if index['checksum_verified'] else 'DAMAGED'})"
        )
    if section.get("probes"):
        lines += ["", "### Extraction probe", "", PROBE_NOTE, ""]
        lines += _table(PROBE_HEADER, probe_rows(section["probes"]))
    lines += ["", "### Links", ""]
    lines += _table(
        ["link", "status", "detail"],
        [[r["link"], r["status"], r["detail"]] for r in section["links"]],
    )
    return lines


def _review(section: dict[str, Any]) -> list[str]:
    lines = ["## Review", ""]
    lines += _table(
        ["time", "reviewer", "verdict", "record", "labels"],
        verdict_rows(section["verdicts"]),
    )
    lines += ["### Allow-list changes", ""]
    lines += _table(
        ["time", "config", "added", "removed"],
        allow_list_rows(section["allow_list_changes"]),
    )
    return lines


def _sample(section: dict[str, Any]) -> list[str]:
    lines = [
        "## Sample for testing",
        "",
        f"{section['size']} of {section['population']:,} records, seed `{section['seed']}`: "
        f"{section['method']}. Re-draw it with:",
        "",
        f"    {section['redraw']}",
        "",
    ]
    lines += _table(
        ["stream", "seq", "ts", "action", "labels", "hash"],
        sample_rows(section["records"]),
    )
    return lines


def render_markdown(evidence: dict[str, Any]) -> str:
    period = evidence["period"]
    lines = [
        "# SOC 2 evidence: LLM output data-leakage filter",
        "",
        f"Period {period['first_day']} to {period['last_day']} (UTC, both days included). "
        f"Generated {evidence['generated']} by leakguard {evidence['leakguard']} "
        f"(evidence schema v{evidence['schema_version']}).",
        "",
        "This package is evidence of how the controls operated; whether they meet a criterion "
        "is the auditor's judgement.",
        "",
        "## Findings of this build",
        "",
        *_flags(evidence),
        *_controls(evidence["controls"]),
        *_operation(evidence["operation"]),
        *_integrity(evidence["integrity"]),
        *_lineage(evidence["lineage"]),
        *_review(evidence["review"]),
        *_sample(evidence["sample"]),
        "## Trust Services Criteria",
        "",
        *_table(
            ["section", "criteria", "evidence"],
            criteria_rows(evidence["criteria"]),
        ),
    ]
    return "\n".join(lines) + "\n"
