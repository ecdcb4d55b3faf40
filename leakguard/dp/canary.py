"""Canary audits: exposure (Secret Sharer) and the one-run ε lower bound.

Pure Python, no torch: the audit scores canaries with a model and hands the numbers here.

* **Exposure** (Carlini et al., "The Secret Sharer", USENIX Security 2019): for a canary
  ``s`` drawn from a space ``R`` of random secrets, ``exposure = log2|R| - log2 rank(s)``,
  where the rank orders all of ``R`` by the model's log-perplexity. We estimate the rank
  from ``M`` random candidates, so the estimate is ``-log2((1 + #candidates scoring
  better) / (M + 1))``, at most ``log2(M + 1)`` bits; ``fitted_bits`` extrapolates past that
  cap with a normal fit to the candidates' log-perplexities (the paper's §4.3 approach).
* **One-run audit** (Steinke, Nasr & Jagielski, "Privacy Auditing with One (1) Training
  Run", NeurIPS 2023): ``m`` canaries each enter the training data with probability ½; the
  auditor guesses membership for the ``k`` best- and ``k`` worst-scoring canaries and
  abstains on the rest. ``v`` correct guesses out of ``r`` give an ε lower bound at
  confidence ``1 - β``: :func:`p_value_dp_audit` and :func:`epsilon_lower_bound` follow the
  paper's Appendix D line by line.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Exposure",
    "OneRunAudit",
    "epsilon_lower_bound",
    "exposure",
    "make_secrets",
    "max_certifiable_epsilon",
    "one_run_audit",
    "p_value_dp_audit",
]

# Guess on this fraction of the canaries at each end (fixed before looking at the scores,
# so the confidence level holds; choosing k after the fact would need a union bound).
GUESS_FRACTION = 0.25


def make_secrets(count: int, *, digits: int, rng: random.Random) -> list[str]:
    """``count`` distinct random digit strings of length ``digits``."""
    space = 10**digits
    if count > space // 2:
        raise ValueError(f"{count} canaries do not fit in a space of {space} secrets")
    picked = rng.sample(range(space), count)
    return [str(n).zfill(digits) for n in picked]


@dataclass(frozen=True, slots=True)
class Exposure:
    """A canary's exposure in bits, estimated from ``candidates`` random alternatives."""

    rank: int  # candidates scoring strictly better than the canary
    candidates: int
    bits: float
    fitted_bits: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def exposure(canary: float, candidates: Sequence[float]) -> Exposure:
    """Exposure of a canary with log-perplexity ``canary`` (lower means more likely)."""
    m = len(candidates)
    rank = sum(1 for c in candidates if c < canary)
    bits = -math.log2((1 + rank) / (m + 1))
    mean = statistics.fmean(candidates)
    spread = statistics.pstdev(candidates) or 1e-12
    # P[candidate ≤ canary] under a normal fit; erfc keeps precision far in the tail.
    tail = 0.5 * math.erfc((mean - canary) / (spread * math.sqrt(2)))
    fitted = -math.log2(max(tail, 1e-300))
    return Exposure(rank, m, bits, fitted)


def _binom_logpmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def p_value_dp_audit(m: int, r: int, v: int, eps: float, delta: float) -> float:
    """P[≥ v of r guesses correct] if training were (ε, δ)-DP (paper's Appendix D)."""
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 <= v <= r <= m, got m={m}, r={r}, v={v}")
    q = 1.0 / (1.0 + math.exp(-eps))  # accuracy of ε-DP randomized response
    pmf = [math.exp(_binom_logpmf(k, r, q)) for k in range(r + 1)]
    beta = sum(pmf[v:])  # P[Binomial(r, q) ≥ v]
    alpha = 0.0
    total = 0.0  # P[v > Binomial(r, q) ≥ v - i]
    for i in range(1, v + 1):
        total += pmf[v - i]
        alpha = max(alpha, total / i)
    return min(beta + alpha * delta * 2 * m, 1.0)


def epsilon_lower_bound(m: int, r: int, v: int, *, delta: float, beta: float) -> float:
    """The largest ε that ``v`` correct of ``r`` guesses refute at confidence ``1 - beta``."""
    low, high = 0.0, 1.0
    while p_value_dp_audit(m, r, v, high, delta) < beta:
        high += 1.0
    for _ in range(30):
        mid = (low + high) / 2
        if p_value_dp_audit(m, r, v, mid, delta) < beta:
            low = mid
        else:
            high = mid
    return low


def _guesses(m: int) -> int:
    return 2 * max(1, int(m * GUESS_FRACTION))


def max_certifiable_epsilon(m: int, *, delta: float, beta: float) -> float:
    """The bound if every guess were right: the most ``m`` canaries can ever show."""
    r = _guesses(m)
    return epsilon_lower_bound(m, r, r, delta=delta, beta=beta)


@dataclass(frozen=True, slots=True)
class OneRunAudit:
    canaries: int
    guesses: int
    correct: int
    confidence: float
    delta: float
    epsilon_lower_bound: float
    max_certifiable: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def one_run_audit(
    scores: Sequence[float], included: Sequence[bool], *, delta: float, confidence: float
) -> OneRunAudit:
    """Guess 'in' for the highest ``scores`` and 'out' for the lowest, then bound ε."""
    m = len(scores)
    if m != len(included):
        raise ValueError("scores and included must have the same length")
    k = _guesses(m) // 2
    order = sorted(range(m), key=lambda i: scores[i])
    correct = sum(included[i] for i in order[-k:]) + sum(not included[i] for i in order[:k])
    beta = 1.0 - confidence
    return OneRunAudit(
        canaries=m,
        guesses=2 * k,
        correct=correct,
        confidence=confidence,
        delta=delta,
        epsilon_lower_bound=epsilon_lower_bound(m, 2 * k, correct, delta=delta, beta=beta),
        max_certifiable=max_certifiable_epsilon(m, delta=delta, beta=beta),
    )
