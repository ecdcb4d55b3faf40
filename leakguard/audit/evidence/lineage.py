"""Training-data lineage: corpus → sanitize run → DP run → model checkpoint → index →
the index the guard had loaded in the period.

Every link is checked by content (SHA-256 of files, the index's own checksum, the config
fingerprint of the DP job), and reported as ``ok``, ``mismatch`` (flagged as an error) or
``unverified`` (the evidence that would decide it was not given; flagged as a warning).
ε is recomputed from the privacy report's own parameters with the accountant that
produced it (:func:`leakguard.dp.accounting.epsilon`) and shown beside the reported value.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from leakguard.audit.evidence.logpass import Usage
from leakguard.audit.evidence.schema import Flag

__all__ = ["EPSILON_RTOL", "Links", "lineage_section", "sha256_file"]

EPSILON_RTOL = 1e-6  # the accountant is deterministic: a recomputed ε agrees to rounding
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_concat(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path] if path.is_file() else []


def _hashed(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    rows = []
    for name in paths:
        path = Path(name)
        files = _files(path)
        if not files:
            rows.append({"path": str(path), "sha256": None, "present": False})
        rows += [{"path": str(f), "sha256": sha256_file(f), "present": True} for f in files]
    return rows


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Links:
    """The checked links of the lineage: rows for the report, flags for what fails."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.flags: list[Flag] = []

    def add(self, link: str, status: str, detail: str, *, code: str = "") -> None:
        self.rows.append({"link": link, "status": status, "detail": detail})
        if status == "mismatch":
            self.flags.append(Flag("error", "lineage", code or "link_mismatch", detail))
        elif status == "unverified":
            self.flags.append(Flag("warning", "lineage", code or "link_unverified", detail))


def _sanitize(run: Path, links: Links) -> dict[str, Any] | None:
    report, manifest = _read_json(run / "report.json"), _read_json(run / "manifest.json")
    if report is None or manifest is None:
        links.add(
            "sanitize run",
            "mismatch",
            f"{run} is not a finished sanitize run (report.json and manifest.json missing or "
            "unreadable)",
            code="sanitize_run_unreadable",
        )
        return None
    totals = report.get("totals", {})
    outputs = [run / str(s["output"]) for s in manifest.get("shards", [])]
    hashed_out = _hashed(outputs)
    for row in hashed_out:
        if not row["present"]:
            links.add(
                "sanitize run → output",
                "mismatch",
                f"sanitized shard {row['path']} listed in the run's manifest is missing",
                code="sanitize_output_missing",
            )
    balanced = totals.get("records_in") == totals.get("records_out", 0) + totals.get("rejected", 0)
    if not balanced:
        links.add(
            "sanitize run counts",
            "mismatch",
            f"sanitize run {run}: records in {totals.get('records_in')} ≠ written "
            f"{totals.get('records_out')} + rejected {totals.get('rejected')}",
            code="sanitize_counts",
        )
    present = [Path(r["path"]) for r in hashed_out if r["present"]]
    return {
        "run": str(run),
        "finished": report.get("finished"),
        "corpus": _hashed(report.get("inputs", [])),
        "records_in": totals.get("records_in"),
        "records_out": totals.get("records_out"),
        "rejected": totals.get("rejected"),
        "shards_failed": totals.get("shards_failed"),
        "findings_per_label": totals.get("findings", {}),
        "rejects": totals.get("rejects", {}),
        "config_fingerprint": report.get("config_fingerprint"),
        "run_fingerprint": report.get("run_fingerprint"),
        "key_check": report.get("key_check"),
        "outputs": hashed_out,
        "outputs_sha256": _sha256_concat(present) if present else None,
    }


def _recompute(report: dict[str, Any]) -> dict[str, Any]:
    from leakguard.dp.accounting import epsilon

    names = sorted(report.get("epsilons") or {report["accountant"]: report["epsilon"]})
    out = {}
    for name in names:
        out[name] = epsilon(
            float(report["noise_multiplier"]),
            float(report["sample_rate"]),
            int(report["steps"]),
            delta=float(report["delta"]),
            accountant=name,
        )
    return out


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=EPSILON_RTOL, abs_tol=1e-9)


