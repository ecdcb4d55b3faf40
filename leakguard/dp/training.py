"""``train_private``: DP-SGD with Opacus' PrivacyEngine over Poisson-sampled privacy units.

The loop, in words: every logical step, each privacy unit joins the batch independently
with probability q (:class:`UnitPoissonSampler`); Opacus' ``BatchMemoryManager`` cuts the
batch into physical batches; each example's gradient is clipped to C/k (k = the unit's
example cap, 1 for example-level privacy) so one unit moves the sum by at most C; Gaussian
noise of standard deviation σ·C is added once per logical step; the accountant records
(σ, q) for that step. The number of steps is fixed up front so that ε never exceeds the
target (:func:`leakguard.dp.accounting.plan_privacy`): training stops hard there.

Imports torch and opacus: load it only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from opacus.optimizers import DPOptimizer
from opacus.utils.batch_memory_manager import BatchMemoryManager
from torch import nn

from leakguard._files import replacing
from leakguard.dp.accounting import PrivacyPlan, epsilon, epsilons, plan_privacy
from leakguard.dp.config import PrivacyConfig, TrainingConfig
from leakguard.dp.devices import model_device, resolve_device, to_device
from leakguard.dp.engines import (
    Collate,
    Engine,
    EngineProbe,
    PerSampleLoss,
    Private,
    UnitPoissonSampler,
    check_model,
    clipped_gradient_sum,
    make_loader,
    make_optimizer,
    make_private,
    physical_backward,
    probe_engines,
)
from leakguard.exceptions import TrainingError

__all__ = [
    "EngineProbe",
    "RunSpec",
    "StepInfo",
    "TrainResult",
    "UnitPoissonSampler",
    "clipped_gradient_sum",
    "train_private",
]


@dataclass(frozen=True, slots=True)
class StepInfo:
    """Progress after a logical step; ``epsilon`` is set every few steps (it costs a little)."""

    step: int
    total_steps: int
    loss: float
    epsilon: float | None


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a run did. ``plan`` is ``None`` for a non-private run (ε is then infinite)."""

    plan: PrivacyPlan | None
    steps: int
    # ε per accountant (the configured one and its cross-check), after ``steps`` steps.
    epsilons: dict[str, float]
    engine: str
    # completed: all planned steps; budget: cut short by the ε target; paused: stop_after.
    stopped: Literal["completed", "budget", "paused"]
    final_loss: float
    probe_seconds: dict[str, float] = field(default_factory=dict)
    # Peak GPU memory (MiB over the set-up) per engine and for a non-private step ("plain");
    # empty on the CPU, where the probe only times.
    probe_peak_mib: dict[str, float] = field(default_factory=dict)

    @property
    def epsilon(self) -> float:
        return self.epsilons[self.plan.accountant] if self.plan else math.inf


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything a run is given, fixed before it starts: :func:`train_private`'s arguments
    with the defaults filled in (``units``: one per example) and ``collate`` moving batches to
    ``device``."""

    dataset: Sequence[Any]
    per_sample_loss: PerSampleLoss
    collate: Collate
    privacy: PrivacyConfig
    training: TrainingConfig
    units: list[list[int]]
    checkpoint: Path | None
    resume: bool
    stop_after: int | None
    fingerprint: str
    progress: Callable[[StepInfo], None] | None
    device: torch.device

    @property
    def examples(self) -> int:
        return sum(len(unit) for unit in self.units)


def train_private(
    model: nn.Module,
    dataset: Sequence[Any],
    *,
    per_sample_loss: PerSampleLoss,
    collate: Collate,
    privacy: PrivacyConfig,
    training: TrainingConfig,
    units: Sequence[Sequence[int]] | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    fingerprint: str = "",
    progress: Callable[[StepInfo], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place with DP-SGD (or without, if ``training.private`` is false).

    ``dataset[i]`` is example ``i``; ``collate`` turns a list of examples into a batch and
    ``per_sample_loss`` gives one loss per example of it. ``units`` groups example indices
    into privacy units (default: one per example). ``checkpoint`` is written every
    ``training.checkpoint_every`` steps and at the end; ``resume=True`` continues from it
    (same ``fingerprint`` and plan required), restoring the accountant and the random
    generators, so a resumed run ends with the same ε (and weights) as one without a break;
    resuming a finished run trains nothing and returns its result.
    ``stop_after`` ends the run after that many steps in total (status ``paused``).
    ``training.device`` says where it trains; the model is handed back where it was.
    """
    device = resolve_device(training.device)
    spec = RunSpec(
        dataset=dataset,
        per_sample_loss=per_sample_loss,
        collate=lambda items: to_device(collate(items), device),
        privacy=privacy,
        training=training,
        units=[list(u) for u in units] if units is not None else [[i] for i in range(len(dataset))],
        checkpoint=checkpoint,
        resume=resume,
        stop_after=stop_after,
        fingerprint=fingerprint,
        progress=progress,
        device=device,
    )
    home = model_device(model)
    model.to(device)
    try:
        return _train(model, spec)
    finally:
        model.to(home)


