"""The extraction probe (``leakguard dp probe``) in the lineage: does the model that was
trained recite its training data, next to a control it never saw?

Results are read from ``probe.json`` (format and keys: :mod:`leakguard.dp.probe`, version 1)
wherever they are: in a ``--dp-run`` directory (``probe.json``, ``dp/`` and ``non_dp/`` of a
``leakguard dp audit`` output, or under ``probe`` in its ``privacy_report.json``), or given
with ``--probe`` (the file or its directory). The same result found twice is shown once.

Each result's model checkpoint is joined to the DP runs by content: the SHA-256 of the
files the probe read the model from (recorded by the probe; hashed now for results that
predate that key) against the DP run's checkpoint files. A probe of a model that is not
the DP run's checkpoint is flagged, not hidden: its rates say nothing about the model the
run produced. The non-DP comparison model of ``dp audit`` is shown as such, and not joined.
The probe's inputs (model files, corpus, control, index) go into ``manifest.json`` with the
hash the probe recorded and the hash at build time (``evidence verify`` re-checks the latter).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from leakguard.audit.evidence.lineage import Links, sha256_file
from leakguard.audit.evidence.schema import Flag

__all__ = ["PROBE_FILE", "RESULT_VERSION", "probe_section"]

PROBE_FILE = "probe.json"
RESULT_VERSION = 1
GROUPS = ("training", "repeated", "control")
_GROUP_KEYS = (
    "prompts",
    "exact_extractions",
    "exact_extraction_rate",
    "exact_extraction_ci95",
    "near_extraction_mean_run",
    "near_extraction_max_run",
    "index_hit_rate",
    "pii_in_true_suffix",
    "pii_recited",
)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_result(data: Any) -> bool:
    return isinstance(data, dict) and "groups" in data and "model" in data


def _found(source: Path, *, given: bool) -> Iterator[tuple[str, str | None, Any]]:
    """(where, side, result) for every probe result at ``source``; ``side`` is ``dp`` or
    ``non_dp`` where a ``dp audit`` report says which model it is (else the model's own
    privacy report tells). A ``--probe`` path that holds none yields one unreadable entry
    (``result`` None)."""
    files = (
        [source]
        if source.is_file()
        else [source / PROBE_FILE, *sorted(source.glob(f"*/{PROBE_FILE}"))]
    )
    hits = 0
    for file in files:
        if file.is_file():
            hits += 1
            yield str(file), None, _read_json(file)
    report = _read_json(source / "privacy_report.json") if source.is_dir() else None
    probe = report.get("probe") if isinstance(report, dict) else None
    if isinstance(probe, dict):
        for side, result in [(None, probe)] if _is_result(probe) else sorted(probe.items()):
            hits += 1
            yield f"{source / 'privacy_report.json'} (probe.{side})", side, result
    if given and not hits:
        yield str(source), None, None


def _model_files(result: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The files the model was read from with their SHA-256, and whether the probe recorded
    them (``probe``) or they were hashed now (``build``, a result without ``model_files``)."""
    recorded = result.get("model_files")
    if isinstance(recorded, list):
        return [{"path": str(f["path"]), "sha256": str(f["sha256"])} for f in recorded], "probe"
    target = Path(str(result.get("model", "")))
    if target.is_dir() and (target / "model.pt").is_file():
        target = target / "model.pt"
    elif target.is_dir() and (target / "model").is_dir():
        target = target / "model"
    files = (
        [target]
        if target.is_file()
        else sorted(p for p in target.rglob("*") if p.is_file())
        if target.is_dir()
        else []
    )
    return [{"path": str(f), "sha256": sha256_file(f)} for f in files], "build"


def _is_non_dp(side: str | None, files: list[dict[str, Any]]) -> bool:
    if side is not None:
        return side == "non_dp"
    if not files:
        return False
    report = _read_json(Path(files[0]["path"]).parent / "privacy_report.json")
    return isinstance(report, dict) and report.get("private") is False


