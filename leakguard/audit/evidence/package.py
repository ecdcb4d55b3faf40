"""Build the evidence package: evidence.json, evidence.schema.json, evidence.html,
EVIDENCE.md and manifest.json (SHA-256 of every input and output); and verify one later.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leakguard.audit.chain import AuditKey
from leakguard.audit.evidence.controls import controls_section
from leakguard.audit.evidence.criteria import CRITERIA
from leakguard.audit.evidence.inputs import EvidenceInputs, load_configs
from leakguard.audit.evidence.integrity import integrity_section, load_anchor
from leakguard.audit.evidence.lineage import lineage_section, sha256_file
from leakguard.audit.evidence.logpass import tally_log
from leakguard.audit.evidence.operation import operation_section, review_section
from leakguard.audit.evidence.probes import probe_section
from leakguard.audit.evidence.render_html import render_html
from leakguard.audit.evidence.render_md import render_markdown
from leakguard.audit.evidence.sampling import METHOD, Sampler
from leakguard.audit.evidence.schema import SCHEMA, SCHEMA_VERSION, Flag, Period
from leakguard.exceptions import ConfigError

__all__ = ["OUTPUTS", "EvidenceResult", "build_evidence", "manifest_inputs"]

EVIDENCE_JSON = "evidence.json"
SCHEMA_JSON = "evidence.schema.json"
EVIDENCE_HTML = "evidence.html"
EVIDENCE_MD = "EVIDENCE.md"
MANIFEST = "manifest.json"
OUTPUTS = (EVIDENCE_JSON, SCHEMA_JSON, EVIDENCE_HTML, EVIDENCE_MD)


@dataclass(frozen=True, slots=True)
class EvidenceResult:
    out_dir: Path
    evidence: dict[str, Any]
    flags: tuple[Flag, ...]

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.flags)


def default_seed(period: Period) -> str:
    return f"leakguard-evidence:{period.first_day}:{period.last_day}"


def manifest_inputs(inputs: EvidenceInputs) -> list[dict[str, Any]]:
    """Every file of every input, with its SHA-256 and size."""
    rows = []
    for role, paths in inputs.roles():
        for path in paths:
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for file in files:
                rows.append(
                    {
                        "role": role.lstrip("-"),
                        "path": str(file),
                        "bytes": file.stat().st_size,
                        "sha256": sha256_file(file),
                    }
                )
    return rows


def _redraw(inputs: EvidenceInputs, period: Period, size: int, seed: str) -> str:
    parts = ["leakguard", "evidence", "--from", period.first_day, "--to", period.last_day]
    for path in inputs.audit_logs:
        parts += ["--audit-log", str(path)]
    parts += ["--sample", str(size), "--seed", seed, "--out", "DIR"]
    return shlex.join(parts)


def _prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"--out {str(out)!r} exists and is not an empty directory: give a new directory "
            "(an evidence package is never overwritten)"
        )
    out.mkdir(parents=True, exist_ok=True)


def build_evidence(
    inputs: EvidenceInputs,
    *,
    period: Period,
    out: str | Path,
    key: AuditKey | None = None,
    sample_size: int = 25,
    seed: str | None = None,
    anchor: str | Path | None = None,
    allow_open: bool = False,
) -> EvidenceResult:
    """Build the package for ``period`` into ``out`` (a new or empty directory)."""
    from leakguard import __version__

    out = Path(out)
    _prepare_out(out)
    configs = load_configs(inputs.configs)
    key = key if key is not None else configs.audit_key()
    earlier = load_anchor(anchor) if anchor is not None else None
    seed = seed if seed is not None else default_seed(period)
    sampler = Sampler(seed, sample_size)
    wanted = {(h["stream"], h["seq"]): h["hash"] for h in earlier["heads"]} if earlier else None
    tally = tally_log(inputs.audit_logs, period, sampler=sampler, anchors=wanted)
    controls, flags, allow_changes = controls_section(configs.guard, tally)
    operation, more = operation_section(tally)
    flags += more
    integrity, more = integrity_section(
        inputs.audit_logs, period, tally, key=key, allow_open=allow_open, earlier=earlier
    )
    flags += more
    lineage, more = lineage_section(
        sanitize_runs=inputs.sanitize_runs,
        dp_runs=inputs.dp_runs,
        indexes=inputs.indexes,
        dp_configs=configs.dp,
        served=tally.indexes,
    )
    flags += more
    lineage["probes"], probe_links, more = probe_section(
        inputs.dp_runs, inputs.probes, lineage["dp_runs"]
    )
    lineage["links"] += probe_links
    flags += more
    if tally.records == 0:
        flags.append(
            Flag(
                "error",
                "operation",
                "no_records",
                f"the redaction log holds no records from {period.first_day} to "
                f"{period.last_day}: nothing shows the guard operated",
            )
        )
    evidence: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "leakguard": __version__,
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "period": period.to_dict(),
        "inputs": inputs.to_dict(),
        "flags": [f.to_dict() for f in flags],
        "controls": controls,
        "operation": operation,
        "integrity": integrity,
        "lineage": lineage,
        "review": review_section(tally, allow_changes),
        "sample": {
            "seed": seed,
            "size": sample_size,
            "population": sampler.population,
            "method": METHOD,
            "redraw": _redraw(inputs, period, sample_size, seed),
            "records": sampler.records(),
        },
        "criteria": CRITERIA,
    }
    _write(out, inputs, evidence)
    return EvidenceResult(out, evidence, tuple(flags))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write(out: Path, inputs: EvidenceInputs, evidence: dict[str, Any]) -> None:
    _write_text(out / EVIDENCE_JSON, json.dumps(evidence, indent=2, ensure_ascii=False) + "\n")
    _write_text(out / SCHEMA_JSON, json.dumps(SCHEMA, indent=2) + "\n")
    _write_text(out / EVIDENCE_HTML, render_html(evidence))
    _write_text(out / EVIDENCE_MD, render_markdown(evidence))
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "generated": evidence["generated"],
        "period": evidence["period"],
        "anchor": evidence["integrity"]["anchor"]["digest"],
        "inputs": manifest_inputs(inputs),
        "probe_inputs": [
            {"probe": probe["source"], **row}
            for probe in evidence["lineage"]["probes"]
            for row in probe["inputs"]
        ],
        "outputs": [
            {"path": name, "bytes": (out / name).stat().st_size, "sha256": sha256_file(out / name)}
            for name in OUTPUTS
        ],
    }
    _write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
