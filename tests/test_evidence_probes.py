"""Issue 24, item 4, on the probe's documented result format (version 1, as
:mod:`leakguard.dp.probe` writes it): where results are found in a ``dp audit`` output,
which model is joined to the DP run's checkpoint and which is the non-DP comparison, and
the table row they render to. The end-to-end runs of ``leakguard dp probe`` are in
tests/test_evidence.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from leakguard.audit.evidence.probes import probe_section
from leakguard.audit.evidence.tables import probe_rows


def group(prompts: int, exact: int) -> dict[str, Any]:
    return {
        "prompts": prompts,
        "exact_extractions": exact,
        "exact_extraction_rate": exact / prompts,
        "exact_extraction_ci95": [0.0, 1.0],
        "near_extraction_mean_run": 1.5,
        "near_extraction_max_run": 4,
        "mean_suffix_words": 8.0,
        "index_hit_rate": exact / prompts,
    }


def result(model: Path, *, exact: int, verdict: str, version: int = 1) -> dict[str, Any]:
    data = model.read_bytes()
    return {
        "version": version,
        "model": str(model.parent),
        "model_kind": "builtin",
        "model_files": [{"path": str(model), "sha256": hashlib.sha256(data).hexdigest()}],
        "corpus": "train.jsonl",
        "control": "heldout.jsonl",
        "index": None,
        "inputs": {
            "corpus": {"path": "train.jsonl", "sha256": "ab" * 32},
            "control": {"path": "heldout.jsonl", "sha256": "cd" * 32},
            "index": None,
        },
        "settings": {"prefixes": 50, "prefix_words": 6, "suffix_words": 8, "seed": 0},
        "groups": {
            "training": group(50, exact),
            "repeated": group(20, exact // 2),
            "control": group(50, 1),
        },
        "comparisons": {
            "repeated_vs_control": {"difference": 0.1, "p_value": 0.0012, "verdict": verdict}
        },
        "sampled": None,
    }


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def audit_output(root: Path) -> tuple[Path, dict[str, Any]]:
    """A 'dp audit --out' layout: dp/ and non_dp/ with a model and probe.json each, and
    both results under 'probe' in the privacy reports."""
    results = {}
    for side, exact in (("dp", 2), ("non_dp", 30)):
        model = root / side / "model.pt"
        model.parent.mkdir(parents=True)
        model.write_bytes(f"weights of the {side} model".encode())
        verdict = "indistinguishable" if side == "dp" else "above"
        results[side] = result(model, exact=exact, verdict=verdict)
        write(root / side / "probe.json", results[side])
    report = {"private": True, "probe": results}
    write(root / "privacy_report.json", report)
    write(root / "dp" / "privacy_report.json", report)
    write(root / "non_dp" / "privacy_report.json", {"private": False})
    return root / "dp", results


def dp_section(run: Path) -> dict[str, Any]:
    model = run / "model.pt"
    return {
        "run": str(run),
        "artifacts": [
            {"path": str(model), "sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
        ],
    }


def test_a_dp_audits_two_probes_are_found_once_each_and_only_the_dp_model_is_joined(
    tmp_path: Path,
) -> None:
    run, _results = audit_output(tmp_path / "audit")
    rows, links, flags = probe_section([run], [tmp_path / "audit" / "non_dp"], [dp_section(run)])
    assert flags == []
    assert [(r["role"], r["checkpoint"]) for r in rows] == [
        ("model of the DP run", str(run)),
        ("non-DP comparison", None),
    ]
    assert [r["model_hashed_by"] for r in rows] == ["probe", "probe"]
    assert [(link["link"], link["status"]) for link in links] == [("DP run → probe", "ok")]
    assert rows[1]["groups"]["training"]["exact_extraction_rate"] == 30 / 50
    inputs = {r["role"]: r for r in rows[0]["inputs"]}
    assert inputs["probe-corpus"] == {
        "role": "probe-corpus", "path": "train.jsonl", "sha256": "ab" * 32, "sha256_now": None
    }  # fmt: skip
    assert inputs["probe-model"]["sha256_now"] == inputs["probe-model"]["sha256"]
    assert "probe-index" not in inputs
    table = probe_rows(rows)
    assert table[0][1:4] == ["4.0% (2/50)", "5.0% (1/20)", "2.0% (1/50)"]
    assert table[1][5] == "60.0% / 2.0%"
    assert table[1][6] == "above (p = 0.0012)"


def test_a_probe_of_a_retrained_checkpoint_is_a_mismatch(tmp_path: Path) -> None:
    run, _results = audit_output(tmp_path / "audit")
    (run / "model.pt").write_bytes(b"weights of a later run")  # the run's model was replaced
    rows, _links, flags = probe_section([run], [], [dp_section(run)])
    assert [f.code for f in flags] == ["probe_model_mismatch"]
    assert "not the checkpoint of any DP run given" in flags[0].message
    assert rows[0]["checkpoint"] is None


def test_a_probe_without_a_dp_run_or_of_an_unknown_version_is_unverified(
    tmp_path: Path,
) -> None:
    model = tmp_path / "m" / "model.pt"
    model.parent.mkdir()
    model.write_bytes(b"weights")
    write(tmp_path / "p" / "probe.json", result(model, exact=1, verdict="above", version=2))
    rows, _, flags = probe_section([], [tmp_path / "p"], [])
    assert [(f.severity, f.code) for f in flags] == [
        ("warning", "probe_version_unknown"),
        ("warning", "probe_dp_run_missing"),
    ]
    assert len(rows) == 1


def test_a_probe_result_that_predates_recorded_model_hashes_is_hashed_at_build(
    tmp_path: Path,
) -> None:
    run, results = audit_output(tmp_path / "audit")
    old = {k: v for k, v in results["dp"].items() if k not in ("model_files", "inputs")}
    write(tmp_path / "old" / "probe.json", old)
    rows, _links, flags = probe_section([], [tmp_path / "old"], [dp_section(run)])
    assert flags == []
    assert rows[0]["model_hashed_by"] == "build"
    assert [r["role"] for r in rows[0]["inputs"]] == [
        "probe-model",
        "probe-corpus",
        "probe-control",
    ]
