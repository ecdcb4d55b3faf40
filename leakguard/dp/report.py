"""The privacy report: ``privacy_report.json`` for machines, ``PRIVACY.md`` for reviewers.

Pure Python: takes the numbers a run produced and writes them down, with what ε means in
plain words (the bound on an attacker's posterior belief that a unit was in the data).
"""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "library_versions",
    "posterior_bound",
    "probe_sentence",
    "render_privacy_md",
    "unlearned_warning",
    "write_report",
]

REPORT_NAME = "privacy_report.json"
# Median exposure (bits) from which the non-DP reference counts as having memorised canaries.
MEMORISED_BITS = 6.0
MARKDOWN_NAME = "PRIVACY.md"


def library_versions() -> dict[str, str]:
    """Versions of what produced the guarantee (the report must be reproducible)."""
    versions = {"python": platform.python_version()}
    for name in ("leakguard", "torch", "opacus"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def posterior_bound(epsilon: float, prior: float) -> float:
    """Largest posterior an attacker can reach from ``prior`` that a unit was used (δ aside).

    ε-DP bounds the likelihood ratio of any outcome by e^ε, so the posterior odds are at
    most e^ε times the prior odds.
    """
    if math.isinf(epsilon):
        return 1.0
    odds = prior / (1 - prior) * math.exp(epsilon)
    return odds / (1 + odds)


def _pct(p: float) -> str:
    return f"{p:.3%}" if p > 0.999 else f"{p:.1%}"


def _fmt(value: float) -> str:
    return "∞ (no DP guarantee)" if math.isinf(value) else f"{value:.3f}"


def render_privacy_md(report: dict[str, Any]) -> str:
    """The model-card section a privacy officer reads and signs."""
    eps = report["epsilon"]
    unit = report["privacy_unit"]
    if not report["private"]:
        rows = [*_data_rows(report.get("data")), *_loss_rows(report.get("loss"))]
        table = "\n| | |\n|---|---|\n" + "\n".join(rows) + "\n" if rows else ""
        return (
            "## Privacy\n\nThis model was trained **without** differential privacy "
            f"({report['steps']} steps): no privacy guarantee holds for its training data.\n"
            + table
        )
    lines = [
        "## Privacy",
        "",
        "This model was trained with differential privacy "
        f"(DP-SGD, Opacus {report['versions']['opacus']}).",
        "",
        "| | |",
        "|---|---|",
        f"| ε ({report['accountant']} accountant, reported) | {_fmt(eps)} |",
    ]
    for name, value in sorted(report["epsilons"].items()):
        if name != report["accountant"]:
            lines.append(f"| ε ({name} accountant, cross-check) | {_fmt(value)} |")
    lines += [
        f"| target ε | {report['target_epsilon']:g} |",
        f"| δ | {report['delta']:.3g} |",
        f"| privacy unit | {unit}"
        + (f" (at most {report['unit_cap']} examples per user)" if unit == "user" else "")
        + " |",
        f"| noise multiplier σ | {report['noise_multiplier']:.4f} |",
        f"| sampling | Poisson, rate q = {report['sample_rate']:.5f} |",
        f"| steps | {report['steps']} "
        f"(of {report['planned_steps']} planned; {report['stopped']}) |",
        f"| epochs | {report['epochs']:.2f} |",
        f"| clipping norm C | {report['max_grad_norm']:g} |",
        f"| dataset size | {report['dataset_size']} {unit}s, {report['examples']} examples |",
        *_data_rows(report.get("data")),
        *_loss_rows(report.get("loss")),
        f"| per-sample gradient engine | {report['engine']} |",
        *_model_rows(report.get("model")),
        f"| secure RNG | {'on' if report['secure_mode'] else 'off (torch PRNG)'} |",
        "| libraries | " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + " |",
        "",
        "### What this means",
        "",
    ]
    if math.isinf(eps):
        lines.append("σ = 0: no noise was added, so no finite ε holds.")
    else:
        even = posterior_bound(eps, 0.5)
        rare = posterior_bound(eps, 0.01)
        lines += [
            f"Whatever an attacker knows beforehand, seeing this model changes the odds that any "
            f"one {unit} was in the training data by a factor of at most e^ε = {math.exp(eps):.3g} "
            f"(except with probability δ = {report['delta']:.2g}). An attacker who thought "
            f"membership a coin flip (50%) can end up at most {_pct(even)} sure; one who thought "
            f"it a 1-in-100 chance, at most {_pct(rare)} sure.",
            "",
            "The guarantee covers the training data as a whole, for every "
            f"{unit}, against any attacker, and holds for everything computed from the model "
            "afterwards. It does not cover data seen outside this training run (pre-training, "
            "prompts at inference), nor information shared by many units.",
        ]
    lines += ["", *_reading_md(report)]
    audit = report.get("audit")
    if audit:
        lines += ["", *_audit_md(audit)]
    probe = report.get("probe")
    if probe:
        lines += ["", *_probe_md(probe, eps)]
    return "\n".join(lines) + "\n"


def _data_rows(data: dict[str, Any] | None) -> list[str]:
    """Records read, trained on and dropped: nothing leaves the data silently."""
    if not data:
        return []
    dropped = data["dropped"]["over_user_cap"]
    why = (
        f" ({dropped} over the cap of {data['user_cap']} per user: a user's other examples "
        "are left out, which is what bounds their influence)"
        if dropped
        else ""
    )
    return [
        f"| training records | {data['examples_read']} read, {data['examples_used']} trained on, "
        f"{dropped} dropped{why} |"
    ]


def _loss_rows(loss: dict[str, Any] | None) -> list[str]:
    if not loss or not loss.get("examples"):
        return []
    verdict = "" if loss["learned"] else " — **the model learned nothing measurable**"
    return [
        f"| loss (mean of {loss['examples']} training examples) | {loss['initial']:.4f} untrained "
        f"→ {loss['final']:.4f} trained (± {loss['stderr']:.4f}){verdict} |"
    ]


def unlearned_warning(report: dict[str, Any]) -> str | None:
    """The warning for a model whose loss did not move beyond noise, or None."""
    loss = report.get("loss")
    if not loss or not loss.get("examples") or loss["learned"]:
        return None
    return (
        f"the model learned nothing measurable: loss {loss['initial']:.4f} untrained, "
        f"{loss['final']:.4f} trained, a drop within noise (under 1% or 2 x "
        f"{loss['stderr']:.4f}). The "
        "privacy guarantee holds, but the model is no better than untrained: raise the "
        "learning rate, ε or the steps, or lower the noise (the report is written all the same)"
    )


def _reading_md(report: dict[str, Any]) -> list[str]:
    """What each number means, for a reviewer who is not a DP specialist."""
    accountant = report["accountant"]
    others = [name for name in sorted(report["epsilons"]) if name != accountant]
    lines = ["### How to read the numbers", ""]
    if others:
        lines.append(
            f"- **Which ε is the guarantee:** the {accountant} accountant's (the configured "
            "one). The "
            + ", ".join(others)
            + " figure is computed from the same σ, q and steps as a cross-check. The PRV "
            "accountant composes the privacy loss numerically and is tight; RDP converts to "
            "(ε, δ) through a bound with some slack, so an RDP figure above the PRV one is "
            "expected and does not weaken the guarantee."
        )
    lines.append(
        f"- **Epochs {report['epochs']:.2f}:** with Poisson sampling each {report['privacy_unit']} "
        f"joins each step independently with probability q = {report['sample_rate']:.5f}, so "
        f"steps x q = {report['steps']} x {report['sample_rate']:.5f} is the expected number "
        "of passes; the step count is planned from the configured epochs and rounded, and "
        "the batch size varies from step to step. The accounting assumes exactly this sampling."
    )
    lines.append(
        "- **Secure RNG off:** the noise comes from torch's ordinary pseudo-random generator, "
        "seeded for reproducibility. The DP proof assumes true randomness; an attacker who "
        "could reconstruct the generator's state could in principle subtract the noise. "
        "Turn on a cryptographically secure generator (Opacus `secure_mode`, needs "
        "`torchcsprng`) for a model released to untrusted parties."
    )
    loss = report.get("loss")
    if loss and loss.get("examples"):
        lines.append(
            "- **Loss:** the mean next-token (or classification) loss of the same seeded "
            f"{loss['examples']} training examples before and after training; ± is the "
            "standard error of the paired difference. A drop within two standard errors, or "
            "under 1% of the untrained loss, means the model learned nothing measurable. "
            "The loss is not covered by ε: it is computed on training data for this report "
            "only, and says nothing about privacy."
        )
    data = report.get("data")
    if data and data["dropped"]["over_user_cap"]:
        lines.append(
            f"- **Dropped records:** {data['dropped']['over_user_cap']} examples of users with "
            f"more than {data['user_cap']} were left out before training (a seeded choice); "
            "the guarantee counts users, so capping them is what keeps one user's influence "
            "bounded."
        )
    return lines


def _model_rows(model: dict[str, Any] | None) -> list[str]:
    """What was trained: architecture, where from, parameter counts, LoRA, embeddings."""
    if not model:
        return []
    where = f", directory `{model['path']}`" if model.get("path") else ""
    rows = [
        f"| model | {model['architecture']} ({model['kind']}{where}) |",
        f"| parameters | {model['trainable_parameters']:,} trainable of {model['parameters']:,} |",
    ]
    lora = model.get("lora")
    if lora:
        rows.append(
            f"| LoRA | r = {lora['r']}, α = {lora['alpha']:g}, dropout {lora['dropout']:g}, on "
            + ", ".join(lora["target_modules"])
            + f"; {lora['trainable_parameters']:,} adapter parameters |"
        )
    if model.get("embeddings"):
        rows.append(f"| input/output embeddings | {model['embeddings']} |")
    return rows


def _audit_md(audit: dict[str, Any]) -> list[str]:
    dp, plain = audit["dp"], audit["non_dp"]
    dp_bound, plain_bound = dp["one_run"], plain["one_run"]
    return [
        "### Canary audit",
        "",
        f"{audit['canaries']} random secrets ({audit['secret_digits']} digits) were planted, each "
        f"with probability ½ and then {audit['repetitions']} times, from one user each; a DP "
        f"model and a non-DP model were trained side by side on the same data. Exposure "
        f"(Secret Sharer) in bits, estimated against {audit['candidates']} random candidates "
        f"(at most {math.log2(audit['candidates'] + 1):.1f} bits measurable):",
        "",
        "| | DP model | non-DP model |",
        "|---|---|---|",
        f"| median exposure of planted canaries | {dp['median_exposure']:.2f} "
        f"| {plain['median_exposure']:.2f} |",
        f"| max exposure of planted canaries | {dp['max_exposure']:.2f} "
        f"| {plain['max_exposure']:.2f} |",
        f"| one-run ε lower bound ({audit['confidence']:.0%} confidence) "
        f"| {dp_bound['epsilon_lower_bound']:.3f} | {plain_bound['epsilon_lower_bound']:.3f} |",
        "",
        f"With {audit['canaries']} canaries the one-run audit (Steinke, Nasr & Jagielski 2023) "
        f"can certify at most ε ≥ {dp_bound['max_certifiable']:.2f}, even against a model "
        "that leaks every canary. A lower bound near zero for the DP model is what DP predicts; "
        + (
            "the non-DP model's exposure shows that the same canaries, trained the same way "
            "without DP, are memorised: the audit can see leakage when there is some."
            if plain["median_exposure"] >= MEMORISED_BITS
            else "but the non-DP model did not memorise the canaries either (median exposure "
            f"below {MEMORISED_BITS} bits), so this audit could not have seen leakage: "
            "repeat the canaries more often or train longer before relying on it."
        ),
    ]


def _probe_md(probe: dict[str, Any], epsilon: float) -> list[str]:
    """The audit's extraction probe: both models side by side, and what it says next to ε."""
    from leakguard.dp.probe.report import probe_md

    dp, plain = probe["dp"], probe["non_dp"]
    lines = probe_md({"DP model": dp, "non-DP model": plain})
    return [*lines, "", probe_sentence(dp, plain, epsilon)]


def probe_sentence(dp: dict[str, Any], plain: dict[str, Any], epsilon: float) -> str:
    """One plain sentence: does each model recite repeated training records more often than
    it completes records it never saw, and what that means next to ε."""

    def said(result: dict[str, Any]) -> str:
        groups, test = result["groups"], result["comparisons"]["repeated_vs_control"]
        rates = (
            f"{groups['repeated']['exact_extraction_rate']:.1%} of repeated training records "
            f"against {groups['control']['exact_extraction_rate']:.1%} of the control, "
            f"p = {test['p_value']:.2g}"
        )
        if test["verdict"] == "above":
            return f"recites its training data ({rates})"
        if test["verdict"] == "below":
            return f"completes training records less often than unseen ones ({rates})"
        return f"is not distinguishable from the control ({rates})"

    eps = "no finite ε" if math.isinf(epsilon) else f"ε = {epsilon:.3g}"
    dp_leaks = dp["comparisons"]["repeated_vs_control"]["verdict"] == "above"
    plain_leaks = plain["comparisons"]["repeated_vs_control"]["verdict"] == "above"
    if dp_leaks:
        meaning = (
            f"the DP model completes training records more often than unseen ones at {eps}: "
            "text many users share (a template, a common phrase) is learnt legitimately "
            "under DP, text one user repeats is not; see which records and PII it recites "
            "before releasing it"
        )
    elif plain_leaks:
        meaning = (
            f"training with DP ({eps}) removed the recital this probe can see, which is what "
            "ε predicts"
        )
    else:
        meaning = (
            "the non-DP model did not recite either, so this probe could not have seen "
            "leakage here: it neither confirms nor contradicts ε"
        )
    return (
        f"**In plain words:** the non-DP model {said(plain)}; the DP model {said(dp)}: {meaning}."
    )


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``privacy_report.json`` and ``PRIVACY.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / REPORT_NAME
    md_path = out_dir / MARKDOWN_NAME
    payload = {
        k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in report.items()
    }
    json_path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    md_path.write_text(render_privacy_md(report), encoding="utf-8")
    return json_path, md_path
