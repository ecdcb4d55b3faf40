"""``leakguard dp audit`` with the extraction probe (issue 24 item 3): both models probed
with the same prompts, the rates and a stated test in privacy_report.json and PRIVACY.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leakguard.dp.probe.stats import compare, fisher_exact, wilson
from leakguard.dp.report import probe_sentence

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def needs_opacus() -> None:
    pytest.importorskip("opacus")


@pytest.mark.parametrize(
    ("table", "p"),
    [
        # scipy.stats.fisher_exact([[a, n1 - a], [b, n2 - b]]) (scipy 1.17.1)
        ((31, 66, 55, 200), 0.004084045541274544),
        ((47, 100, 27, 100), 0.005222716714814168),
        ((5, 20, 1, 20), 0.1817641817641818),
        ((3, 10, 0, 10), 0.21052631578947367),
        ((0, 66, 0, 200), 1.0),
    ],
)
def test_fisher_exact_matches_scipy(table: tuple[int, int, int, int], p: float) -> None:
    assert fisher_exact(*table) == pytest.approx(p, rel=1e-12)


def test_wilson_interval_and_the_verdicts() -> None:
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775327998628892))
    assert wilson(47, 100) == pytest.approx((0.3751081795934127, 0.5671114302990063))
    above = compare(47, 100, 27, 100)
    assert above.verdict == "above"
    assert above.difference == pytest.approx(0.2)
    low, high = above.difference_ci95
    assert 0 < low < 0.2 < high
    assert compare(27, 100, 47, 100).verdict == "below"
    same = compare(0, 66, 0, 200)
    assert (same.verdict, same.p_value) == ("indistinguishable", 1.0)
    assert compare(5, 20, 1, 20).verdict == "indistinguishable"  # a gap too small to call


def _result(repeated: tuple[int, int], control: tuple[int, int]) -> dict[str, Any]:
    groups = {
        name: {
            "prompts": n,
            "exact_extractions": k,
            "exact_extraction_rate": k / n,
            "exact_extraction_ci95": list(wilson(k, n)),
            "near_extraction_mean_run": 1.0,
        }
        for name, (k, n) in (("training", repeated), ("repeated", repeated), ("control", control))
    }
    c = compare(*repeated, *control).to_dict()
    return {
        "settings": {"prefix_words": 6, "suffix_words": 8, "prefixes": 200, "seed": 0},
        "groups": groups,
        "comparisons": {"training_vs_control": c, "repeated_vs_control": c},
        "sampled": None,
    }


def test_the_plain_sentence_says_what_the_rates_mean_next_to_epsilon() -> None:
    leaky, clean = _result((31, 66), (55, 200)), _result((0, 66), (0, 200))
    text = probe_sentence(clean, leaky, 8.0)
    assert "the non-DP model recites its training data (47.0% of repeated" in text
    assert "the DP model is not distinguishable from the control (0.0%" in text
    assert "training with DP (ε = 8) removed the recital this probe can see" in text
    assert "could not have seen leakage" in probe_sentence(clean, clean, 8.0)
    assert "text one user repeats is not" in probe_sentence(leaky, leaky, 8.0)


@pytest.mark.usefixtures("needs_opacus")
def test_dp_audit_probes_both_models_with_the_same_prompts(tmp_path: Path) -> None:
    from leakguard.cli import main

    rows = [f"hello, user {i % 7} here. my order A{i:06d} has not arrived yet." for i in range(60)]
    (tmp_path / "c.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in rows + rows[:10]), encoding="utf-8"
    )
    control = [
        f"hello, user {i % 7} here. my order B{i:06d} has not arrived yet." for i in range(30)
    ]
    (tmp_path / "held.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in control), encoding="utf-8"
    )
    (tmp_path / "job.yaml").write_text(
        "data: {path: c.jsonl, max_length: 64}\n"
        "model: {d_model: 16, layers: 1, heads: 2}\n"
        "privacy: {accountant: rdp}\n"
        "training: {steps: 2, batch_size: 8, engine: hooks}\n"
        "audit: {canaries: 8, repetitions: 2, secret_digits: 4, candidates: 31,\n"
        "        probe: {control: held.jsonl, prefixes: 20, pii: false}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "audit"
    assert main(["dp", "audit", str(tmp_path / "job.yaml"), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "privacy_report.json").read_text("utf-8"))
    probe = report["probe"]
    for side in ("dp", "non_dp"):
        written = json.loads((out / side / "probe.json").read_text("utf-8"))
        assert written == probe[side]
        assert written["model_files"][0]["path"] == str(out / side / "model.pt")
        assert written["control"] == str(tmp_path / "held.jsonl")
        assert set(written["comparisons"]) == {"training_vs_control", "repeated_vs_control"}
        assert written["groups"]["control"]["prompts"] == 20
        assert written["groups"]["repeated"]["prompts"] == 10
    # Same prompts: the same corpus (with its canaries), control and settings for both.
    assert probe["dp"]["inputs"] == probe["non_dp"]["inputs"]
    assert probe["dp"]["settings"] == probe["non_dp"]["settings"]
    md = (out / "PRIVACY.md").read_text("utf-8")
    assert "### Extraction probe" in md
    assert "| exact extraction | DP model | non-DP model |" in md
    assert "| repeated vs control (Fisher exact) |" in md
    assert "**In plain words:** the non-DP model" in md
    assert "### Extraction probe" in (out / "dp" / "PRIVACY.md").read_text("utf-8")


@pytest.mark.heavy
@pytest.mark.usefixtures("needs_opacus")
def test_the_shipped_audit_shows_recital_without_dp_and_none_with_it(tmp_path: Path) -> None:
    """Done-means of issue 24: on the bundled support chats (planted repeated records), the
    non-DP model's exact extraction of repeated records is above the control, the DP
    model's is not distinguishable from it."""
    from leakguard.cli import main

    out = tmp_path / "audit"
    example = ROOT / "examples" / "dp_tiny_lm.yaml"
    assert main(["dp", "audit", str(example), "--out", str(out), "--quiet"]) == 0
    probe = json.loads((out / "privacy_report.json").read_text("utf-8"))["probe"]
    assert probe["non_dp"]["comparisons"]["repeated_vs_control"]["verdict"] == "above"
    assert probe["dp"]["comparisons"]["repeated_vs_control"]["verdict"] == "indistinguishable"
    assert probe["dp"]["groups"]["repeated"]["pii_recited"] == {}
