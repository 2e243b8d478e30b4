"""A task's arms compared: every arm against both of the mission's arms (bert, gpt) by the two-test rule of the
BERT-GPT verdicts (pretrain.compare.analysis.verdict.judge: Welch over runs with non-overlapping 95% intervals,
and the paired hierarchical bootstrap), each test's p-values corrected by Holm's step-down procedure for the
number of comparisons (Holm 1979, "A simple sequentially rejective multiple test procedure"): with m
comparisons, the i-th smallest p-value is multiplied by (m - i + 1), made monotone, and capped at 1. It holds
the family-wise error rate at the nominal 5% for any dependence between the comparisons (they share the bert
and gpt runs), which a per-comparison 5% would not. A comparison is significant only when both corrected tests
are (with one run per arm, the bootstrap alone, as in the verdicts).

A bootstrap p-value of 0 (no replicate crossed zero) means p < 1/B, not p = 0: it enters Holm's procedure as
1/B (conservative: a p-value from B resamples is never taken below its resolution, as the Monte Carlo p-value
(1 + count) / (B + 1) of Davison & Hinkley 1997, chapter 4, is not), and the adjusted values it reaches are
reported as upper bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pretrain.arms import MISSION_ARMS
from pretrain.compare.analysis.bootstrap import PairedDifference
from pretrain.compare.analysis.stats import Summary, welch_p_value
from pretrain.compare.analysis.verdict import ALPHA, Adjusted, judge
from pretrain.compare.schema import ArmComparison

FAMILY_WISE_ALPHA = ALPHA


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def holm_bounds(p_values: Sequence[float], bounds: Sequence[bool]) -> list[bool]:
    """Which of `holm_adjusted(p_values)` are upper bounds: those whose running maximum took in an input that
    is a bound itself (a clamped bootstrap p-value)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    flags = [False] * len(p_values)
    seen = False
    for i in order:
        seen = seen or bounds[i]
        flags[i] = seen
    return flags


def compare_arms(arms: Sequence[str], metric: str, summaries: dict[str, Summary],
                 paired: Callable[[str, str], PairedDifference | None]) -> list[ArmComparison]:
    """Each arm besides the mission's two against each of them (`paired(arm, against)`: arm minus against on the
    task's headline metric; `summaries`: each arm's runs on it), both tests Holm-adjusted over all of the
    task's comparisons; [] for a two-arm plan."""
    pairs = [(arm, against) for arm in arms if arm not in MISSION_ARMS for against in MISSION_ARMS
             if arm in summaries and against in summaries]
    found = [(arm, against, difference) for arm, against in pairs if (difference := paired(arm, against))]
    floors = [1.0 / difference.replicates for _, _, difference in found]
    bootstrap = [max(difference.p_value, floor) for (_, _, difference), floor in zip(found, floors, strict=True)]
    clamped = [difference.p_value < floor for (_, _, difference), floor in zip(found, floors, strict=True)]
    bootstrap_holm, bootstrap_bound = holm_adjusted(bootstrap), holm_bounds(bootstrap, clamped)
    welch = [welch_p_value(summaries[arm].values, summaries[against].values) for arm, against, _ in found]
    testable = [(i, p) for i, p in enumerate(welch) if p is not None]  # None: one run per arm, no test over runs
    welch_holm: list[float | None] = [None] * len(found)
    for (i, _), adjusted in zip(testable, holm_adjusted([p for _, p in testable]), strict=True):
        welch_holm[i] = adjusted
    comparisons = []
    for i, (arm, against, difference) in enumerate(found):
        adjusted = Adjusted(welch_holm[i], bootstrap_holm[i], bootstrap_bound[i])
        judgement = judge(summaries[arm], summaries[against], difference, alpha=FAMILY_WISE_ALPHA, adjusted=adjusted)
        comparisons.append(ArmComparison(arm, against, metric, difference, bootstrap_holm[i], judgement.significant,
                                         welch[i], welch_holm[i], bootstrap_bound[i], judgement.evidence))
    return comparisons
