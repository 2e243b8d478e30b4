"""Spread over seeds: mean with a Student-t 95% confidence interval, and Welch's t-test.

With the handful of seeds a comparison can afford (3-5), the normal approximation
understates the interval badly; the t distribution with n - 1 degrees of freedom is
the textbook small-sample interval (Student 1908). Two families are compared with
Welch's unequal-variance t-test (Welch 1947), since nothing makes BERT's and GPT's
seed variances equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as scipy_stats

CONFIDENCE = 0.95  # every interval the comparison reports: over seeds here, seeds and test documents in bootstrap.py


@dataclass(frozen=True)
class Summary:
    """Mean and confidence interval of one metric over seeds; the interval is NaN-free only for n >= 2."""

    mean: float
    ci_low: float
    ci_high: float
    std: float  # sample standard deviation (ddof=1); 0.0 for a single value
    n: int
    values: tuple[float, ...]

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Summary:
        return cls(d["mean"], d["ci_low"], d["ci_high"], d["std"], d["n"], tuple(d["values"]))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["values"] = list(self.values)
        return out


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean and two-sided `confidence` interval via Student's t. One value gives a zero-width interval
    flagged by n=1 (no spread can be estimated from one seed)."""
    clean = [float(v) for v in values]
    if not clean:
        raise ValueError("summarize() needs at least one value, got none (did every seed fail?)")
    if any(not math.isfinite(v) for v in clean):
        raise ValueError(f"summarize() got a non-finite value in {clean}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence} must be in (0, 1)")
    n = len(clean)
    mean = sum(clean) / n
    if n == 1:
        return Summary(mean, mean, mean, 0.0, 1, tuple(clean))
    std = math.sqrt(sum((v - mean) ** 2 for v in clean) / (n - 1))
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * std / math.sqrt(n)
    return Summary(mean, mean - half, mean + half, std, n, tuple(clean))


def welch_p_value(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test; None when it is undefined (fewer than 2 values per side).

    Identical constant samples have no variance: equal means give p = 1, different means p = 0.
    """
    if len(a) < 2 or len(b) < 2:
        return None
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    if _variance(a) == 0.0 and _variance(b) == 0.0:
        return 1.0 if mean_a == mean_b else 0.0
    return float(scipy_stats.ttest_ind(list(a), list(b), equal_var=False).pvalue)


def _variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)
