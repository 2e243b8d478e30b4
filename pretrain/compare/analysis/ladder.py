"""The ladder's answer per task: each family's score and the BERT - GPT gap at every size, against pretraining
compute; where the gap changes sign inside the ladder; and where a straight line through the gaps over log-compute
would cross zero beyond it (an extrapolation, with the spread that the gaps' own intervals give it).

The gap at each size is that size's headline verdict's paired bootstrap (BERT minus GPT: positive means BERT
scores higher; for a lower-is-better metric the sign is read the other way by the report's words, not here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from pretrain.compare.analysis.bootstrap import PairedDifference
from pretrain.compare.schema import ComparisonResults, TaskResults
from tasks.registry import task_record

Z95 = 1.959963984540054  # the 95% interval's half-width in standard errors, to read a standard error back
TREND_DRAWS = 4000
# How far past the largest size an extrapolated crossing is still reported, in decades of compute.
EXTRAPOLATION_DECADES = 3.0


@dataclass
class FamilyScore:
    """A family's test score at one size (mean and 95% interval over its runs) and its pretraining FLOPs."""

    mean: float
    ci_low: float
    ci_high: float
    flops: float | None


@dataclass
class LadderPoint:
    """One size of one task."""

    size: str
    flops: float | None  # pretraining FLOPs, the families' mean (matched budgets make them nearly equal)
    non_embedding_params: dict[str, int]
    scores: dict[str, FamilyScore]
    gap: PairedDifference | None  # BERT - GPT on the headline metric
    significant: bool  # the size's own verdict (both of its tests)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gap": self.gap.to_dict() if self.gap else None}


@dataclass
class Trend:
    """A least-squares line of the gap over log10(FLOPs) and where it crosses zero beyond the largest size."""

    slope_per_decade: float
    intercept: float
    crossing_flops: float | None  # the fitted line's zero, when it lies past the ladder within the horizon
    crossing_low: float | None  # 2.5% / 97.5% of the crossings of lines through gaps drawn within their intervals
    crossing_high: float | None
    crossing_share: float  # the share of those draws whose line crosses zero past the ladder within the horizon


@dataclass
class TaskLadder:
    task: str
    metric: str
    points: list[LadderPoint]
    baselines: dict[str, float]
    references: dict[str, float]
    sign_change: list[str] = field(default_factory=list)  # [smaller size, larger size] where the gap's sign flips
    trend: Trend | None = None
    higher_is_better: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "metric": self.metric, "points": [p.to_dict() for p in self.points],
                "baselines": self.baselines, "references": self.references, "sign_change": self.sign_change,
                "trend": asdict(self.trend) if self.trend else None, "higher_is_better": self.higher_is_better}

    def sentence(self) -> str:
        """What the ladder says of this task's winner as the models grow, in one or two sentences."""
        known = [p for p in self.points if p.gap is not None]
        if len(known) < 2:
            return "Fewer than two sizes have a result: the ladder says nothing about a trend."
        gaps = ", ".join(f"{p.size} {p.gap.difference:+.3f}{'' if p.significant else ' (n.s.)'}"
                         for p in known if p.gap is not None)
        text = f"BERT - GPT by size: {gaps}. "
        if self.sign_change:
            smaller, larger = self.sign_change
            text += f"The gap changes sign between {smaller} and {larger}"
            ends = [p for p in known if p.size in self.sign_change]
            text += (", and both sides are significant." if all(p.significant for p in ends) else
                     ", but not both sides are significant: the change may be noise.")
        else:
            bert_higher = known[0].gap is not None and known[0].gap.difference > 0
            ahead = "BERT" if bert_higher == self.higher_is_better else "GPT"
            text += f"The gap keeps its sign over the ladder ({ahead} ahead at every size)."
        t = self.trend
        if t is not None:
            text += f" Extrapolation (a straight line over log-compute, slope {t.slope_per_decade:+.3f} per decade): "
            if t.crossing_flops is not None and t.crossing_low is not None and t.crossing_high is not None:
                text += (f"it reaches zero at about {t.crossing_flops:.1e} FLOPs (gaps drawn within their intervals: "
                         f"{t.crossing_low:.1e} to {t.crossing_high:.1e}, {t.crossing_share:.0%} of draws cross within "
                         f"{EXTRAPOLATION_DECADES:g} decades); an extrapolation beyond the sizes measured.")
            else:
                text += (f"no crossing within {EXTRAPOLATION_DECADES:g} decades past the largest size "
                         f"({t.crossing_share:.0%} of draws cross).")
        return text


