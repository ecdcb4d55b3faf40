"""What a sanitizer run leaves for people: ``manifest.json`` (shards, counts, timings),
``report.json`` and ``SANITIZATION.md`` (the evidence a reviewer files for SOC 2
training-data sanitization), and one redaction-log event.

Counts, settings and redacted samples only: detected values never appear (samples show
every finding as ``<LABEL>``, not even its pseudonym)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakguard._files import write_atomically
from leakguard.config import LeakGuardConfig, config_fingerprint
from leakguard.events import ScanEvent
from leakguard.findings import OutcomeAction
from leakguard.sanitize.pseudonyms import key_check

if TYPE_CHECKING:
    from leakguard.sanitize.run import RunSummary
    from leakguard.sanitize.task import ShardReport

__all__ = [
    "render_markdown",
    "run_event",
    "sum_counts",
    "write_json_atomically",
    "write_run_files",
]

MANIFEST = "manifest.json"
REPORT = "report.json"
REPORT_MD = "SANITIZATION.md"


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


def run_event(summary: RunSummary, config: LeakGuardConfig, fingerprint: str) -> ScanEvent:
    """The redaction-log entry of a run: counts per label and reject reason, no values."""
    findings = ",".join(f"{label}:{n}" for label, n in summary.findings().items())
    rejects = ",".join(f"{code}:{n}" for code, n in summary.rejects().items())
    changed = any(s.changed for s in summary.shards)
    return ScanEvent(
        source="sanitize",
        request_id=f"sanitize-{fingerprint}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}",
        action=OutcomeAction.REDACT if changed else OutcomeAction.PASS,
        evidence=(),
        policy_version=config_fingerprint(config),
        fully_scanned=not summary.rejected and not summary.failed,
        reason=(
            f"records_in={summary.records_in} records_out={summary.records_out} "
            f"rejected={summary.rejected} shards_failed={len(summary.failed)} "
            f"findings={findings or '-'} rejects={rejects or '-'}"
        ),
        scan_ms=summary.seconds * 1000,
        text_chars=sum(s.chars for s in summary.shards),
    )


def write_run_files(
    summary: RunSummary,
    *,
    config: LeakGuardConfig,
    key: bytes,
    inputs: Sequence[str | Path],
    field: str,
    fingerprint: str,
    workers: int,
    dask: str | None,
    tmp_dir: Path,
) -> None:
    from leakguard import __version__  # here: the package imports this module's users

    now = datetime.now(UTC).isoformat(timespec="seconds")
    totals = {
        "records_in": summary.records_in,
        "records_out": summary.records_out,
        "rejected": summary.rejected,
        "shards": len(summary.shards) + len(summary.failed),
        "shards_done": len(summary.shards),
        "shards_resumed": summary.resumed,
        "shards_failed": len(summary.failed),
        "findings": summary.findings(),
        "rejects": summary.rejects(),
    }
    common = {
        "leakguard": __version__,
        "finished": now,
        "inputs": [str(i) for i in inputs],
        "field": field,
        "config_fingerprint": config_fingerprint(config),
        "run_fingerprint": fingerprint,
        "key_check": key_check(key),
        "replacement": "format-preserving fakes"
        if config.sanitize.format_preserving
        else "keyed pseudonyms",
        "totals": totals,
    }
    manifest = common | {
        "seconds": round(summary.seconds, 3),
        "workers": workers,
        "dask": dask,
        "shards": [s.to_dict() | {"resumed": s.resumed} for s in summary.shards],
        "failed": [
            {"shard_id": f.shard_id, "source": f.source, "error": f.error} for f in summary.failed
        ],
    }
    report = common | {
        "detector": {
            "spacy_model": config.pii.spacy_model,
            "entities": list(config.pii.entities),
            "score_threshold": config.pii.score_threshold,
        },
        "policy": {
            "default_action": config.policy.default_action.value,
            "actions": {k: v.value for k, v in sorted(config.policy.actions.items())},
        },
        "actions": sum_counts(s.actions for s in summary.shards),
        "changed_records": sum(s.changed for s in summary.shards),
        "samples": _merge_samples(summary.shards, config.sanitize.report_samples),
    }
    write_json_atomically(summary.out_dir / MANIFEST, manifest, tmp_dir=tmp_dir)
    write_json_atomically(summary.out_dir / REPORT, report, tmp_dir=tmp_dir)
    write_atomically(summary.out_dir / REPORT_MD, render_markdown(report), tmp_dir=tmp_dir)


def _merge_samples(shards: Iterable[ShardReport], limit: int) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for shard in shards:
        for label, samples in shard.samples.items():
            kept = merged.setdefault(label, [])
            kept.extend(samples[: max(0, limit - len(kept))])
    return dict(sorted(merged.items()))


def sum_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(sorted(total.items()))


def write_json_atomically(path: Path, data: object, *, tmp_dir: Path) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, text, tmp_dir=tmp_dir)
