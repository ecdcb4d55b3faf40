"""``SANITIZATION.md``: the sanitizer's ``report.json`` as a short page a reviewer can file
as evidence (SOC 2: training-data sanitization). It shows counts, settings and redacted
samples; detected values never appear (samples show every finding as ``<LABEL>``)."""

from __future__ import annotations

from typing import Any

__all__ = ["render_markdown"]


def _table(header: tuple[str, str], rows: dict[str, int]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| `{key}` | {value:,} |" for key, value in rows.items()]
    return [*lines, ""]


def render_markdown(report: dict[str, Any]) -> str:
    """The Markdown page for one run's report."""
    totals = report["totals"]
    lines = [
        "# Training-data sanitization report",
        "",
        f"Produced by leakguard {report['leakguard']} on {report['finished']} (UTC).",
        "",
        "## What was scanned",
        "",
        *[f"- `{item}`" for item in report["inputs"]],
        "",
        f"JSON Lines text field: `{report['field']}`. Shards: {totals['shards']:,} "
        f"({totals['shards_done']:,} done, {totals['shards_resumed']:,} of them by an earlier "
        f"interrupted run, {totals['shards_failed']:,} failed).",
        "",
        "## With which configuration",
        "",
        f"- Config fingerprint: `{report['config_fingerprint']}` "
        f"(run fingerprint `{report['run_fingerprint']}`)",
        f"- Detector: Presidio with spaCy pipeline `{report['detector']['spacy_model']}`, "
        f"score threshold {report['detector']['score_threshold']}, entities: "
        + ", ".join(f"`{e}`" for e in report["detector"]["entities"]),
        f"- Policy: default `{report['policy']['default_action']}`"
        + "".join(f", `{k}`: `{v}`" for k, v in report["policy"]["actions"].items()),
        f"- Redacted values replaced by: {report['replacement']} "
        f"(key check `{report['key_check']}`; the same value has the same replacement "
        "throughout the corpus)",
        "",
        "## Counts",
        "",
        f"- Records read: **{totals['records_in']:,}**",
        f"- Records written: **{totals['records_out']:,}** "
        f"({report['changed_records']:,} of them with replaced values)",
        f"- Records rejected (not written, listed under `rejects/`): **{totals['rejected']:,}**",
        "",
        "### Findings per label",
        "",
        *_table(("label", "findings"), totals["findings"]),
        "### Actions taken",
        "",
        *_table(("action", "findings"), report["actions"]),
        "### Rejects per reason",
        "",
        *_table(("reason", "records"), totals["rejects"]),
        "## Sample redactions",
        "",
        "Each finding is shown as `<LABEL>`, never as the value or its replacement.",
        "",
    ]
    samples: dict[str, list[str]] = report["samples"]
    if not samples:
        lines += ["(none)", ""]
    for label, snippets in samples.items():
        lines += [f"**{label}**", ""]
        lines += ["- `" + snippet.replace("`", "'") + "`" for snippet in snippets]
        lines.append("")
    return "\n".join(lines)