def _train(model: nn.Module, spec: RunSpec) -> TrainResult:
    """The run in named steps: plan, seed, pick the engine, restore, train, check."""
    plan = _plan(model, spec)
    sample_rate = plan.sample_rate if plan else min(1.0, spec.training.batch_size / len(spec.units))
    total = plan.steps if plan else _plain_steps(spec.training, sample_rate)
    torch.manual_seed(spec.training.seed)
    sample_gen = torch.Generator().manual_seed(spec.training.seed)
    noise_gen = torch.Generator(spec.device).manual_seed(spec.training.seed + 1)
    optimizer = make_optimizer(model, spec.training)
    mode, probe = _pick_engine(model, spec, plan)
    start, state = 0, None
    if spec.resume:
        state = _restore(
            model, optimizer, spec, plan=plan, sample_gen=sample_gen, noise_gen=noise_gen
        )
        start = int(state["step"])
        mode = state["engine"] if plan else None
    sampler = UnitPoissonSampler(
        spec.units, sample_rate=sample_rate, steps=total - start, generator=sample_gen
    )
    run = _Run(
        model=model,
        plan=plan,
        total=total,
        step=start,
        checkpoint=spec.checkpoint,
        every=spec.training.checkpoint_every,
        fingerprint=spec.fingerprint,
        progress=spec.progress,
        sample_gen=sample_gen,
        noise_gen=noise_gen,
        engine=mode or "none",
        stop_after=spec.stop_after,
    )
    if start >= total:  # a finished run: nothing left to train
        return _result(run, plan, probe)
    before = _trainable_snapshot(model)
    expected = max(1.0, sample_rate * spec.examples)
    if plan is None:
        run.optimizer = optimizer
        _train_plain(run, spec, sampler=sampler, optimizer=optimizer, expected=expected)
    else:
        assert mode is not None
        _train_dp(
            run,
            spec,
            plan,
            state=state,
            sampler=sampler,
            optimizer=optimizer,
            mode=mode,
            expected=expected,
        )
    if run.step == total:
        _check_moved(model, before)
    return _result(run, plan, probe)


def _plan(model: nn.Module, spec: RunSpec) -> PrivacyPlan | None:
    """The privacy plan (σ, q, steps) of a private run, after checking the model; None if not."""
    if not spec.training.private:
        return None
    plan = plan_privacy(spec.privacy, spec.training, units=len(spec.units), examples=spec.examples)
    check_model(model)
    return plan


def _plain_steps(training: TrainingConfig, sample_rate: float) -> int:
    return training.steps or max(1, math.ceil((training.epochs or 1.0) / sample_rate))


def _pick_engine(
    model: nn.Module, spec: RunSpec, plan: PrivacyPlan | None
) -> tuple[Engine | None, EngineProbe]:
    """The configured engine, or (``auto``) the one the probe picks; a resumed run keeps the
    engine it started with (read from the checkpoint), so it is not probed again."""
    probe = EngineProbe({}, {})
    if plan is None:
        return None, probe
    if spec.training.engine != "auto":
        return spec.training.engine, probe
    if spec.resume:
        return None, probe
    probe = probe_engines(
        model,
        spec.dataset,
        per_sample_loss=spec.per_sample_loss,
        collate=spec.collate,
        training=spec.training,
        plan=plan,
    )
    return probe.pick(spec.training.max_memory_overhead), probe


