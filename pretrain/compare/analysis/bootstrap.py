"""Paired bootstrap over test examples: how much a difference in score could come from the test set alone.

Two groups of runs (BERT vs GPT, or pretrained vs random-init) are scored on the same test rows.
Each bootstrap replicate resamples the test rows with replacement, recomputes every run's metric
on the resample from its per-example statistics, averages the runs of each group and takes the
difference (Efron & Tibshirani 1993; the paired test of Koehn 2004 and Berg-Kirkpatrick et al.
2012 for NLP). The 95% percentile interval of that difference covers test-set sampling variance
only; the spread over seeds is a separate interval (`stats.summarize`).

Each run is an (examples, k) array of per-example statistics (`tasks.per_example.statistics`):
one number per example for a mean metric (accuracy, ROUGE-L), or per sentence [true positives,
predicted entities, gold entities] for entity F1; the metric of a resample comes from its weighted
column sums (`tasks.per_example.metric_from_sums`: the mean, or micro F1 as conlleval).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pretrain.compare.analysis.stats import CONFIDENCE
from tasks.per_example import metric_from_sums

REPLICATES = 2000
SEED = 0  # fixed: the same results give the same interval on every machine and rerun


@dataclass(frozen=True)
class PairedDifference:
    """mean(first group) - mean(second group) on the full test set, with its bootstrap interval."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float  # two-sided: how often the resampled difference falls on the other side of 0
    n_examples: int
    replicates: int

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_difference(
    first: Sequence[np.ndarray], second: Sequence[np.ndarray], *, replicates: int = REPLICATES,
    confidence: float = CONFIDENCE, seed: int = SEED,
) -> PairedDifference:
    """Bootstrap the difference of two groups' mean metric; each group is a list of runs' (examples, k) stats."""
    if not first or not second:
        raise ValueError("paired_difference() needs at least one run in each group")
    runs = [np.asarray(r, dtype=float) for r in (*first, *second)]
    runs = [r[:, None] if r.ndim == 1 else r for r in runs]  # plain per-example numbers: one column
    n = len(runs[0])
    if any(len(r) != n for r in runs) or len({r.shape[1] for r in runs}) != 1:
        raise ValueError(f"runs were scored on different test sets (example counts {sorted({len(r) for r in runs})}); "
                         "a paired bootstrap needs the same rows in the same order")
    rng = np.random.default_rng(seed)
    # Resample counts: weights[b, i] = how often example i is drawn in replicate b; rows sum to n.
    weights = np.zeros((replicates, n))
    np.add.at(weights, (np.arange(replicates)[:, None], rng.integers(0, n, (replicates, n))), 1.0)

    def group_mean(group: list[np.ndarray]) -> tuple[float, np.ndarray]:
        full = np.mean([metric_from_sums(r.sum(axis=0), n) for r in group])
        resampled = np.mean([metric_from_sums(weights @ r, n) for r in group], axis=0)  # (replicates,)
        return float(full), resampled

    full_a, boot_a = group_mean(runs[: len(first)])
    full_b, boot_b = group_mean(runs[len(first):])
    diffs = boot_a - boot_b
    alpha = 1.0 - confidence
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    p_value = min(1.0, 2.0 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0))))
    return PairedDifference(full_a - full_b, float(low), float(high), p_value, n, replicates)
