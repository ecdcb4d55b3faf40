"""``leakguard evidence verify DIR``: re-check a package against its inputs.

Checks that every output still has the SHA-256 the manifest lists (and nothing was added),
that every input file is still there with the same SHA-256, that the anchor digest matches
its heads, and re-verifies the chain of the redaction log over the package's period with
the anchored heads: a log cut back or rewritten since the package was built shows here.

A redaction log grows while it is written (a live database, the open segment of a running
proxy, the review page's verdicts): a log file whose SHA-256 changed is a note, not a
problem, because the chain re-check with the anchored heads is what shows whether the
records the package counted are still there, unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakguard.audit.chain import AuditKey
from leakguard.audit.evidence.inputs import load_configs
from leakguard.audit.evidence.integrity import anchor_of, integrity_section
from leakguard.audit.evidence.lineage import sha256_file
from leakguard.audit.evidence.logpass import tally_log
from leakguard.audit.evidence.package import EVIDENCE_JSON, MANIFEST
from leakguard.audit.evidence.sampling import Sampler
from leakguard.audit.evidence.schema import Period, check_shape
from leakguard.exceptions import ConfigError

__all__ = ["PackageCheck", "verify_evidence"]


@dataclass(frozen=True, slots=True)
class PackageCheck:
    problems: tuple[str, ...]
    outputs: int
    inputs: int
    streams: int
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{str(path)!r} is not an evidence {what}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{str(path)!r} is not an evidence {what}: not a JSON object")
    return data


def _outputs(directory: Path, manifest: dict[str, Any], problems: list[str]) -> int:
    listed = {MANIFEST}
    for row in manifest.get("outputs", []):
        listed.add(row["path"])
        path = directory / row["path"]
        if not path.is_file():
            problems.append(f"output {row['path']} listed in the manifest is missing")
        elif sha256_file(path) != row["sha256"]:
            problems.append(f"output {row['path']} was changed after the package was built")
    for path in sorted(directory.iterdir()):
        if path.name not in listed:
            problems.append(f"{path.name} is in the package but not in its manifest")
    return len(listed) - 1


def _inputs(manifest: dict[str, Any], problems: list[str], notes: list[str]) -> int:
    rows = manifest.get("inputs", [])
    for row in rows:
        path = Path(row["path"])
        if not path.is_file():
            problems.append(f"input {row['role']} {row['path']} is no longer there")
        elif row["role"] == "audit-log" and sha256_file(path) != row["sha256"]:
            notes.append(
                f"the redaction log {row['path']} was written to since the package was "
                "built; the chain re-check below covers the records of the period"
            )
        elif sha256_file(path) != row["sha256"]:
            problems.append(
                f"input {row['role']} {row['path']} changed since the package was built "
                f"(sha256 {row['sha256'][:16]}… then)"
            )
    for row in manifest.get("probe_inputs", []):
        if row.get("sha256_now") is None:
            continue  # not there when the package was built (shown so in the package)
        path = Path(row["path"])
        if not path.is_file():
            problems.append(f"{row['role']} {row['path']} of a probe is no longer there")
        elif sha256_file(path) != row["sha256_now"]:
            problems.append(
                f"{row['role']} {row['path']} of a probe changed since the package was built"
            )
    return len(rows)


def verify_evidence(
    directory: str | Path, *, key: AuditKey | None = None, allow_open: bool = False
) -> PackageCheck:
    directory = Path(directory)
    manifest = _load(directory / MANIFEST, "manifest")
    problems: list[str] = []
    notes: list[str] = []
    outputs = _outputs(directory, manifest, problems)
    inputs = _inputs(manifest, problems, notes)
    evidence = _load(directory / EVIDENCE_JSON, "package (evidence.json)")
    problems += [f"evidence.json: {p}" for p in check_shape(evidence)]
    if problems and any(p.startswith("evidence.json: ") for p in problems):
        return PackageCheck(tuple(problems), outputs, inputs, 0, tuple(notes))
    anchor = evidence["integrity"]["anchor"]
    if anchor_of(anchor["heads"]) != anchor["digest"] or manifest.get("anchor") != anchor["digest"]:
        problems.append("the anchor digest does not match its heads or the manifest")
    period = Period(**evidence["period"])
    given = evidence["inputs"]
    configs = load_configs(tuple(Path(p) for p in given.get("config", [])))
    key = key if key is not None else configs.audit_key()
    logs = [Path(p) for p in given.get("audit-log", [])]
    earlier = {"source": str(directory / EVIDENCE_JSON), **anchor}
    wanted = {(h["stream"], h["seq"]): h["hash"] for h in anchor["heads"]}
    tally = tally_log(logs, period, sampler=Sampler("", 0), anchors=wanted)
    section, flags = integrity_section(
        logs, period, tally, key=key, allow_open=allow_open, earlier=earlier
    )
    problems += [f"chain: {f.code}: {f.message}" for f in flags]
    return PackageCheck(tuple(problems), outputs, inputs, len(section["streams"]), tuple(notes))
