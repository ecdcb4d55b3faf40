"""The two ready tasks behind ``leakguard dp train``: causal-LM fine-tuning (the built-in
small transformer, or a Hugging Face model from a local directory: :mod:`leakguard.dp.hf`) and
text classification on the built-in model, from a :class:`DPConfig` to an output directory
with the model, the resumable checkpoint, ``privacy_report.json`` and ``PRIVACY.md``.

Imports torch: load it only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from leakguard.config import config_fingerprint
from leakguard.dp.config import DPConfig, HFModelConfig
from leakguard.dp.data import (
    PAD,
    VOCAB_SIZE,
    Example,
    decode,
    encode,
    privacy_units,
    read_examples,
)
from leakguard.dp.models import TinyClassifier, TinyLM, apply_trainable
from leakguard.dp.report import REPORT_NAME, library_versions, write_report
from leakguard.dp.training import StepInfo, TrainResult, train_private
from leakguard.exceptions import TrainingError

__all__ = [
    "JobResult",
    "LossCheck",
    "Task",
    "build_task",
    "data_counts",
    "finished_run",
    "generate",
    "lm_collate",
    "lm_losses",
    "load_model",
    "loss_check",
    "run_training",
    "sequence_nll",
]

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
HF_MODEL_DIR = "model"  # save_pretrained output of a Hugging Face model (LoRA: the adapter)
# What a run writes into its --out directory (a second run must not overwrite them unasked).
RUN_OUTPUTS = (CHECKPOINT_NAME, MODEL_NAME, HF_MODEL_DIR, "privacy_report.json", "PRIVACY.md")
MIN_RELATIVE_DROP = 0.01  # a loss that fell less than this share did not learn
LOSS_SAMPLE = 256  # examples the initial/final loss is measured on (seeded, fixed per run)


def lm_collate(items: list[list[int]]) -> torch.Tensor:
    """Right-padded token ids [B, T]; an empty batch (Poisson can draw one) is [0, 2]."""
    width = max((len(ids) for ids in items), default=2)
    batch = torch.full((len(items), width), PAD, dtype=torch.long)
    for row, ids in enumerate(items):
        batch[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return batch


def lm_losses(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss of each sequence, shape [B]."""
    logits = model(ids)[:, :-1]
    targets = ids[:, 1:]
    real = (targets != PAD).to(logits.dtype)
    nll = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1), reduction="none")
    return (nll.view_as(real) * real).sum(1) / real.sum(1).clamp(min=1.0)


def cls_collate(items: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor]:
    ids = lm_collate([tokens for tokens, _ in items])
    return ids, torch.tensor([label for _, label in items], dtype=torch.long)


