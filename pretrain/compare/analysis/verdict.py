"""Plain-language verdicts: which family is better on a metric, and whether that difference is real.

Two sources of chance are tested separately, and a difference counts as significant only when
it survives both:
- runs (fine-tuning seeds, and pretraining seeds when the plan has several): Welch's test rejects
  equality at alpha = 0.05 *and* the two 95% intervals over runs do not overlap (non-overlap
  implies p < 0.05 roughly, not the converse; Schenker & Gentleman 2001). With one run per family
  this test cannot be made and is skipped, which the text says;
- the paired hierarchical bootstrap (`bootstrap.paired_difference`, over pretraining seeds, fine-tuning
  seeds and test documents, as many of those levels as the runs have): its two-sided p-value is below
  alpha, i.e. its 95% interval of the difference excludes zero.
With one pretraining run per family neither test sees pretraining variance; when a plan with several
pretraining seeds measured it (pretrain.compare.analysis.pretraining_spread), the gap must also lie outside
1.96 standard deviations of that measured spread (a normal 95% band around zero) to be called.
Requiring all of them is conservative on purpose: a report that over-claims is worse than one that says
"not significant". `judge` is the rule; the arms comparisons apply it with both p-values corrected for
their number (`Adjusted`, pretrain.compare.analysis.arms).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pretrain.compare.analysis.bootstrap import PairedDifference, format_p
from pretrain.compare.analysis.stats import Summary, welch_p_value

ALPHA = 0.05
SPREAD_Z = 1.96  # a two-sided 95% band of a normal with the measured spread


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # family name, or None when there is no significant difference
    significant: bool
    p_value: float | None
    difference: float  # mean(first) - mean(second), in the metric's units
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Adjusted:
    """Both tests' p-values after a correction for the number of comparisons (pretrain.compare.analysis.arms):
    what the two-test rule compares with alpha instead of the raw ones. None: that test could not be made."""

    runs: float | None  # Welch's, over runs
    bootstrap: float | None
    bootstrap_bound: bool = False  # computed from a bootstrap p below its resolution: an upper bound
    method: str = "Holm"


@dataclass(frozen=True)
class Judgement:
    """The two-test rule on one difference: whether it is significant, and the evidence either way."""

    significant: bool
    runs_p: float | None  # Welch's raw p over runs; None with fewer than 2 runs per side
    supports: list[str]  # what supports the difference
    against: list[str]  # why it is not significant

    @property
    def evidence(self) -> str:
        return "; ".join(self.against + self.supports)


def judge(a: Summary, b: Summary, paired: PairedDifference | None, *, alpha: float = ALPHA,
          adjusted: Adjusted | None = None, pretraining_spread: float | None = None) -> Judgement:
    """The two-test rule (module docstring) on mean(a) - mean(b): runs, then the paired bootstrap; with
    `adjusted`, each test compares its corrected p-value with alpha and both raw and corrected are shown.
    `pretraining_spread`: the measured standard deviation of this gap between single pretraining runs, for a
    plan with one run per family."""
    p = welch_p_value(a.values, b.values)
    diff = a.mean - b.mean
    overlap = a.ci_low <= b.ci_high and b.ci_low <= a.ci_high
    against, supports = [], []
    if p is None and paired is None:
        against.append(f"not enough seeds to test (need at least 2 per family, have {a.n} and {b.n}) "
                       "and no per-example scores for a bootstrap")
    if p is not None:
        runs_p = p if adjusted is None or adjusted.runs is None else adjusted.runs
        shown = f"p = {p:.3g}" + (f", {adjusted.method} p = {runs_p:.3g}" if adjusted is not None else "")
        if diff == 0 or runs_p >= alpha or overlap:
            against.append(f"over runs {shown}" + (", 95% intervals overlap" if overlap else ""))
        else:
            supports.append(f"Welch {shown} over runs")
    if paired is not None:
        boot_p = paired.p_value if adjusted is None or adjusted.bootstrap is None else adjusted.bootstrap
        shown = paired.p_text + ("" if adjusted is None or adjusted.bootstrap is None else
                                 ", " + format_p(boot_p, name=f"{adjusted.method} p", bound=adjusted.bootstrap_bound))
        interval = f"paired bootstrap over {paired.scope}: difference {paired.difference:+.3g}, " \
                   f"95% interval [{paired.ci_low:+.3g}, {paired.ci_high:+.3g}], {shown}"
        (supports if boot_p < alpha and diff != 0 else against).append(interval)
    if pretraining_spread is not None:
        bound = SPREAD_Z * pretraining_spread
        inside = abs(diff) <= bound
        (against if inside else supports).append(
            f"gap {diff:+.3g} {'inside' if inside else 'outside'} the measured pretraining-seed spread "
            f"({SPREAD_Z:g} x sd {pretraining_spread:.3g} = {bound:.3g})")
    return Judgement(not against, p, supports, against)


def compare(
    metric: str, first: tuple[str, Summary], second: tuple[str, Summary], *, higher_is_better: bool,
    baseline: float | None = None, alpha: float = ALPHA, paired: PairedDifference | None = None,
    pretraining_spread: float | None = None,
) -> Verdict:
    """Compare two families' summaries of one metric (and, when given, the paired bootstrap of their
    difference) and say so in one or two sentences."""
    (name_a, a), (name_b, b) = first, second
    judgement = judge(a, b, paired, alpha=alpha, pretraining_spread=pretraining_spread)
    diff = a.mean - b.mean
    better = name_a if (diff > 0) == higher_is_better else name_b
    numbers = f"{name_a} {_fmt(a)} vs {name_b} {_fmt(b)}"
    if judgement.significant:
        text = (f"{metric}: {better} is better ({numbers}); the difference is significant "
                f"({'; '.join(judgement.supports)}).")
    else:
        text = f"{metric}: {numbers}. The difference is not significant ({judgement.evidence})."
    if judgement.runs_p is None and paired is not None:
        text += f" One run per family: no test over runs; the bootstrap interval covers {paired.covers}."
    if baseline is not None:
        beats = [n for n, s in ((name_a, a), (name_b, b)) if (s.mean > baseline) == higher_is_better]
        if len(beats) == 2:
            text += f" Both beat the trivial baseline ({baseline:.4g})."
        elif beats:
            text += f" Only {beats[0]} beats the trivial baseline ({baseline:.4g})."
        else:
            text += f" Neither beats the trivial baseline ({baseline:.4g})."
    return Verdict(better if judgement.significant else None, judgement.significant, judgement.runs_p, diff, text)


def _fmt(s: Summary) -> str:
    if s.n < 2:
        return f"{s.mean:.4g} (1 seed)"
    return f"{s.mean:.4g} ± {s.half_width:.2g} (n={s.n})"
