"""A task's arms compared: every arm against both of the mission's arms (bert, gpt) by paired bootstrap, with
Holm's step-down correction for the number of comparisons (Holm 1979, "A simple sequentially rejective multiple
test procedure"): with m comparisons, the i-th smallest p-value is multiplied by (m - i + 1), made monotone, and
capped at 1. It holds the family-wise error rate at the nominal 5% for any dependence between the comparisons
(they share the bert and gpt runs), which a per-comparison 5% would not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pretrain.arms import MISSION_ARMS
from pretrain.compare.analysis.bootstrap import PairedDifference
from pretrain.compare.analysis.stats import CONFIDENCE
from pretrain.compare.schema import ArmComparison

FAMILY_WISE_ALPHA = 1.0 - CONFIDENCE


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def compare_arms(arms: Sequence[str], metric: str,
                 paired: Callable[[str, str], PairedDifference | None]) -> list[ArmComparison]:
    """Each arm besides the mission's two against each of them (`paired(arm, against)`: arm minus against on the
    task's headline metric), Holm-adjusted over all of the task's comparisons; [] for a two-arm plan."""
    pairs = [(arm, against) for arm in arms if arm not in MISSION_ARMS for against in MISSION_ARMS]
    found = [(arm, against, difference) for arm, against in pairs if (difference := paired(arm, against))]
    adjusted = holm_adjusted([difference.p_value for _, _, difference in found])
    return [ArmComparison(arm, against, metric, difference, p, p < FAMILY_WISE_ALPHA)
            for (arm, against, difference), p in zip(found, adjusted, strict=True)]
