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

import copy
import hashlib
import math
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from opacus import PrivacyEngine
from opacus.optimizers import DPOptimizer
from opacus.utils.batch_memory_manager import BatchMemoryManager
from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping
from opacus.validators import ModuleValidator
from torch import nn
from torch.utils.data import DataLoader, Sampler

from leakguard._files import replacing
from leakguard.dp.accounting import PrivacyPlan, epsilon, epsilons, plan_privacy
from leakguard.dp.config import PrivacyConfig, TrainingConfig
from leakguard.dp.devices import model_device, resolve_device, to_device
from leakguard.dp.grad_sample import OutputGradSampler, supports
from leakguard.exceptions import ConfigError, IncompatibleModelError, TrainingError

__all__ = [
    "EngineProbe",
    "StepInfo",
    "TrainResult",
    "UnitPoissonSampler",
    "clipped_gradient_sum",
    "train_private",
]

Engine = Literal["hooks", "ghost"]
# Per-sample losses, shape [B], for a collated physical batch of B examples.
PerSampleLoss = Callable[[nn.Module, Any], torch.Tensor]
Collate = Callable[[list[Any]], Any]

PROBE_STEPS = 3  # timed physical steps per engine when engine is "auto" (after one warm-up)
_SECURE_RNG_WARNING = "Secure RNG turned off"


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


class UnitPoissonSampler(Sampler[list[int]]):
    """Poisson sampling over privacy units: each unit joins each batch independently with
    probability ``sample_rate``; a batch is the union of the chosen units' examples.

    With one example per unit this is Opacus' ``UniformWithReplacementSampler``. It is the
    sampling the accountants assume (the Sampled Gaussian Mechanism).
    """

    def __init__(
        self,
        units: Sequence[Sequence[int]],
        *,
        sample_rate: float,
        steps: int,
        generator: torch.Generator,
    ) -> None:
        self.units = [list(u) for u in units]
        self.sample_rate = sample_rate
        self.steps = steps
        self.generator = generator

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.steps):
            chosen = torch.rand(len(self.units), generator=self.generator) < self.sample_rate
            yield [i for u in chosen.nonzero().flatten().tolist() for i in self.units[u]]


def _check_model(model: nn.Module) -> None:
    problems = [str(e) for e in ModuleValidator.validate(model, strict=False)]
    if problems:
        raise IncompatibleModelError(problems)
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError("the model has no trainable parameters: nothing to train")


def _optimizer(model: nn.Module, training: TrainingConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if training.optimizer == "sgd":
        return torch.optim.SGD(params, lr=training.learning_rate, momentum=0.9)
    return torch.optim.Adam(params, lr=training.learning_rate)


@dataclass(slots=True)
class _Private:
    hooks: Any
    optimizer: DPOptimizer
    engine: PrivacyEngine
    # Hooks mode on layers leakguard.dp.grad_sample handles: per-sample gradients without
    # the ordinary weight gradients (Opacus then runs in its no_op mode: clip and noise only).
    sampler: OutputGradSampler | None = None

    def cleanup(self) -> None:
        if self.sampler is not None:
            self.sampler.remove()
        self.hooks.cleanup()


def _make_private(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader[Any],
    *,
    noise_multiplier: float,
    max_grad_norm: float,
    unit_cap: int,
    mode: Engine,
    accountant: str,
    generator: torch.Generator,
) -> _Private:
    with warnings.catch_warnings():
        # secure_mode needs torchcsprng; the report states that it is off.
        warnings.filterwarnings("ignore", message=_SECURE_RNG_WARNING)
        engine = PrivacyEngine(accountant=accountant)
    direct = mode == "hooks" and supports(model)
    try:
        hooks, dp_optimizer, *_ = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            # Clip each example to C/k; noise σ·C = (σ·k)·(C/k). A unit moves the sum ≤ C.
            noise_multiplier=noise_multiplier * unit_cap,
            max_grad_norm=max_grad_norm / unit_cap,
            # The loader already samples (Poisson over units); Opacus must not replace it.
            poisson_sampling=False,
            grad_sample_mode="no_op" if direct else mode,
            # Hooks on the model itself: the caller keeps a plain module (HF-friendly).
            wrap_model=False,
            noise_generator=generator,
        )
    except NotImplementedError as exc:
        raise IncompatibleModelError([str(exc)]) from None
    return _Private(hooks, dp_optimizer, engine, OutputGradSampler(model) if direct else None)