def headline_metric(task: str, entry: TaskResults | None) -> str:
    """The metric a size's verdicts are called on (its first verdict's), else the task's primary metric."""
    return entry.verdicts[0].metric if entry is not None and entry.verdicts else task_record(task).primary.key


def ladder_point(size: str, results: ComparisonResults, task: str) -> LadderPoint | None:
    """The task's point at one size from that size's results; None when the task has no result there."""
    entry = results.tasks.get(task)
    final = entry.final() if entry is not None else None
    if entry is None or final is None:
        return None
    metric = headline_metric(task, entry)
    scores = {family: FamilyScore(g.metrics[metric].mean, g.metrics[metric].ci_low, g.metrics[metric].ci_high,
                                  g.flops)
              for family, g in final.items() if metric in g.metrics}
    flops = [s.flops for s in scores.values() if s.flops is not None]
    params = {family: p.result.model.non_embedding_params
              for family, p in results.pretraining.items() if p.result is not None}
    verdict = entry.verdicts[0] if entry.verdicts else None
    return LadderPoint(size, float(np.mean(flops)) if flops else None, params, scores,
                       verdict.paired_bootstrap if verdict else None,
                       bool(verdict.verdict.significant) if verdict else False)


def task_ladder(task: str, sizes: list[tuple[str, ComparisonResults]], seed: int = 0) -> TaskLadder:
    """The task over every size (in the ladder's order, smallest first)."""
    points = [p for name, results in sizes if (p := ladder_point(name, results, task)) is not None]
    first = next((results.tasks[task] for _, results in sizes if task in results.tasks), None)
    metric = headline_metric(task, first)
    ladder = TaskLadder(task, metric, points, dict(first.baselines) if first else {},
                        dict(first.references) if first else {},
                        higher_is_better=task_record(task).primary.higher_is_better)
    known = sorted((p for p in points if p.gap is not None and p.flops is not None), key=lambda p: p.flops or 0.0)
    ladder.sign_change = sign_change(known)
    if len(known) >= 3 and not ladder.sign_change:
        ladder.trend = fit_trend(known, np.random.default_rng(seed))
    return ladder


def sign_change(points: list[LadderPoint]) -> list[str]:
    """The first two neighbouring sizes (by compute) whose gaps have opposite signs; [] when none do."""
    for smaller, larger in zip(points, points[1:]):
        if smaller.gap is not None and larger.gap is not None and \
                np.sign(smaller.gap.difference) * np.sign(larger.gap.difference) < 0:
            return [smaller.size, larger.size]
    return []


def fit_trend(points: list[LadderPoint], rng: np.random.Generator, draws: int = TREND_DRAWS) -> Trend:
    """The least-squares line of the gap over log10 FLOPs, its zero past the largest size (within
    EXTRAPOLATION_DECADES), and the spread of that zero over lines through gaps drawn from normals that match each
    size's 95% interval."""
    x = np.log10([p.flops for p in points])  # type: ignore[arg-type]
    gaps = np.array([p.gap.difference for p in points])  # type: ignore[union-attr]
    se = np.array([(p.gap.ci_high - p.gap.ci_low) / (2 * Z95) for p in points])  # type: ignore[union-attr]
    slope, intercept = np.polyfit(x, gaps, 1)
    horizon = (x.max(), x.max() + EXTRAPOLATION_DECADES)

    def crossing(b: float, a: float) -> float | None:
        if b == 0:
            return None
        zero = -a / b
        return zero if horizon[0] < zero <= horizon[1] else None

    drawn = gaps + se * rng.standard_normal((draws, len(points)))
    fits = np.polynomial.polynomial.polyfit(x, drawn.T, 1)  # (2, draws): intercepts, slopes
    zeros = [z for a, b in fits.T if (z := crossing(float(b), float(a))) is not None]
    point = crossing(float(slope), float(intercept))
    if point is None or not zeros:
        return Trend(float(slope), float(intercept), None, None, None, len(zeros) / draws)
    return Trend(float(slope), float(intercept), float(10**point), float(10 ** np.percentile(zeros, 2.5)),
                 float(10 ** np.percentile(zeros, 97.5)), len(zeros) / draws)


def ladder_tasks(sizes: list[tuple[str, ComparisonResults]]) -> dict[str, TaskLadder]:
    """Every task any size has, over every size."""
    tasks = list(dict.fromkeys(task for _, results in sizes for task in results.tasks))
    return {task: task_ladder(task, sizes) for task in tasks}
