"""Whether two extraction rates differ: Wilson intervals, Newcombe's interval of the
difference, Fisher's exact test. Pure Python, exact integer arithmetic for the test.

References: Wilson (1927), "Probable inference, the law of succession, and statistical
inference"; Newcombe (1998), "Interval estimation for the difference between independent
proportions: comparison of eleven methods" (method 10, the hybrid score interval); Fisher's
exact test, two-sided by summing the tables no more likely than the one observed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

__all__ = ["ALPHA", "Comparison", "compare", "fisher_exact", "wilson"]

ALPHA = 0.05
_Z = 1.959963984540054  # the 97.5% normal quantile: two-sided 95% intervals


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of ``successes / n`` ((0, 1) for n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = _Z * _Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_exact(a: int, n1: int, b: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test: ``a`` of ``n1`` against ``b`` of ``n2``."""
    k, total = a + b, n1 + n2
    low, high = max(0, k - n2), min(k, n1)
    weights = {x: math.comb(n1, x) * math.comb(n2, k - x) for x in range(low, high + 1)}
    observed = weights[a]
    # Tables as likely as the observed one count (exactly: the weights are integers).
    extreme = sum(w for w in weights.values() if w <= observed)
    return float(Fraction(extreme, math.comb(total, k)))


@dataclass(frozen=True, slots=True)
class Comparison:
    """A group's exact extraction rate against the control's."""

    difference: float
    difference_ci95: tuple[float, float]
    p_value: float
    verdict: Literal["above", "below", "indistinguishable"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "difference": self.difference,
            "difference_ci95": list(self.difference_ci95),
            "p_value": self.p_value,
            "alpha": ALPHA,
            "test": "Fisher exact, two-sided",
            "verdict": self.verdict,
        }


def compare(a: int, n1: int, b: int, n2: int) -> Comparison:
    """``a / n1`` against ``b / n2``: the difference, Newcombe's 95% interval of it and
    Fisher's test; the verdict is "above"/"below" when p < :data:`ALPHA`."""
    p1 = a / n1 if n1 else 0.0
    p2 = b / n2 if n2 else 0.0
    l1, u1 = wilson(a, n1)
    l2, u2 = wilson(b, n2)
    d = p1 - p2
    interval = (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )
    p = fisher_exact(a, n1, b, n2) if n1 and n2 else 1.0
    verdict: Literal["above", "below", "indistinguishable"] = "indistinguishable"
    if p < ALPHA:
        verdict = "above" if d > 0 else "below"
    return Comparison(d, interval, p, verdict)