def _backward(mode: Engine | None, private: _Private | None, losses: torch.Tensor) -> None:
    """One physical batch. Loss is the mean over the batch, as Opacus' 'mean' reduction expects
    (our own sampler takes the per-sample losses and needs no rescaling)."""
    if private is not None and private.sampler is not None:
        private.sampler.backward(losses)
        return
    with warnings.catch_warnings():
        # Opacus' hooks on the first layer (an Embedding, whose integer input needs no
        # gradient) make torch note that the hook sees module outputs only: expected here.
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        if mode == "ghost" and private is not None:
            DPTensorFastGradientClipping(
                private.hooks, private.optimizer, losses, "mean"
            ).backward()
        else:
            torch.autograd.backward(losses.sum() / max(len(losses), 1))


def _loader(
    dataset: Sequence[Any], sampler: Sampler[list[int]], collate: Collate
) -> DataLoader[Any]:
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)  # type: ignore[arg-type]


def _one_batch_private(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    items: Sequence[Any],
    collate: Collate,
    *,
    noise_multiplier: float,
    max_grad_norm: float,
    mode: Engine,
    unit_cap: int = 1,
) -> _Private:
    """The trainer's private wrapping for one fixed batch (every item sampled, one step):
    used to check clipping, to probe engines and by the step benchmark."""
    sampler = UnitPoissonSampler(
        [[i] for i in range(len(items))], sample_rate=1.0, steps=1, generator=torch.Generator()
    )
    private = _make_private(
        model,
        optimizer,
        _loader(items, sampler, collate),
        noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm,
        unit_cap=unit_cap,
        mode=mode,
        accountant="rdp",
        generator=torch.Generator(model_device(model)),
    )
    private.optimizer.expected_batch_size = len(items)
    return private


def clipped_gradient_sum(
    model: nn.Module,
    items: Sequence[Any],
    *,
    per_sample_loss: PerSampleLoss,
    collate: Collate,
    max_grad_norm: float,
    mode: Engine,
) -> list[torch.Tensor]:
    """The sum of per-example clipped gradients Opacus computes for one batch, without noise.

    Runs the trainer's own physical-step path (``_make_private`` and ``_backward``) with
    σ = 0 and returns the un-scaled sum per trainable parameter; the model is left as it was.
    """
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.0)
    private = _one_batch_private(
        model,
        optimizer,
        items,
        collate,
        noise_multiplier=0.0,
        max_grad_norm=max_grad_norm,
        mode=mode,
    )
    try:
        _backward(mode, private, per_sample_loss(model, collate(list(items))))
        private.optimizer.pre_step()
        return [p.grad.detach() * len(items) for p in private.optimizer.params]
    finally:
        private.optimizer.zero_grad()
        private.cleanup()


@dataclass(frozen=True, slots=True)
class EngineProbe:
    """What the short probe of ``engine: auto`` measured: median seconds per physical step
    of each engine and, on a GPU, peak memory (MiB over the set-up) of each engine and of a
    non-private step (``plain``)."""

    seconds: dict[str, float]
    peak_mib: dict[str, float]

    def pick(self, max_memory_overhead: float | None) -> Engine:
        """The fastest engine; with a memory limit (and GPU figures), the fastest whose peak
        stays within ``(1 + max_memory_overhead)`` times the non-private step's, or, if none
        does, the one with the lowest peak."""
        engines: list[Engine] = ["hooks", "ghost"]
        if max_memory_overhead is not None and self.peak_mib:
            limit = self.peak_mib["plain"] * (1 + max_memory_overhead)
            fits = [e for e in engines if self.peak_mib[e] <= limit]
            if not fits:
                return min(engines, key=lambda e: self.peak_mib[e])
            engines = fits
        return min(engines, key=lambda e: self.seconds[e])


