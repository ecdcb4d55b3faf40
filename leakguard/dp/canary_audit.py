"""``leakguard dp audit``: plant canaries, train a DP and a non-DP model side by side,
measure each canary's exposure and the one-run ε lower bound, and add it to PRIVACY.md.

Each of ``audit.canaries`` random secrets (``prefix`` + digits) enters the training data
with probability ½ (the one-run audit's coin), then ``audit.repetitions`` times, all from
one synthetic user ``canary-<i>``: under user-level privacy the per-user cap applies to it.
Imports torch: load it only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from leakguard.dp.canary import exposure, make_secrets, one_run_audit
from leakguard.dp.config import DPConfig
from leakguard.dp.data import Example, read_examples
from leakguard.dp.jobs import JobResult, run_training, sequence_nll
from leakguard.dp.report import write_report
from leakguard.dp.training import StepInfo
from leakguard.exceptions import ConfigError, TrainingError

__all__ = ["AuditResult", "plant_canaries", "probe_both", "run_audit", "score_canaries"]

AUDIT_NAME = "audit.json"


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Both runs and the audit numbers (as written into the report); ``probe``: both
    models' extraction probe results (``audit.probe``), or None."""

    dp: JobResult
    non_dp: JobResult
    audit: dict[str, Any]
    probe: dict[str, Any] | None = None


def plant_canaries(
    examples: Sequence[Example], config: DPConfig
) -> tuple[list[Example], list[str], list[bool]]:
    """The training data with canaries added, the secrets, and which ones were planted."""
    audit = config.audit
    rng = random.Random(config.training.seed + 1_000_003)
    secrets = make_secrets(audit.canaries, digits=audit.secret_digits, rng=rng)
    included = [rng.random() < 0.5 for _ in secrets]
    planted = list(examples)
    for i, (secret, inside) in enumerate(zip(secrets, included, strict=True)):
        if inside:
            planted += [Example(audit.prefix + secret, user=f"canary-{i}")] * audit.repetitions
    return planted, secrets, included


def score_canaries(
    model: nn.Module,
    config: DPConfig,
    secrets: Sequence[str],
    included: Sequence[bool],
    *,
    delta: float,
) -> dict[str, Any]:
    """Exposure of every canary and the one-run bound, for one model."""
    audit = config.audit
    rng = random.Random(config.training.seed + 2_000_003)
    taken = set(secrets)
    candidates: list[str] = []
    while len(candidates) < audit.candidates:
        secret = str(rng.randrange(10**audit.secret_digits)).zfill(audit.secret_digits)
        if secret not in taken:
            candidates.append(secret)
    skip = len(audit.prefix.encode("utf-8"))
    length = config.data.max_length

    def nll(texts: list[str]) -> list[float]:
        return sequence_nll(model, [audit.prefix + t for t in texts], skip=skip, max_length=length)

    reference = nll(candidates)
    scores = nll(list(secrets))
    exposures = [exposure(s, reference) for s in scores]
    planted = [e.bits for e, inside in zip(exposures, included, strict=True) if inside]
    return {
        "median_exposure": statistics.median(planted) if planted else 0.0,
        "max_exposure": max(planted, default=0.0),
        "exposures": [
            {"canary": i, "planted": inside, **e.to_dict()}
            for i, (e, inside) in enumerate(zip(exposures, included, strict=True))
        ],
        # Lower log-perplexity means "more likely planted": the guess ranks by its negative.
        "one_run": one_run_audit(
            [-s for s in scores],
            included,
            delta=delta,
            confidence=audit.confidence,
        ).to_dict(),
    }


