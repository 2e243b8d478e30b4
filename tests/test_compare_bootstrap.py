"""Paired bootstrap over test examples: exact on degenerate cases, calibrated against the normal theory."""

import math

import numpy as np
import pytest

from pretrain.compare.analysis.bootstrap import paired_difference
from tasks.per_example import resampled_metric


def test_the_metric_is_the_mean_or_the_micro_f1() -> None:
    assert resampled_metric("classification", [1, 0, 1, 1]) == 0.75
    # F1 from [tp, predicted, gold] per sentence: 2*3 / (4 + 5) = 0.666...
    assert resampled_metric("ner", [[1, 2, 2], [2, 2, 3], [0, 0, 0]]) == pytest.approx(6 / 9)
    assert resampled_metric("ner", [[1, 2, 2], [2, 2, 3]], index=[1, 1]) == pytest.approx(8 / 10)
    assert resampled_metric("generation", [{"rougeL": 0.5}, {"rougeL": 0.25}]) == 0.375


def test_identical_groups_give_zero_and_p_one() -> None:
    run = list(np.random.default_rng(1).integers(0, 2, 300))
    result = paired_difference([run], [run])
    assert result.difference == 0 and result.ci_low == 0 and result.ci_high == 0
    assert result.p_value == 1.0 and not result.excludes_zero


def test_a_sure_difference_is_significant() -> None:
    result = paired_difference([[1] * 50], [[0] * 50])
    assert result.difference == 1.0 and (result.ci_low, result.ci_high) == (1.0, 1.0)
    assert result.p_value == 0.0 and result.excludes_zero


def test_interval_matches_normal_theory_for_accuracy() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    a, b = (rng.random(n) < 0.7).astype(float), (rng.random(n) < 0.6).astype(float)
    result = paired_difference([a], [b], replicates=4000)
    half = 1.96 * np.std(a - b, ddof=1) / math.sqrt(n)
    assert result.difference == pytest.approx(a.mean() - b.mean())
    assert (result.ci_high - result.ci_low) / 2 == pytest.approx(half, rel=0.1)
    assert result.excludes_zero and result.p_value < 0.01


def test_groups_average_their_runs_and_f1_is_recomputed_per_replicate() -> None:
    gold = [[1, 1, 1]] * 40 + [[0, 1, 1]] * 40  # each run: tp 40 of 80 predicted, 80 gold -> F1 0.5
    perfect = [[1, 1, 1]] * 80  # F1 1.0
    result = paired_difference([perfect, gold], [gold])
    assert result.difference == pytest.approx((1.0 + 0.5) / 2 - 0.5)
    assert result.ci_low > 0


def test_same_inputs_same_interval_and_mismatched_rows_are_refused() -> None:
    rng = np.random.default_rng(3)
    a, b = list(rng.random(100)), list(rng.random(100))
    assert paired_difference([a], [b]) == paired_difference([a], [b])
    with pytest.raises(ValueError, match="different test sets"):
        paired_difference([a], [b[:99]])