def cls_losses(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    ids, labels = batch
    return F.cross_entropy(model(ids), labels, reduction="none")


@dataclass(frozen=True, slots=True)
class Task:
    """A model with its data in the shape :func:`train_private` takes."""

    model: nn.Module
    dataset: Sequence[Any]
    units: list[list[int]]
    collate: Callable[[list[Any]], Any]
    per_sample_loss: Callable[[nn.Module, Any], torch.Tensor]
    labels: tuple[str, ...]
    # What the report says about the model (kind, architecture, parameter counts, LoRA).
    info: dict[str, Any] = field(default_factory=dict)
    # Hugging Face models only: saved next to the model.
    tokenizer: Any = None


def _model_info(model: nn.Module) -> dict[str, Any]:
    return {
        "kind": "builtin",
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def _hf_task(config: DPConfig, examples: Sequence[Example], units: list[list[int]]) -> Task:
    from leakguard.dp.hf import HFCollate, dataset_ids, hf_losses, load_hf

    assert isinstance(config.model, HFModelConfig)
    loaded = load_hf(config.model, seed=config.training.seed)
    tokenizer = loaded.tokenizer
    dataset = dataset_ids(tokenizer, [e.text for e in examples], max_length=config.data.max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return Task(loaded.model, dataset, units, HFCollate(pad), hf_losses, (), loaded.info, tokenizer)


def build_task(config: DPConfig, examples: Sequence[Example]) -> Task:
    """The model for ``config.task`` (built-in, or a local Hugging Face model) and its
    tokenized examples."""
    torch.manual_seed(config.training.seed)
    length = config.data.max_length
    units = privacy_units(
        examples,
        unit=config.privacy.unit,
        max_per_user=config.privacy.max_examples_per_user,
        seed=config.training.seed,
    )
    if isinstance(config.model, HFModelConfig):
        return _hf_task(config, examples, units)
    model: TinyLM | TinyClassifier
    if config.task == "causal_lm":
        model = TinyLM(config.model, max_length=length)
        apply_trainable(model, config.model)
        dataset: list[Any] = [encode(e.text, max_length=length) for e in examples]
        return Task(model, dataset, units, lm_collate, lm_losses, (), _model_info(model))
    labels = tuple(sorted({e.label for e in examples if e.label is not None}))
    index = {label: i for i, label in enumerate(labels)}
    model = TinyClassifier(config.model, max_length=length, classes=len(labels))
    apply_trainable(model, config.model)
    dataset = [(encode(e.text, max_length=length), index[e.label or ""]) for e in examples]
    return Task(model, dataset, units, cls_collate, cls_losses, labels, _model_info(model))


@dataclass(frozen=True, slots=True)
class LossCheck:
    """Mean loss of a fixed sample of training examples before and after training.

    ``learned`` is False when the drop is within noise: below two standard errors of the
    paired per-example differences, or below 1% of the untrained loss (a model that moved
    that little is, for any use, no better than untrained).
    """

    initial: float
    final: float
    stderr: float
    examples: int

    @property
    def learned(self) -> bool:
        drop = self.initial - self.final
        return drop > 2 * self.stderr and drop > MIN_RELATIVE_DROP * self.initial

    def to_dict(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "final": self.final,
            "stderr": self.stderr,
            "examples": self.examples,
            "learned": self.learned,
        }


def loss_sample(task: Task, seed: int) -> list[int]:
    """Indices of the examples the loss check uses: a seeded sample of the trained ones."""
    used = sorted({i for unit in task.units for i in unit})
    rng = random.Random(seed + 3_000_017)
    return sorted(rng.sample(used, min(LOSS_SAMPLE, len(used))))


@torch.no_grad()
def sample_losses(task: Task, indices: Sequence[int], *, batch_size: int = 64) -> list[float]:
    """The per-example loss of ``task.model`` on ``indices`` (eval mode, no gradients)."""
    model = task.model
    was_training = model.training
    model.eval()
    losses: list[float] = []
    try:
        for start in range(0, len(indices), batch_size):
            batch = task.collate([task.dataset[i] for i in indices[start : start + batch_size]])
            losses.extend(float(v) for v in task.per_sample_loss(model, batch))
    finally:
        model.train(was_training)
    return losses


def loss_check(initial: Sequence[float], final: Sequence[float]) -> LossCheck:
    n = len(initial)
    if n == 0:
        return LossCheck(math.nan, math.nan, math.nan, 0)
    diffs = [a - b for a, b in zip(initial, final, strict=True)]
    stderr = statistics.stdev(diffs) / math.sqrt(n) if n > 1 else math.inf
    return LossCheck(statistics.fmean(initial), statistics.fmean(final), stderr, n)


def data_counts(config: DPConfig, examples: Sequence[Example], task: Task) -> dict[str, Any]:
    """Records read, used and dropped (per reason): what the report must account for."""
    used = sum(len(unit) for unit in task.units)
    counts: dict[str, Any] = {
        "examples_read": len(examples),
        "examples_used": used,
        "dropped": {"over_user_cap": len(examples) - used},
    }
    if config.privacy.unit == "user":
        counts["user_cap"] = config.privacy.max_examples_per_user
        counts["users"] = len(task.units)
    return counts


def finished_run(out_dir: Path) -> dict[str, Any] | None:
    """The report of a run in ``out_dir`` that has nothing left to do (completed or stopped
    by its ε budget); None when there is none, or it was paused."""
    path = out_dir / REPORT_NAME
    if not path.is_file():
        return None
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if report.get("stopped") in ("completed", "budget") else None


def check_out_dir(out_dir: Path, *, resume: bool) -> None:
    """Refuse to overwrite an earlier run unasked, and to 'resume' one that is complete."""
    if resume:
        if finished_run(out_dir) is not None:
            raise TrainingError(
                f"the run in {str(out_dir)!r} is complete: nothing to resume (train into "
                f"another --out directory to start afresh)"
            )
        return
    found = sorted(name for name in RUN_OUTPUTS if (out_dir / name).exists())
    if found:
        raise TrainingError(
            f"--out {str(out_dir)!r} already holds a run ({', '.join(found)}): pass --resume "
            f"to continue it, or choose another directory"
        )


@dataclass(frozen=True, slots=True)
class JobResult:
    """Where the outputs went and what training did."""

    out_dir: Path
    train: TrainResult
    report: dict[str, Any]
    model: nn.Module
    # model.pt, or the save_pretrained directory of a Hugging Face model.
    model_path: Path | None = None


def job_fingerprint(config: DPConfig) -> str:
    return config_fingerprint(config)


def make_report(
    config: DPConfig,
    result: TrainResult,
    task: Task,
    *,
    data: dict[str, Any] | None = None,
    loss: LossCheck | None = None,
) -> dict[str, Any]:
    plan = result.plan
    steps = result.steps
    versions = library_versions()
    if task.info.get("kind") == "hf":
        for name in ("transformers", "peft"):
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                versions[name] = "not installed"
    report: dict[str, Any] = {
        "task": config.task,
        "private": plan is not None,
        "epsilon": result.epsilon,
        "epsilons": result.epsilons,
        "target_epsilon": config.privacy.target_epsilon,
        "accountant": config.privacy.accountant,
        "max_grad_norm": config.privacy.max_grad_norm,
        "privacy_unit": config.privacy.unit,
        "steps": steps,
        "engine": result.engine,
        "engine_probe_seconds": result.probe_seconds,
        "engine_probe_peak_mib": result.probe_peak_mib,
        "stopped": result.stopped,
        "secure_mode": False,
        "versions": versions,
        "model": task.info,
        "config_fingerprint": job_fingerprint(config),
        "final_loss": result.final_loss,
    }
    if data is not None:
        report["data"] = data
    if loss is not None:
        report["loss"] = loss.to_dict()
    if plan is not None:
        report |= {
            "delta": plan.delta,
            "noise_multiplier": plan.noise_multiplier,
            "sample_rate": plan.sample_rate,
            "planned_steps": plan.planned_steps,
            "epochs": steps * plan.sample_rate,
            "dataset_size": plan.units,
            "examples": plan.examples,
            "unit_cap": plan.unit_cap,
        }
    return report


def save_model(model: nn.Module, config: DPConfig, task: Task, path: Path) -> None:
    torch.save(
        {
            "task": config.task,
            "model": config.model.model_dump(mode="json"),
            "max_length": config.data.max_length,
            "labels": list(task.labels),
            "state_dict": model.state_dict(),
        },
        path,
    )


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A model written by :func:`run_training`, in eval mode, with its saved metadata."""
    from leakguard.dp.config import ModelConfig

    saved: dict[str, Any] = torch.load(Path(path), weights_only=True)
    config = ModelConfig.model_validate(saved["model"])
    model: nn.Module
    if saved["task"] == "causal_lm":
        model = TinyLM(config, max_length=saved["max_length"])
    else:
        model = TinyClassifier(config, max_length=saved["max_length"], classes=len(saved["labels"]))
    apply_trainable(model, config)  # same module structure (LoRA) as when it was saved
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, saved


@torch.no_grad()
def sequence_nll(
    model: nn.Module, texts: Sequence[str], *, skip: int, max_length: int, batch_size: int = 512
) -> list[float]:
    """Total next-token NLL (nats) of each text, counting only bytes after the first ``skip``.

    With ``skip`` = the byte length of a shared prefix, this is the log-perplexity of the
    secret part given the prefix: the score exposure ranks by.
    """
    model.eval()
    scores: list[float] = []
    for start in range(0, len(texts), batch_size):
        ids = lm_collate(
            [encode(t, max_length=max_length)[:-1] for t in texts[start : start + batch_size]]
        )
        logits = model(ids)[:, :-1]
        targets = ids[:, 1:]
        nll = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1), reduction="none")
        nll = nll.view_as(targets)
        keep = (targets != PAD).clone()
        keep[:, :skip] = False  # target j is byte j of the text (ids[0] is BOS)
        scores.extend((nll * keep).sum(1).tolist())
    return scores


@torch.no_grad()
def generate(model: nn.Module, prompt: str, *, max_new: int, max_length: int) -> str:
    """Greedy continuation of ``prompt`` (bytes), stopping at EOS: what a user would see."""
    model.eval()
    ids = encode(prompt, max_length=max_length)[:-1]  # drop EOS: we continue the text
    new: list[int] = []
    for _ in range(max_new):
        if len(ids) >= max_length:
            break
        token = int(model(torch.tensor([ids]))[0, -1].argmax())
        if token >= 256:
            break
        ids.append(token)
        new.append(token)
    return decode(new)


def run_training(
    config: DPConfig,
    *,
    out_dir: Path,
    resume: bool = False,
    stop_after: int | None = None,
    progress: Callable[[StepInfo], None] | None = None,
    examples: Sequence[Example] | None = None,
) -> JobResult:
    """Train per ``config`` and write model, checkpoint and privacy report into ``out_dir``."""
    if examples is None:
        examples = read_examples(
            config.data,
            need_label=config.task == "classification",
            need_user=config.privacy.unit == "user",
        )
    check_out_dir(out_dir, resume=resume)
    task = build_task(config, examples)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The fresh model is the same on a resumed run (seeded): its loss is the untrained loss.
    probe = loss_sample(task, config.training.seed)
    initial = sample_losses(task, probe)
    result = train_private(
        task.model,
        task.dataset,
        per_sample_loss=task.per_sample_loss,
        collate=task.collate,
        privacy=config.privacy,
        training=config.training,
        units=task.units,
        checkpoint=out_dir / CHECKPOINT_NAME,
        resume=resume,
        stop_after=stop_after,
        fingerprint=job_fingerprint(config),
        progress=progress,
    )
    if task.tokenizer is not None:
        from leakguard.dp.hf import save_hf

        model_path = save_hf(task.model, task.tokenizer, out_dir / HF_MODEL_DIR)
    else:
        model_path = out_dir / MODEL_NAME
        save_model(task.model, config, task, model_path)
    loss = loss_check(initial, sample_losses(task, probe))
    report = make_report(config, result, task, data=data_counts(config, examples, task), loss=loss)
    write_report(report, out_dir)
    return JobResult(out_dir, result, report, task.model, model_path)