def _probe_engines(
    model: nn.Module,
    dataset: Sequence[Any],
    *,
    per_sample_loss: PerSampleLoss,
    collate: Collate,
    training: TrainingConfig,
    plan: PrivacyPlan,
) -> EngineProbe:
    """Time each engine (and, on a GPU, measure its peak memory) on copies of the model."""
    size = min(training.max_physical_batch_size, len(dataset))
    items = [dataset[i] for i in range(size)]
    cuda = model_device(model).type == "cuda"
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for mode in ("plain", "hooks", "ghost") if cuda else ("hooks", "ghost"):
        trial = copy.deepcopy(model)
        optimizer = _optimizer(trial, training)
        private = None
        if mode != "plain":
            private = _one_batch_private(
                trial,
                optimizer,
                items,
                collate,
                noise_multiplier=plan.noise_multiplier,
                max_grad_norm=plan.max_grad_norm,
                mode=mode,  # type: ignore[arg-type]
                unit_cap=plan.unit_cap,
            )
        batch = collate(items)
        # The warm-up step also makes the one-off allocations (optimizer state, library
        # workspaces): the memory peak counts only what the timed steps add on top.
        _probe_step(trial, batch, per_sample_loss, private, mode, cuda=cuda, opt=optimizer)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        seconds[mode] = statistics.median(
            _probe_step(trial, batch, per_sample_loss, private, mode, cuda=cuda, opt=optimizer)
            for _ in range(PROBE_STEPS)
        )
        if cuda:
            peaks[mode] = (torch.cuda.max_memory_allocated() - before) / 2**20
        if private is not None:
            private.cleanup()
    return EngineProbe(seconds, peaks)