def _dp(run: Path, dp_configs: dict[str, tuple[str, Any]], links: Links) -> dict[str, Any] | None:
    report = _read_json(run / "privacy_report.json")
    if report is None:
        links.add(
            "DP run",
            "mismatch",
            f"{run} has no readable privacy_report.json",
            code="dp_report_unreadable",
        )
        return None
    section: dict[str, Any] = {
        "run": str(run),
        "private": report.get("private"),
        "accountant": report.get("accountant"),
        "privacy_unit": report.get("privacy_unit"),
        "unit_cap": report.get("unit_cap"),
        "steps": report.get("steps"),
        "noise_multiplier": report.get("noise_multiplier"),
        "sample_rate": report.get("sample_rate"),
        "max_grad_norm": report.get("max_grad_norm"),
        "dataset_size": report.get("dataset_size"),
        "delta": report.get("delta"),
        "config_fingerprint": report.get("config_fingerprint"),
        "epsilon_reported": report.get("epsilon"),
        "epsilons_reported": report.get("epsilons"),
        "canary_audit": report.get("audit") or _read_json(run / "audit.json"),
        "artifacts": _hashed(
            p for p in (run / "model.pt", run / "checkpoint.pt", run / "model") if p.exists()
        ),
    }
    if not report.get("private"):
        links.add(
            "DP run",
            "mismatch",
            f"DP run {run} trained without differential privacy: no ε holds",
            code="dp_not_private",
        )
        return section
    try:
        recomputed = _recompute(report)
    except (KeyError, TypeError, ValueError) as exc:
        links.add(
            "DP ε",
            "mismatch",
            f"the privacy report of {run} lacks what ε is computed from ({exc})",
            code="dp_epsilon_unrecomputable",
        )
        recomputed = {}
    section["epsilons_recomputed"] = {
        k: (None if math.isinf(v) else v) for k, v in recomputed.items()
    }
    reported = report.get("epsilons") or {report.get("accountant"): report.get("epsilon")}
    for name, value in recomputed.items():
        claimed = reported.get(name)
        if name == report.get("accountant"):
            claimed = report.get("epsilon")
        claimed_f = math.inf if claimed is None else float(claimed)
        ok = _close(value, claimed_f)
        links.add(
            f"DP ε ({name})",
            "ok" if ok else "mismatch",
            f"reported ε = {claimed_f:.6g}, recomputed from σ, q, steps and δ with the {name} "
            f"accountant: {value:.6g}",
            code="dp_epsilon_mismatch",
        )
    size, delta = report.get("dataset_size"), report.get("delta")
    if isinstance(size, int) and size > 0 and isinstance(delta, int | float):
        ok = delta < 1 / size
        section["delta_vs_1_over_n"] = {"delta": delta, "one_over_n": 1 / size, "ok": ok}
        links.add(
            "DP δ < 1/N",
            "ok" if ok else "mismatch",
            f"δ = {delta:.3g}, 1/N = {1 / size:.3g} ({size} {report.get('privacy_unit')}s)",
            code="dp_delta_too_large",
        )
    match = dp_configs.get(str(report.get("config_fingerprint")))
    if match is None:
        links.add(
            "sanitize run → DP run",
            "unverified",
            f"no --config given is the DP job of {run} (fingerprint "
            f"{report.get('config_fingerprint')}): pass its YAML to check what it trained on",
            code="dp_config_missing",
        )
    else:
        path, config = match
        data = Path(config.data.path)
        section["job_config"] = path
        section["training_data"] = _hashed([data])[0]
    return section


def _index(path: Path, links: Links) -> dict[str, Any] | None:
    from leakguard.exceptions import LeakGuardError
    from leakguard.memorization.bloom import BloomFilter

    try:
        header, _ = BloomFilter.read_header(path)
    except LeakGuardError as exc:
        links.add("index", "mismatch", str(exc), code="index_unreadable")
        return None
    intact = True
    try:
        BloomFilter.open(path, verify=True)
    except LeakGuardError as exc:
        intact = False
        links.add("index checksum", "mismatch", str(exc), code="index_damaged")
    source = header.source or {}
    return {
        "path": str(path),
        "sha256": sha256_file(path),
        "checksum": header.checksum,
        "checksum_verified": intact,
        "params": header.params,
        "items": header.items_added,
        "built_at": source.get("built_at"),
        "records": source.get("records"),
        "source_inputs": _hashed(source.get("inputs", [])),
    }