def run_audit(
    config: DPConfig,
    *,
    out_dir: Path,
    progress: Callable[[str, StepInfo], None] | None = None,
    probe_progress: Callable[[str, int, int, int], None] | None = None,
) -> AuditResult:
    """Train DP and non-DP on the data plus canaries; write both models and the audit.

    With ``audit.probe``, both models are probed with the same prompts (their training
    data, canaries included, and the control): ``dp/probe.json`` and ``non_dp/probe.json``,
    and both under ``probe`` in ``privacy_report.json`` and PRIVACY.md. ``probe_progress``
    gets (model, prompts done, prompts in all, prompts resumed)."""
    if config.task != "causal_lm":
        raise ConfigError("the canary audit needs task: causal_lm (canaries are text secrets)")
    if config.model.kind != "builtin":
        raise ConfigError(
            "the canary audit scores canaries with the built-in byte-level model; it does not "
            "support model.kind 'hf' yet"
        )
    held = [name for name in ("dp", "non_dp", AUDIT_NAME) if (out_dir / name).exists()]
    if held:
        raise TrainingError(
            f"--out {str(out_dir)!r} already holds an audit ({', '.join(held)}): choose another "
            f"directory (an audit is not resumed)"
        )
    examples = read_examples(config.data, need_label=False, need_user=config.privacy.unit == "user")
    planted, secrets, included = plant_canaries(examples, config)

    def report_to(name: str) -> Callable[[StepInfo], None] | None:
        return None if progress is None else (lambda info: progress(name, info))

    dp = run_training(config, out_dir=out_dir / "dp", examples=planted, progress=report_to("dp"))
    # The baseline is ordinary training: no noise, no clipping, no per-user cap.
    plain_config = config.model_copy(
        update={
            "training": config.training.model_copy(update={"private": False}),
            "privacy": config.privacy.model_copy(update={"unit": "example"}),
        }
    )
    non_dp = run_training(
        plain_config, out_dir=out_dir / "non_dp", examples=planted, progress=report_to("non-DP")
    )
    # Both models are tested against the guarantee the DP run claims (its δ).
    delta = float(dp.report["delta"])
    audit = {
        "canaries": len(secrets),
        "planted": sum(included),
        "repetitions": config.audit.repetitions,
        "secret_digits": config.audit.secret_digits,
        "candidates": config.audit.candidates,
        "confidence": config.audit.confidence,
        "dp": score_canaries(dp.model, config, secrets, included, delta=delta),
        "non_dp": score_canaries(non_dp.model, config, secrets, included, delta=delta),
    }
    report = dp.report | {"audit": _summary(audit)}
    if config.audit.probe is not None:
        texts = [e.text for e in planted]
        report["probe"] = probe_both(config, texts, out_dir=out_dir, progress=probe_progress)
    write_report(report, out_dir)
    write_report(report, out_dir / "dp")
    (out_dir / AUDIT_NAME).write_text(json.dumps(audit, indent=2) + "\n", encoding="utf-8")
    return AuditResult(dp, non_dp, audit, report.get("probe"))


def _summary(audit: dict[str, Any]) -> dict[str, Any]:
    """The audit without the per-canary list (that stays in audit.json)."""
    return {
        **{k: v for k, v in audit.items() if k not in ("dp", "non_dp")},
        **{
            side: {k: v for k, v in audit[side].items() if k != "exposures"}
            for side in ("dp", "non_dp")
        },
    }


def probe_both(
    config: DPConfig,
    training_texts: Sequence[str],
    *,
    out_dir: Path,
    progress: Callable[[str, int, int, int], None] | None = None,
) -> dict[str, Any]:
    """The extraction probe of ``out_dir/dp`` and ``out_dir/non_dp`` (same prompts), each
    written beside its model; both results, as ``privacy_report.json`` holds them."""
    from leakguard.dp.probe import ProbeSettings, run_probe, write_probe

    probe = config.audit.probe
    assert probe is not None
    settings = ProbeSettings(
        prefixes=probe.prefixes,
        prefix_words=probe.prefix_words,
        suffix_words=probe.suffix_words,
        seed=probe.seed,
        batch_size=probe.batch_size,
    )
    results: dict[str, Any] = {}
    for side in ("dp", "non_dp"):

        def report_to(done: int, total: int, resumed: int, side: str = side) -> None:
            if progress is not None:
                progress(side, done, total, resumed)

        results[side] = run_probe(
            out_dir / side,
            corpus=config.data.path,
            control=probe.control,
            field=probe.text_field,
            settings=settings,
            device=config.training.device,
            pii=probe.pii,
            progress=report_to,
            training_texts=training_texts,
        )
        write_probe(results[side], out_dir / side)
    return results
