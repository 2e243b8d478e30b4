"""Paired bootstrap over test examples: how much a difference in score could come from the test set alone.

Two groups of runs (BERT vs GPT, or pretrained vs random-init) are scored on the same test rows.
Each bootstrap replicate resamples the test rows with replacement, recomputes every run's metric
on the resample from its per-example statistics, averages the runs of each group and takes the
difference (Efron & Tibshirani 1993; the paired test of Koehn 2004 and Berg-Kirkpatrick et al.
2012 for NLP). The 95% percentile interval of that difference covers test-set sampling variance
only; the spread over seeds is a separate interval (`stats.summarize`).

Per-example statistics come from the fine-tuning results files (`per_example`):
- mean metrics (accuracy, ROUGE): one number per example, the metric is their mean;
- entity F1: per sentence [true positives, predicted entities, gold entities]; the metric is
  micro F1 = 2 * sum(tp) / (sum(pred) + sum(gold)) over the (re)sampled sentences, as conlleval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

REPLICATES = 2000
CONFIDENCE = 0.95
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


def metric_from_counts(stats: np.ndarray) -> np.ndarray:
    """Metric per replicate from summed per-example statistics (..., k): mean for k = 1, micro F1 for k = 3."""
    if stats.shape[-1] == 1:
        return stats[..., 0]
    tp, predicted, gold = stats[..., 0], stats[..., 1], stats[..., 2]
    denominator = predicted + gold
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp, dtype=float), where=denominator > 0)


def as_matrix(per_example: Sequence[Any]) -> np.ndarray:
    """(n, k) float array: numbers become k = 1 columns, [tp, pred, gold] triples k = 3."""
    array = np.asarray(per_example, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] not in (1, 3):
        raise ValueError(f"per-example statistics must be numbers or [tp, predicted, gold] triples, got shape "
                         f"{array.shape}")
    return array


def score(per_example: Sequence[Any]) -> float:
    """The metric on the whole test set (what the run logged)."""
    matrix = as_matrix(per_example)
    totals = matrix.sum(axis=0) / (len(matrix) if matrix.shape[1] == 1 else 1)
    return float(metric_from_counts(totals[None])[0])


def paired_difference(
    first: Sequence[Sequence[Any]], second: Sequence[Sequence[Any]], *, replicates: int = REPLICATES,
    confidence: float = CONFIDENCE, seed: int = SEED,
) -> PairedDifference:
    """Bootstrap the difference of two groups' mean metric; each group is a list of runs' per-example stats."""
    if not first or not second:
        raise ValueError("paired_difference() needs at least one run in each group")
    runs = [as_matrix(r) for r in (*first, *second)]
    n = len(runs[0])
    if any(len(r) != n for r in runs) or len({r.shape[1] for r in runs}) != 1:
        raise ValueError(f"runs were scored on different test sets (example counts {sorted({len(r) for r in runs})}); "
                         "a paired bootstrap needs the same rows in the same order")
    rng = np.random.default_rng(seed)
    # Resample counts: weights[b, i] = how often example i is drawn in replicate b; rows sum to n.
    weights = np.zeros((replicates, n))
    np.add.at(weights, (np.arange(replicates)[:, None], rng.integers(0, n, (replicates, n))), 1.0)
    scale = n if runs[0].shape[1] == 1 else 1  # means divide by the number of examples, F1 counts do not

    def group_mean(group: list[np.ndarray]) -> tuple[float, np.ndarray]:
        full = np.mean([metric_from_counts(r.sum(axis=0)[None] / scale)[0] for r in group])
        resampled = np.mean([metric_from_counts((weights @ r) / scale) for r in group], axis=0)  # (replicates,)
        return float(full), resampled

    full_a, boot_a = group_mean(runs[: len(first)])
    full_b, boot_b = group_mean(runs[len(first):])
    diffs = boot_a - boot_b
    alpha = 1.0 - confidence
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    p_value = min(1.0, 2.0 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0))))
    return PairedDifference(full_a - full_b, float(low), float(high), p_value, n, replicates)