def _restore(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    spec: RunSpec,
    *,
    plan: PrivacyPlan | None,
    sample_gen: torch.Generator,
    noise_gen: torch.Generator,
) -> dict[str, Any]:
    """Load the checkpoint into the model, optimizer and generators; return its state."""
    state = _load_checkpoint(spec.checkpoint, fingerprint=spec.fingerprint, plan=plan)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    sample_gen.set_state(state["sample_rng"])
    if state.get("device", "cpu") == spec.device.type:
        noise_gen.set_state(state["noise_rng"])
    else:
        # Another device's generator state does not fit this one. Never replay the
        # noise already used (identical noise in two steps would cancel out in their
        # difference): draw from a generator seeded afresh for this step.
        noise_gen.manual_seed(_moved_noise_seed(spec.training.seed, int(state["step"])))
    return state


def _save(path: Path, state: dict[str, Any]) -> None:
    with replacing(path) as tmp:
        torch.save(state, tmp)


def _trainable_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _check_moved(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    """Every trainable tensor must have changed: catches adapters that silently train nothing."""
    params = dict(model.named_parameters())
    frozen = [name for name, old in before.items() if torch.equal(params[name].detach(), old)]
    if frozen:
        shown = ", ".join(frozen[:5]) + (" ..." if len(frozen) > 5 else "")
        raise TrainingError(
            f"{len(frozen)} trainable tensor(s) did not change during training ({shown}): no "
            f"gradient reached them. Check that these layers are used in forward() and that "
            f"Opacus supports them (LoRA adapters must be plain nn.Linear layers)"
        )


@dataclass(slots=True)
class _Run:
    """Mutable state of one run (steps done, running loss); lives only inside train_private."""

    model: nn.Module
    plan: PrivacyPlan | None
    total: int
    step: int
    checkpoint: Path | None
    every: int
    fingerprint: str
    progress: Callable[[StepInfo], None] | None
    sample_gen: torch.Generator
    noise_gen: torch.Generator
    engine: str
    stop_after: int | None
    optimizer: Any = None
    accountant: Any = None
    loss_sum: float = 0.0
    loss_count: int = 0
    last_loss: float = math.nan

    def physical(self, losses: torch.Tensor) -> None:
        self.loss_sum += float(losses.detach().sum())
        self.loss_count += len(losses)

    def finished_step(self) -> bool:
        """Book-keeping after a logical step; True when the run must stop now."""
        self.step += 1
        self.last_loss = self.loss_sum / self.loss_count if self.loss_count else math.nan
        self.loss_sum, self.loss_count = 0.0, 0
        if self.progress is not None:
            every = max(1, self.total // 5)  # PRV ε costs ~1 s: five updates per run
            eps = None
            if self.plan is not None and (self.step % every == 0 or self.step == self.total):
                plan = self.plan
                eps = epsilon(
                    plan.noise_multiplier,
                    plan.sample_rate,
                    self.step,
                    delta=plan.delta,
                    accountant=plan.accountant,
                )
            self.progress(StepInfo(self.step, self.total, self.last_loss, eps))
        if self.every and self.step % self.every == 0:
            self.save()
        return self.stop_after is not None and self.step >= self.stop_after

    def save(self) -> None:
        if self.checkpoint is None:
            return
        optimizer = getattr(self.optimizer, "original_optimizer", self.optimizer)
        _save(
            self.checkpoint,
            {
                "format": 1,
                "fingerprint": self.fingerprint,
                "plan": self.plan.to_dict() if self.plan else None,
                "step": self.step,
                "engine": self.engine,
                "model": self.model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "accountant": self.accountant.state_dict() if self.accountant is not None else None,
                "sample_rng": self.sample_gen.get_state(),
                "noise_rng": self.noise_gen.get_state(),
                "device": self.noise_gen.device.type,
            },
        )


def _moved_noise_seed(seed: int, step: int) -> int:
    digest = hashlib.sha256(f"leakguard-dp-noise:{seed}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _load_checkpoint(
    path: Path | None, *, fingerprint: str, plan: PrivacyPlan | None
) -> dict[str, Any]:
    if path is None or not path.exists():
        raise TrainingError(f"cannot resume: no checkpoint at {str(path)!r}")
    # On the CPU first: a checkpoint written on a GPU resumes on a CPU and the other way round.
    state: dict[str, Any] = torch.load(path, weights_only=True, map_location="cpu")
    if state.get("fingerprint") != fingerprint:
        raise TrainingError(
            f"cannot resume from {str(path)!r}: it was written by another job (config "
            f"fingerprint {state.get('fingerprint')!r}, this job {fingerprint!r}). Use the "
            f"same config, or start afresh in another output directory"
        )
    if state.get("plan") != (plan.to_dict() if plan else None):
        raise TrainingError(
            f"cannot resume from {str(path)!r}: its privacy plan differs from this run's "
            f"(data or privacy settings changed); resuming would misreport ε"
        )
    return state


def _train_dp(
    run: _Run,
    spec: RunSpec,
    plan: PrivacyPlan,
    *,
    state: dict[str, Any] | None,
    sampler: UnitPoissonSampler,
    optimizer: torch.optim.Optimizer,
    mode: Engine,
    expected: float,
) -> None:
    """Wrap the model privately (restoring the accountant of a resumed run), then train."""
    loader = make_loader(spec.dataset, sampler, spec.collate)
    private = make_private(
        run.model,
        optimizer,
        loader,
        noise_multiplier=plan.noise_multiplier,
        max_grad_norm=plan.max_grad_norm,
        unit_cap=plan.unit_cap,
        mode=mode,
        accountant=plan.accountant,
        generator=run.noise_gen,
    )
    accountant = private.engine.accountant
    if state is not None:
        accountant.load_state_dict(state["accountant"])
    run.optimizer = private.optimizer
    run.accountant = accountant
    private.optimizer.expected_batch_size = expected

    def account(_: DPOptimizer) -> None:
        # The true σ and the unit sample rate (not Opacus' per-example defaults).
        accountant.step(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate)

    private.optimizer.attach_step_hook(account)
    try:
        _dp_loop(run, loader=loader, private=private, mode=mode, spec=spec)
    finally:
        private.cleanup()


def _dp_loop(
    run: _Run,
    *,
    loader: Any,
    private: Private,
    mode: Engine,
    spec: RunSpec,
) -> None:
    optimizer = private.optimizer
    with BatchMemoryManager(
        data_loader=loader,
        max_physical_batch_size=spec.training.max_physical_batch_size,
        optimizer=optimizer,
    ) as physical_loader:
        for batch in physical_loader:
            losses = spec.per_sample_loss(run.model, batch)
            run.physical(losses)
            physical_backward(mode, private, losses)
            accounted = _accounted_steps(run.accountant)
            optimizer.step()
            optimizer.zero_grad()
            # The accountant hook fires exactly once per finished logical step.
            if _accounted_steps(run.accountant) > accounted and run.finished_step():
                break
    run.save()


def _accounted_steps(accountant: Any) -> int:
    return sum(int(n) for _, _, n in accountant.history)


def _train_plain(
    run: _Run,
    spec: RunSpec,
    *,
    sampler: UnitPoissonSampler,
    optimizer: torch.optim.Optimizer,
    expected: float,
) -> None:
    """The same sampler and physical batches, no clipping and no noise (baselines, audits)."""
    size = spec.training.max_physical_batch_size
    for indices in sampler:
        for start in range(0, len(indices), size):
            chunk = [spec.dataset[i] for i in indices[start : start + size]]
            losses = spec.per_sample_loss(run.model, spec.collate(chunk))
            run.physical(losses)
            torch.autograd.backward(losses.sum() / expected)
        optimizer.step()
        optimizer.zero_grad()
        if run.finished_step():
            break
    run.save()


def _result(run: _Run, plan: PrivacyPlan | None, probe: EngineProbe) -> TrainResult:
    if plan is None:
        stopped: Literal["completed", "budget", "paused"] = (
            "completed" if run.step == run.total else "paused"
        )
        return TrainResult(None, run.step, {}, "none", stopped, run.last_loss)
    if run.step < run.total:
        stopped = "paused"
    else:
        stopped = "budget" if plan.steps < plan.planned_steps else "completed"
    return TrainResult(
        plan,
        run.step,
        epsilons(plan, run.step),
        run.engine,
        stopped,
        run.last_loss,
        probe.seconds,
        probe.peak_mib,
    )