def _join(
    sanitize: list[dict[str, Any]],
    dp: list[dict[str, Any]],
    indexes: list[dict[str, Any]],
    served: dict[str, Usage],
    links: Links,
) -> None:
    outputs = {r["sha256"] for s in sanitize for r in s["outputs"] if r["sha256"]}
    outputs |= {s["outputs_sha256"] for s in sanitize if s["outputs_sha256"]}
    trained = [d for d in dp if d.get("training_data")]
    for run in trained:
        data = run["training_data"]
        if not sanitize:
            links.add(
                "sanitize run → DP run",
                "unverified",
                f"no --sanitize-run given: cannot show that {data['path']} was sanitized",
                code="sanitize_run_missing",
            )
        elif data["sha256"] is None:
            links.add(
                "sanitize run → DP run",
                "unverified",
                f"the DP training data {data['path']} is no longer there to hash",
                code="dp_data_missing",
            )
        elif data["sha256"] in outputs:
            links.add(
                "sanitize run → DP run",
                "ok",
                f"the DP run {run['run']} trained on {data['path']} (sha256 "
                f"{data['sha256'][:16]}…), an output of the sanitize run",
            )
        else:
            links.add(
                "sanitize run → DP run",
                "mismatch",
                f"the DP run {run['run']} trained on {data['path']} (sha256 "
                f"{data['sha256'][:16]}…), which is not an output of any sanitize run given",
                code="sanitize_dp_mismatch",
            )
    data_hashes = {d["training_data"]["sha256"] for d in trained if d["training_data"]["sha256"]}
    for index in indexes:
        sources = {r["sha256"] for r in index["source_inputs"] if r["sha256"]}
        if not data_hashes:
            links.add(
                "DP run → index",
                "unverified",
                f"no DP training data known to compare the index {index['path']} with",
                code="index_source_unverified",
            )
        elif sources & data_hashes:
            links.add(
                "DP run → index",
                "ok",
                f"the index {index['path']} was built from the DP run's training data",
            )
        else:
            links.add(
                "DP run → index",
                "mismatch",
                f"the index {index['path']} was not built from the DP run's training data "
                "(no input of its header hashes the same)",
                code="index_not_from_training_data",
            )
    checksums = {i["checksum"] for i in indexes}
    for index_id, usage in sorted(served.items()):
        what = (
            f"{usage.records:,} guarded responses from {usage.first} to {usage.last} "
            f"({len(usage.streams)} streams)"
        )
        if not index_id:
            links.add(
                "index → guard",
                "unverified",
                f"{what} name no memorization index: the guard ran without one, or the "
                "records predate index ids",
                code="served_without_index",
            )
        elif not indexes:
            links.add(
                "index → guard",
                "unverified",
                f"{what} were served with index {index_id}; no --index given to compare",
                code="index_missing",
            )
        elif index_id in checksums:
            links.add("index → guard", "ok", f"{what} were served with the index given")
        else:
            links.add(
                "index → guard",
                "mismatch",
                f"{what} were served with index {index_id}, not the index built with the model",
                code="served_index_mismatch",
            )


def lineage_section(
    *,
    sanitize_runs: Sequence[Path],
    dp_runs: Sequence[Path],
    indexes: Sequence[Path],
    dp_configs: dict[str, tuple[str, Any]],
    served: dict[str, Usage],
) -> tuple[dict[str, Any], list[Flag]]:
    links = Links()
    sanitize = [s for s in (_sanitize(r, links) for r in sanitize_runs) if s is not None]
    dp = [d for d in (_dp(r, dp_configs, links) for r in dp_runs) if d is not None]
    index = [i for i in (_index(p, links) for p in indexes) if i is not None]
    _join(sanitize, dp, index, served, links)
    section = {
        "sanitize_runs": sanitize,
        "dp_runs": dp,
        "indexes": index,
        "served_indexes": [{"index": k or None, **u.to_dict()} for k, u in sorted(served.items())],
        "links": links.rows,
    }
    return section, links.flags