def _inputs(result: dict[str, Any], files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every input of the probe: what the probe recorded, and the hash of the file now."""
    rows = [{"role": "probe-model", **f} for f in files]
    given = result.get("inputs")
    recorded: dict[str, Any] = given if isinstance(given, dict) else {}
    for name in ("corpus", "control", "index"):
        entry = recorded.get(name)
        path = entry.get("path") if isinstance(entry, dict) else result.get(name)
        if path is None:
            continue
        rows.append(
            {
                "role": f"probe-{name}",
                "path": str(path),
                "sha256": entry.get("sha256") if isinstance(entry, dict) else None,
            }
        )
    for row in rows:
        file = Path(row["path"])
        row["sha256_now"] = sha256_file(file) if file.is_file() else None
    return rows


def _groups(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups = result.get("groups") or {}
    return {
        name: {k: groups[name][k] for k in _GROUP_KEYS if k in groups[name]}
        for name in GROUPS
        if isinstance(groups.get(name), dict)
    }


def _checkpoints(dp_runs: Sequence[dict[str, Any]]) -> list[tuple[str, set[str]]]:
    return [
        (str(r["run"]), {a["sha256"] for a in r.get("artifacts", []) if a.get("sha256")})
        for r in dp_runs
    ]


def probe_section(
    dp_run_paths: Sequence[Path], probe_paths: Sequence[Path], dp_runs: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Flag]]:
    """The probe results found, each joined to the DP runs (``dp_runs``: the lineage's DP
    run sections); (results, link rows, flags)."""
    links = Links()
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    sources = [(p, False) for p in dp_run_paths] + [(p, True) for p in probe_paths]
    checkpoints = _checkpoints(dp_runs)
    for source, given in sources:
        for where, side, result in _found(source, given=given):
            if not _is_result(result):
                links.add(
                    "probe",
                    "mismatch",
                    f"{where} is not a 'leakguard dp probe' result (probe.json with model and "
                    "groups)",
                    code="probe_unreadable",
                )
                continue
            identity = hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()
            if identity in seen:
                continue
            seen.add(identity)
            rows.append(_row(where, side, result, checkpoints, links))
    return rows, links.rows, links.flags


def _row(
    where: str,
    side: str | None,
    result: dict[str, Any],
    checkpoints: list[tuple[str, set[str]]],
    links: Links,
) -> dict[str, Any]:
    files, hashed = _model_files(result)
    non_dp = _is_non_dp(side, files)
    row: dict[str, Any] = {
        "source": where,
        "version": result.get("version"),
        "model": result.get("model"),
        "model_kind": result.get("model_kind"),
        "role": "non-DP comparison" if non_dp else "model of the DP run",
        "model_hashed_by": hashed,
        "settings": result.get("settings"),
        "groups": _groups(result),
        "comparisons": result.get("comparisons"),
        "inputs": _inputs(result, files),
        "checkpoint": None,
    }
    if result.get("version") != RESULT_VERSION:
        links.add(
            "probe",
            "unverified",
            f"{where} is probe result version {result.get('version')!r}; this leakguard reads "
            f"version {RESULT_VERSION}: its figures are shown as written, unchecked",
            code="probe_version_unknown",
        )
    if non_dp:
        return row  # the baseline model: nothing to join
    probed = {f["sha256"] for f in files}
    what = f"the probe {where} tested {result.get('model')}"
    if not probed:
        links.add(
            "DP run → probe",
            "unverified",
            f"{what}, whose files are not recorded nor there to hash",
            code="probe_model_unhashed",
        )
    elif not checkpoints or not any(c for _, c in checkpoints):
        links.add(
            "DP run → probe",
            "unverified",
            f"{what}; no --dp-run with a checkpoint was given to compare it with",
            code="probe_dp_run_missing",
        )
    else:
        match = next((run for run, c in checkpoints if probed <= c), None)
        short = ", ".join(sorted(h[:16] + "…" for h in probed))
        if match is not None:
            row["checkpoint"] = match
            links.add(
                "DP run → probe",
                "ok",
                f"{what}: the checkpoint of the DP run {match} (sha256 {short})",
            )
        else:
            runs = "; ".join(
                f"{run}: {', '.join(sorted(h[:16] + '…' for h in c)) or 'none'}"
                for run, c in checkpoints
            )
            links.add(
                "DP run → probe",
                "mismatch",
                f"{what} (sha256 {short}), which is not the checkpoint of any DP run given "
                f"({runs}): its rates are not evidence about that model",
                code="probe_model_mismatch",
            )
    return row
