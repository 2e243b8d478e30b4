"""How far a task's score moves between pretraining runs, and what that means for a plan with one run per family.

A verdict between two families rests on one pretraining run each unless the plan has several pretraining seeds.
With several (configs/compare/pretrain-seeds.yaml), each pretraining seed's runs give one score per family (the
mean over its fine-tuning seeds) and one gap between the families (pretraining seed s of BERT against
pretraining seed s of GPT: independent runs, like the default plan's one pair). The standard deviation of those
gaps is the spread of a gap measured on one pretraining run per family, fine-tuning noise included: what the
default plan's verdicts are judged against (`finetune.pretraining_spread`; pretrain.compare.analysis.verdict).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PretrainingSpread:
    """One task's headline metric per pretraining seed (mean over that seed's fine-tuning runs)."""

    metric: str
    seed_means: dict[str, dict[int, float]]  # family -> pretraining seed -> mean over its fine-tuning seeds
    gaps: dict[int, float]  # pretraining seed -> first family's mean minus the second's
    gap_sd: float  # sample standard deviation of `gaps`: the spread of a one-run-per-family gap
    family_sd: dict[str, float]  # each family's sample standard deviation over pretraining seeds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PretrainingSpread:
        # JSON keys are strings: the seeds come back as ints
        return cls(raw["metric"], {f: {int(s): v for s, v in m.items()} for f, m in raw["seed_means"].items()},
                   {int(s): v for s, v in raw["gaps"].items()}, raw["gap_sd"], raw["family_sd"])


def pretraining_spread(metric: str, scores: dict[str, dict[int, list[float]]],
                       families: tuple[str, str] = ("bert", "gpt")) -> PretrainingSpread | None:
    """`scores`: family -> pretraining seed -> the fine-tuning runs' scores. None unless both families have at
    least two pretraining seeds in common (a spread needs two)."""
    first, second = families
    if first not in scores or second not in scores:
        return None
    means = {family: {seed: statistics.fmean(values) for seed, values in sorted(scores[family].items()) if values}
             for family in families}
    common = sorted(set(means[first]) & set(means[second]))
    if len(common) < 2:
        return None
    gaps = {seed: means[first][seed] - means[second][seed] for seed in common}
    return PretrainingSpread(metric, means, gaps, statistics.stdev(gaps.values()),
                             {family: statistics.stdev(means[family].values()) for family in families})