def _probe_step(
    model: nn.Module,
    batch: Any,
    per_sample_loss: PerSampleLoss,
    private: _Private | None,
    mode: str,
    *,
    cuda: bool,
    opt: torch.optim.Optimizer,
) -> float:
    """Seconds of one full step: non-private when ``private`` is None."""
    start = time.perf_counter()
    losses = per_sample_loss(model, batch)
    if private is None:
        torch.autograd.backward(losses.mean())
    else:
        _backward(mode, private, losses)  # type: ignore[arg-type]
        opt = private.optimizer
    opt.step()
    opt.zero_grad()
    if cuda:  # GPU work is asynchronous: wait for it before reading the clock
        torch.cuda.synchronize()
    return time.perf_counter() - start


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
    generators, so a resumed run ends with the same ε (and weights) as one without a break.
    ``stop_after`` ends the run after that many steps in total (status ``paused``).
    ``training.device`` says where it trains; the model is handed back where it was.
    """
    device = resolve_device(training.device)
    home = model_device(model)
    model.to(device)
    try:
        return _train_private(
            model,
            dataset,
            per_sample_loss=per_sample_loss,
            collate=lambda items: to_device(collate(items), device),
            privacy=privacy,
            training=training,
            units=units,
            checkpoint=checkpoint,
            resume=resume,
            stop_after=stop_after,
            fingerprint=fingerprint,
            progress=progress,
            device=device,
        )
    finally:
        model.to(home)


def _train_private(
    model: nn.Module,
    dataset: Sequence[Any],
    *,
    per_sample_loss: PerSampleLoss,
    collate: Collate,
    privacy: PrivacyConfig,
    training: TrainingConfig,
    units: Sequence[Sequence[int]] | None,
    checkpoint: Path | None,
    resume: bool,
    stop_after: int | None,
    fingerprint: str,
    progress: Callable[[StepInfo], None] | None,
    device: torch.device,
) -> TrainResult:
    units = [list(u) for u in units] if units is not None else [[i] for i in range(len(dataset))]
    examples = sum(len(u) for u in units)
    if training.private:
        plan: PrivacyPlan | None = plan_privacy(
            privacy, training, units=len(units), examples=examples
        )
        _check_model(model)
    else:
        plan = None
    sample_rate = plan.sample_rate if plan else min(1.0, training.batch_size / len(units))
    total = (
        plan.steps
        if plan
        else (training.steps or max(1, math.ceil((training.epochs or 1.0) / sample_rate)))
    )
    torch.manual_seed(training.seed)
    sample_gen = torch.Generator().manual_seed(training.seed)
    noise_gen = torch.Generator(device).manual_seed(training.seed + 1)
    optimizer = _optimizer(model, training)
    probe = EngineProbe({}, {})
    mode: Engine | None = None
    if plan is not None:
        mode = training.engine if training.engine != "auto" else None
        if mode is None and not resume:  # a resumed run keeps the engine it started with
            probe = _probe_engines(
                model,
                dataset,
                per_sample_loss=per_sample_loss,
                collate=collate,
                training=training,
                plan=plan,
            )
            mode = probe.pick(training.max_memory_overhead)
    start = 0
    state: dict[str, Any] | None = None
    if resume:
        state = _load_checkpoint(checkpoint, fingerprint=fingerprint, plan=plan)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        sample_gen.set_state(state["sample_rng"])
        start = int(state["step"])
        if state.get("device", "cpu") == device.type:
            noise_gen.set_state(state["noise_rng"])
        else:
            # Another device's generator state does not fit this one. Never replay the
            # noise already used (identical noise in two steps would cancel out in their
            # difference): draw from a generator seeded afresh for this step.
            noise_gen.manual_seed(_moved_noise_seed(training.seed, start))
        mode = state["engine"] if plan else None
    sampler = UnitPoissonSampler(
        units, sample_rate=sample_rate, steps=total - start, generator=sample_gen
    )
    before = _trainable_snapshot(model)
    run = _Run(
        model=model,
        plan=plan,
        total=total,
        step=start,
        checkpoint=checkpoint,
        every=training.checkpoint_every,
        fingerprint=fingerprint,
        progress=progress,
        sample_gen=sample_gen,
        noise_gen=noise_gen,
        engine=mode or "none",
        stop_after=stop_after,
    )
    expected = max(1.0, sample_rate * examples)
    if plan is None:
        run.optimizer = optimizer
        _train_plain(
            run,
            sampler=sampler,
            dataset=dataset,
            collate=collate,
            optimizer=optimizer,
            per_sample_loss=per_sample_loss,
            training=training,
            expected=expected,
        )
    else:
        assert mode is not None
        loader = _loader(dataset, sampler, collate)
        private = _make_private(
            model,
            optimizer,
            loader,
            noise_multiplier=plan.noise_multiplier,
            max_grad_norm=plan.max_grad_norm,
            unit_cap=plan.unit_cap,
            mode=mode,
            accountant=plan.accountant,
            generator=noise_gen,
        )
        if state is not None:
            private.engine.accountant.load_state_dict(state["accountant"])
        run.optimizer = private.optimizer
        run.accountant = private.engine.accountant
        private.optimizer.expected_batch_size = expected
        accountant = private.engine.accountant

        def account(_: DPOptimizer) -> None:
            # The true σ and the unit sample rate (not Opacus' per-example defaults).
            accountant.step(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate)

        private.optimizer.attach_step_hook(account)
        try:
            _train_dp(
                run,
                loader=loader,
                private=private,
                mode=mode,
                per_sample_loss=per_sample_loss,
                training=training,
            )
        finally:
            private.cleanup()
    if run.step > start and run.step == total:
        _check_moved(model, before)
    return _result(run, plan, probe)


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
    *,
    loader: DataLoader[Any],
    private: _Private,
    mode: Engine,
    per_sample_loss: PerSampleLoss,
    training: TrainingConfig,
) -> None:
    optimizer = private.optimizer
    with BatchMemoryManager(
        data_loader=loader,
        max_physical_batch_size=training.max_physical_batch_size,
        optimizer=optimizer,
    ) as physical_loader:
        for batch in physical_loader:
            losses = per_sample_loss(run.model, batch)
            run.physical(losses)
            _backward(mode, private, losses)
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
    *,
    sampler: UnitPoissonSampler,
    dataset: Sequence[Any],
    collate: Collate,
    optimizer: torch.optim.Optimizer,
    per_sample_loss: PerSampleLoss,
    training: TrainingConfig,
    expected: float,
) -> None:
    """The same sampler and physical batches, no clipping and no noise (baselines, audits)."""
    size = training.max_physical_batch_size
    for indices in sampler:
        for start in range(0, len(indices), size):
            chunk = [dataset[i] for i in indices[start : start + size]]
            losses = per_sample_loss(run.model, collate(chunk))
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
