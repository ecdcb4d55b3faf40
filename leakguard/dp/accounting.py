"""The privacy plan: sample rate, noise multiplier and the number of steps the budget allows.

Every number here comes from Opacus' accountants (``prv``, ``rdp``, ``gdp``), which all
assume the Poisson-subsampled Gaussian mechanism: the sampler in
:mod:`leakguard.dp.training` is exactly that, over privacy units, so the accounting and
the sampler cannot disagree.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from leakguard.dp.config import PrivacyConfig, TrainingConfig, check_delta
from leakguard.exceptions import ConfigError

__all__ = ["PrivacyPlan", "epsilon", "epsilons", "noise_for", "plan_privacy", "quiet_accounting"]


@contextmanager
def quiet_accounting() -> Iterator[None]:
    """Silence Opacus' RDP hint that another range of α *could* give a tighter bound: the
    bound it returns is still valid (only possibly loose); PRV is the default we report."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order is the (smallest|largest) alpha")
        yield


# The second opinion reported next to the configured accountant.
CROSS_CHECK = {"prv": "rdp", "rdp": "prv", "gdp": "rdp"}


@dataclass(frozen=True, slots=True)
class PrivacyPlan:
    """What a private run will do, fixed before the first step."""

    accountant: str
    target_epsilon: float
    delta: float
    noise_multiplier: float
    sample_rate: float
    # Steps asked for (epochs or steps) and steps the budget allows (≤ planned).
    planned_steps: int
    steps: int
    max_grad_norm: float
    unit: str
    units: int
    examples: int
    # Examples one unit may contribute (1 per example; the per-user cap otherwise).
    unit_cap: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=256)
def epsilon(
    noise_multiplier: float, sample_rate: float, steps: int, *, delta: float, accountant: str
) -> float:
    """ε after ``steps`` steps of the Poisson-subsampled Gaussian mechanism, per Opacus.

    Cached: one PRV evaluation takes about a second, and the plan, the progress bar and
    the report ask for the same numbers.
    """
    if steps == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    from opacus.accountants import create_accountant

    acc = create_accountant(mechanism=accountant)
    acc.history = [(noise_multiplier, sample_rate, steps)]
    with quiet_accounting():
        return float(acc.get_epsilon(delta=delta))


def epsilons(plan: PrivacyPlan, steps: int) -> dict[str, float]:
    """ε with the configured accountant and its cross-check, after ``steps`` steps."""
    names = (plan.accountant, CROSS_CHECK[plan.accountant])
    return {
        name: epsilon(
            plan.noise_multiplier, plan.sample_rate, steps, delta=plan.delta, accountant=name
        )
        for name in names
    }


EPSILON_TOLERANCE = 0.01  # as Opacus' get_noise_multiplier: target - tol < ε ≤ target


def noise_for(
    target: float, *, delta: float, sample_rate: float, steps: int, accountant: str
) -> float:
    """The σ whose ε after ``steps`` lands in (target - tolerance, target], per Opacus."""
    from opacus.accountants.utils import get_noise_multiplier

    with quiet_accounting():
        return float(
            get_noise_multiplier(
                target_epsilon=target,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=accountant,
                epsilon_tolerance=EPSILON_TOLERANCE,
            )
        )


def _planned_steps(training: TrainingConfig, sample_rate: float) -> int:
    if training.steps is not None:
        return training.steps
    epochs = training.epochs if training.epochs is not None else 1.0
    return max(1, math.ceil(epochs / sample_rate))


def _steps_within_budget(plan_args: dict[str, Any], planned: int, target: float) -> int:
    """The most steps (≤ planned) whose ε stays within ``target``: ε grows with steps."""

    def eps(n: int) -> float:
        return epsilon(
            plan_args["noise_multiplier"],
            plan_args["sample_rate"],
            n,
            delta=plan_args["delta"],
            accountant=plan_args["accountant"],
        )

    if eps(planned) <= target:
        return planned
    low, high = 0, planned  # eps(low) <= target < eps(high)
    while high - low > 1:
        mid = (low + high) // 2
        if eps(mid) <= target:
            low = mid
        else:
            high = mid
    return low


def plan_privacy(
    privacy: PrivacyConfig, training: TrainingConfig, *, units: int, examples: int
) -> PrivacyPlan:
    """Fix δ, q, σ and the step count before training; refuses what breaks the accounting."""
    delta = check_delta(privacy, units)
    if training.batch_size > units:
        raise ConfigError(
            f"training.batch_size = {training.batch_size} exceeds the {units} privacy units: "
            f"the Poisson sample rate would exceed 1. Lower training.batch_size"
        )
    sample_rate = training.batch_size / units
    planned = _planned_steps(training, sample_rate)
    sigma = privacy.noise_multiplier
    if sigma is None:
        sigma = noise_for(
            privacy.target_epsilon,
            delta=delta,
            sample_rate=sample_rate,
            steps=planned,
            accountant=privacy.accountant,
        )
    args = {
        "noise_multiplier": sigma,
        "sample_rate": sample_rate,
        "delta": delta,
        "accountant": privacy.accountant,
    }
    steps = _steps_within_budget(args, planned, privacy.target_epsilon)
    if steps == 0:
        raise ConfigError(
            f"privacy.noise_multiplier = {sigma:g} spends more than target_epsilon = "
            f"{privacy.target_epsilon:g} in a single step; raise the noise multiplier or the target"
        )
    cap = privacy.max_examples_per_user if privacy.unit == "user" else 1
    return PrivacyPlan(
        accountant=privacy.accountant,
        target_epsilon=privacy.target_epsilon,
        delta=delta,
        noise_multiplier=sigma,
        sample_rate=sample_rate,
        planned_steps=planned,
        steps=steps,
        max_grad_norm=privacy.max_grad_norm,
        unit=privacy.unit,
        units=units,
        examples=examples,
        unit_cap=cap,
    )
