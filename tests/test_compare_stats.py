import math

import pytest
from scipy import stats as scipy_stats

from pretrain.compare.analysis.stats import summarize, welch_p_value


def test_t_interval_matches_hand_computation() -> None:
    s = summarize([1.0, 2.0, 3.0])
    # mean 2, sd 1, t_{0.975, 2} = 4.302653, half width = 4.302653 / sqrt(3)
    assert s.mean == pytest.approx(2.0)
    assert s.std == pytest.approx(1.0)
    assert s.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert (s.ci_low, s.ci_high) == pytest.approx((2 - s.half_width, 2 + s.half_width))


def test_single_seed_has_zero_width_and_n_1() -> None:
    s = summarize([0.7])
    assert (s.mean, s.ci_low, s.ci_high, s.n) == (0.7, 0.7, 0.7, 1)


def test_bad_values_raise() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        summarize([])
    with pytest.raises(ValueError, match="non-finite"):
        summarize([1.0, float("nan")])


def test_welch_matches_scipy_and_handles_degenerate_cases() -> None:
    a, b = [0.80, 0.82, 0.79, 0.81], [0.70, 0.75, 0.72]
    expected = scipy_stats.ttest_ind(a, b, equal_var=False).pvalue
    assert welch_p_value(a, b) == pytest.approx(expected)
    assert welch_p_value([1.0], [2.0, 3.0]) is None
    assert welch_p_value([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert welch_p_value([1.0, 1.0], [2.0, 2.0]) == 0.0
