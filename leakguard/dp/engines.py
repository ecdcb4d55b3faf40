"""The Opacus side of DP-SGD: Poisson sampling over privacy units, the private wrapping of a
model and its optimizer (``PrivacyEngine.make_private``), one physical backward step per
engine (``hooks``: per-sample gradients; ``ghost``: ghost clipping), and the short probe that
``engine: auto`` uses to pick between them. :mod:`leakguard.dp.training` runs the loop.

Imports torch and opacus: load it only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from opacus import PrivacyEngine
from opacus.optimizers import DPOptimizer
from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping
from opacus.validators import ModuleValidator
from torch import nn
from torch.utils.data import DataLoader, Sampler

from leakguard.dp.accounting import PrivacyPlan
from leakguard.dp.config import TrainingConfig
from leakguard.dp.devices import model_device
from leakguard.dp.grad_sample import OutputGradSampler, supports
from leakguard.exceptions import ConfigError, IncompatibleModelError

__all__ = [
    "Collate",
    "Engine",
    "EngineProbe",
    "PerSampleLoss",
    "Private",
    "UnitPoissonSampler",
    "check_model",
    "clipped_gradient_sum",
    "make_loader",
    "make_optimizer",
    "make_private",
    "one_batch_private",
    "physical_backward",
    "probe_engines",
]

Engine = Literal["hooks", "ghost"]
# Per-sample losses, shape [B], for a collated physical batch of B examples.
PerSampleLoss = Callable[[nn.Module, Any], torch.Tensor]
Collate = Callable[[list[Any]], Any]

PROBE_STEPS = 3  # timed physical steps per engine when engine is "auto" (after one warm-up)
_SECURE_RNG_WARNING = "Secure RNG turned off"


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


def check_model(model: nn.Module) -> None:
    problems = [str(e) for e in ModuleValidator.validate(model, strict=False)]
    if problems:
        raise IncompatibleModelError(problems)
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError("the model has no trainable parameters: nothing to train")


def make_optimizer(model: nn.Module, training: TrainingConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if training.optimizer == "sgd":
        return torch.optim.SGD(params, lr=training.learning_rate, momentum=0.9)
    return torch.optim.Adam(params, lr=training.learning_rate)


@dataclass(slots=True)
class Private:
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


def make_private(
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
) -> Private:
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
    return Private(hooks, dp_optimizer, engine, OutputGradSampler(model) if direct else None)


def physical_backward(mode: Engine | None, private: Private | None, losses: torch.Tensor) -> None:
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


def make_loader(
    dataset: Sequence[Any], sampler: Sampler[list[int]], collate: Collate
) -> DataLoader[Any]:
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)  # type: ignore[arg-type]


def one_batch_private(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    items: Sequence[Any],
    collate: Collate,
    *,
    noise_multiplier: float,
    max_grad_norm: float,
    mode: Engine,
    unit_cap: int = 1,
) -> Private:
    """The trainer's private wrapping for one fixed batch (every item sampled, one step):
    used to check clipping, to probe engines and by the step benchmark."""
    sampler = UnitPoissonSampler(
        [[i] for i in range(len(items))], sample_rate=1.0, steps=1, generator=torch.Generator()
    )
    private = make_private(
        model,
        optimizer,
        make_loader(items, sampler, collate),
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

    Runs the trainer's own physical-step path (``make_private`` and ``physical_backward``) with
    σ = 0 and returns the un-scaled sum per trainable parameter; the model is left as it was.
    """
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.0)
    private = one_batch_private(
        model,
        optimizer,
        items,
        collate,
        noise_multiplier=0.0,
        max_grad_norm=max_grad_norm,
        mode=mode,
    )
    try:
        physical_backward(mode, private, per_sample_loss(model, collate(list(items))))
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


def probe_engines(
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
        optimizer = make_optimizer(trial, training)
        private = None
        if mode != "plain":
            private = one_batch_private(
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
    private: Private | None,
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
        physical_backward(mode, private, losses)  # type: ignore[arg-type]
        opt = private.optimizer
    opt.step()
    opt.zero_grad()
    if cuda:  # GPU work is asynchronous: wait for it before reading the clock
        torch.cuda.synchronize()
    return time.perf_counter() - start
