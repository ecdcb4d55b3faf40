"""``evidence.html``: one self-contained, printable page (inline CSS and SVG, no script,
no external asset), from the same evidence document as evidence.json."""

# ruff: noqa: E501  (HTML and Markdown templates read best unwrapped)
from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from leakguard.audit.evidence.charts import COLOURS, day_chart, label_chart
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

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1c1c1c;margin:2em auto;
max-width:60em;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #333;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1em;width:100%}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.92em;word-break:break-all}.ok{color:#1e7d45}.bad{color:#b3261e;font-weight:600}
.warn{color:#8a5a00}.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;
vertical-align:middle}.summary{background:#f7f7f7;border:1px solid #ddd;padding:.6em 1em}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}
section{break-inside:auto}table,svg{break-inside:avoid}a{color:inherit;text-decoration:none}}
@page{size:A4;margin:14mm}
"""


def _e(value: object) -> str:
    return escape(str(value))


def _table(
    header: list[str], rows: Sequence[Sequence[object]], numeric: set[int] | None = None
) -> str:
    if not rows:
        return "<p>(none)</p>"
    numeric = numeric or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(f"{c:,}" if isinstance(c, int) and not isinstance(c, bool) else c)}</td>'
            if i in numeric
            else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(status: str) -> str:
    css = {"ok": "ok", "mismatch": "bad", "unverified": "warn"}.get(status, "")
    return f'<span class="{css}">{_e(status)}</span>'


def _flags(flags: list[dict[str, Any]]) -> str:
    if not flags:
        return '<p class="ok" id="no-findings">No findings: every check passed.</p>'
    rows = "".join(
        f'<tr class="flag-{_e(f["severity"])}"><td class="{"bad" if f["severity"] == "error" else "warn"}">'
        f"{_e(f['severity'])}</td><td>{_e(f['section'])}</td><td><code>{_e(f['code'])}</code></td>"
        f"<td>{_e(f['message'])}</td></tr>"
        for f in flags
    )
    return (
        '<table id="findings"><thead><tr><th>severity</th><th>section</th><th>finding</th>'
        f"<th>detail</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _controls(section: dict[str, Any]) -> str:
    out = ['<section id="controls"><h2>Controls in place</h2>']
    for row in section["configs"]:
        used, settings = row["used"], row["settings"]
        out.append(
            f"<h3>Config <code>{_e(row['fingerprint'])}</code></h3><p>File: "
            f"{_e(row['config_file'] or 'not given')}. In use from {_e(used['first'])} to "
            f"{_e(used['last'])}: {used['records']:,} records, {used['streams']} streams.</p>"
        )
        if settings:
            pii, mem = settings["detectors"]["pii"], settings["detectors"]["memorization"]
            rows = [
                [
                    "PII detector",
                    f"{'on' if pii['enabled'] else 'off'}; spaCy {pii['spacy_model']}; "
                    f"threshold {pii['score_threshold']}; entities {', '.join(pii['entities'])}",
                ],
                [
                    "Memorization detector",
                    f"on, index {mem['index']}, {mem['ngram']}-grams" if mem["enabled"] else "off",
                ],
                [
                    "Policy",
                    f"default {settings['policy']['default_action']}; "
                    + ", ".join(f"{k} → {v}" for k, v in settings["policy"]["actions"].items()),
                ],
                ["Fail closed", ", ".join(f"{k}: {v}" for k, v in settings["fail_closed"].items())],
                ["Bounds", ", ".join(f"{k}: {v:,}" for k, v in settings["bounds"].items())],
                [
                    "Allow list",
                    f"{pii['allow_list_entries']} entries, "
                    f"{len(pii['allow_fingerprints'])} fingerprints, {pii['allow_patterns']} patterns",
                ],
                ["Routes", ", ".join(f"{k}: {v:,}" for k, v in row["routes"].items()) or "-"],
            ]
            out.append(_table(["control", "setting"], rows))
    out.append("<h3>Configuration changes in the period</h3>")
    out.append(
        _table(
            ["time", "from", "to", "settings changed"],
            change_rows(section["changes"], unknown="(config not given)"),
        )
    )
    out.append("</section>")
    return "".join(out)


def _operation(op: dict[str, Any]) -> str:
    share = "n/a" if op["fully_scanned_share"] is None else f"{op['fully_scanned_share']:.2%}"
    legend = "".join(f'<span style="background:{c}"></span>{_e(a)}' for a, c in COLOURS.items())
    parts = [
        '<section id="operation"><h2>Operation over the period</h2>',
        f'<p class="summary"><b id="guarded">{op["guarded"]:,}</b> responses guarded; '
        f"<b>{op['fully_scanned']:,}</b> fully scanned ({share}); actions: "
        + ", ".join(f"{_e(k)} {v:,}" for k, v in op["actions"].items())
        + f"; {op['streams']} streams, {op['segments']} segments, {op['log_rotations']} log "
        f"rotations, {len(op['key_rotations'])} key rotations.</p>",
        "<h3>Responses guarded per day</h3>",
        f'<p class="legend">{legend}</p>',
        day_chart(op["per_day"]),
        _table(
            ["day", "guarded", "fully scanned", "pass", "redact", "block", "findings"],
            day_rows(op["per_day"]),
            numeric={1, 2, 3, 4, 5, 6},
        ),
        "<h3>Findings per label</h3>",
        label_chart(op["findings_per_label"]),
    ]
    for title, key in (
        ("Fail-closed blocks by reason", "fail_closed"),
        ("Policy blocks by reason", "policy_blocks"),
        ("Passed unscanned by reason", "passed_unscanned"),
    ):
        parts += [
            f"<h3>{title}</h3>",
            _table(["reason", "responses"], list(map(list, op[key].items())), {1}),
        ]
    parts += [
        f"<h3>Audit refusals</h3><p>{op['audit_refusals']:,} in the record. {_e(op['audit_refusals_note'])}</p>",
        "<h3>Gaps in the record</h3>",
        f"<p>Median {op['gap_rule']['median_per_hour']:g} records an hour (hours with records); "
        f"empty hours are gaps where it is at least {op['gap_rule']['min_rate']}.</p>",
        _table(
            ["from", "to", "hours"], [[g["from"], g["to"], g["hours"]] for g in op["gaps"]], {2}
        ),
        "<h3>Audit keys</h3>",
        _table(
            ["key id", "first", "last", "segments"],
            [[k["key_id"], k["first"], k["last"], k["records"]] for k in op["key_ids"]],
            {3},
        ),
        "</section>",
    ]
    return "".join(parts)


def _integrity(section: dict[str, Any]) -> str:
    verified = section["verified"]
    parts = [
        '<section id="integrity"><h2>Integrity of the record</h2>',
        f'<p>Hash chain verified: <b class="{"ok" if verified else "bad"}" id="chain-verified">'
        f"{'yes' if verified else 'NO'}</b> ({section['problem_count']} problems), audit key id "
        f"<code>{_e(section['key_id'])}</code>.</p>",
        _table(
            ["stream", "records", "segments", "first", "last", "sealed"],
            stream_rows(section["streams"]),
            {1, 2},
        ),
    ]
    if section["problems"]:
        parts.append(
            _table(
                ["kind", "where", "problem"],
                [[p["kind"], p["where"], p["message"]] for p in section["problems"]],
            )
        )
    for name in ("first_record", "last_record"):
        rec = section[name]
        if rec:
            parts.append(
                f"<p>{name.replace('_', ' ').capitalize()} of the period: stream "
                f"<code>{_e(rec['stream'])}</code> seq {rec['seq']} at {_e(rec['ts'])}.</p>"
            )
    parts += [
        f'<p class="summary">Anchor, to file outside this system: <code id="anchor">'
        f"{_e(section['anchor']['digest'])}</code></p>",
        "<h3>What this proves</h3><ul>"
        + "".join(f"<li>{_e(p)}</li>" for p in section["proves"])
        + "</ul>",
        "<h3>What it cannot prove</h3><ul>"
        + "".join(f"<li>{_e(p)}</li>" for p in section["cannot_prove"])
        + "</ul>",
    ]
    check = section["anchor_check"]
    if check:
        parts.append(
            f"<p>Checked against the earlier anchor <code>{_e(check['digest'])}</code>: "
            f"{check['matched']} of {check['heads']} heads unchanged.</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def _lineage(section: dict[str, Any]) -> str:
    parts = ['<section id="lineage"><h2>Training-data lineage</h2>']
    rows: list[list[object]] = []
    for run in section["sanitize_runs"]:
        rows.append(
            [
                "sanitize run",
                run["run"],
                f"{run['records_in']:,} in, {run['records_out']:,} out, "
                f"{run['rejected']:,} rejected; config {run['config_fingerprint']}; key check {run['key_check']}",
            ]
        )
    for run in section["dp_runs"]:
        eps = run.get("epsilons_recomputed") or {}
        rows.append(
            [
                "DP run",
                run["run"],
                f"ε reported {run['epsilon_reported']}, recomputed "
                + ", ".join(f"{k} {v}" for k, v in eps.items())
                + f"; δ {run['delta']}; N {run['dataset_size']} {run['privacy_unit']}s; {run['steps']} steps",
            ]
        )
        rows += [["checkpoint", a["path"], f"sha256 {a['sha256']}"] for a in run["artifacts"]]
    for index in section["indexes"]:
        rows.append(
            [
                "index",
                index["path"],
                f"checksum {index['checksum']} "
                f"({'verified' if index['checksum_verified'] else 'DAMAGED'})",
            ]
        )
    for served in section["served_indexes"]:
        rows.append(
            [
                "served by the guard",
                served["index"] or "(no index)",
                f"{served['records']:,} responses",
            ]
        )
    parts.append(_table(["artifact", "where", "facts"], rows))
    if section.get("probes"):
        table = _table(PROBE_HEADER, probe_rows(section["probes"]))
        parts.append(
            f"<h3>Extraction probe</h3><p>{_e(PROBE_NOTE)}</p>"
            + table.replace("<table>", '<table id="probes">', 1)
        )
    links = "".join(
        f"<tr><td>{_e(r['link'])}</td><td>{_status(r['status'])}</td><td>{_e(r['detail'])}</td></tr>"
        for r in section["links"]
    )
    parts.append(
        '<h3>Links</h3><table id="links"><thead><tr><th>link</th><th>status</th><th>detail</th>'
        f"</tr></thead><tbody>{links}</tbody></table></section>"
    )
    return "".join(parts)


def _review(section: dict[str, Any]) -> str:
    return (
        '<section id="review"><h2>Review</h2>'
        + _table(
            ["time", "reviewer", "verdict", "record", "labels"],
            verdict_rows(section["verdicts"]),
        )
        + "<h3>Allow-list changes</h3>"
        + _table(
            ["time", "config", "fingerprints added", "removed"],
            allow_list_rows(section["allow_list_changes"]),
            {2, 3},
        )
        + "</section>"
    )


def _sample(section: dict[str, Any]) -> str:
    return (
        '<section id="sample"><h2>Sample for testing</h2>'
        f"<p>{section['size']} of {section['population']:,} records, seed "
        f"<code>{_e(section['seed'])}</code>: {_e(section['method'])}. Re-draw it with:</p>"
        f"<pre><code>{_e(section['redraw'])}</code></pre>"
        + _table(
            ["stream", "seq", "ts", "action", "labels", "hash"],
            sample_rows(section["records"]),
        )
        + "</section>"
    )


def _criteria(criteria: list[dict[str, Any]]) -> str:
    return (
        '<section id="criteria"><h2>Trust Services Criteria</h2><p>Each section is evidence of '
        "how a control operated; whether it meets a criterion is the auditor's judgement.</p>"
        + _table(
            ["section", "criteria", "evidence"],
            criteria_rows(criteria),
        )
        + "</section>"
    )


def render_html(evidence: dict[str, Any]) -> str:
    period = evidence["period"]
    errors = sum(f["severity"] == "error" for f in evidence["flags"])
    title = f"SOC 2 evidence {period['first_day']} to {period['last_day']}"
    meta = json.dumps({"schema_version": evidence["schema_version"], "errors": errors})
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{_e(title)}</title><meta name="leakguard-evidence" content="{_e(meta)}">'
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f"<p>LLM output data-leakage filter (leakguard {_e(evidence['leakguard'])}), UTC, both "
        f"days included. Generated {_e(evidence['generated'])}; evidence schema "
        f"v{evidence['schema_version']}.</p>"
        f'<section id="flags"><h2>Findings of this build ({errors} errors)</h2>'
        f"{_flags(evidence['flags'])}</section>"
        + _controls(evidence["controls"])
        + _operation(evidence["operation"])
        + _integrity(evidence["integrity"])
        + _lineage(evidence["lineage"])
        + _review(evidence["review"])
        + _sample(evidence["sample"])
        + _criteria(evidence["criteria"])
        + "</body></html>\n"
    )
