"""Plain-language verdicts: which family is better on a metric, and whether that difference is real.

Two sources of chance are tested separately, and a difference counts as significant only when
it survives both:
- runs (fine-tuning seeds, and pretraining seeds when the plan has several): Welch's test rejects
  equality at alpha = 0.05 *and* the two 95% intervals over runs do not overlap (non-overlap
  implies p < 0.05 roughly, not the converse; Schenker & Gentleman 2001). With one run per family
  this test cannot be made and is skipped, which the text says;
- the paired hierarchical bootstrap (`bootstrap.paired_difference`): its 95% interval of the difference,
  over pretraining seeds, fine-tuning seeds and test documents (as many of those levels as the runs have),
  excludes zero.
Requiring both is conservative on purpose: a report that over-claims is worse than one that says
"not significant".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pretrain.compare.analysis.bootstrap import PairedDifference
from pretrain.compare.analysis.stats import Summary, welch_p_value

ALPHA = 0.05


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # family name, or None when there is no significant difference
    significant: bool
    p_value: float | None
    difference: float  # mean(first) - mean(second), in the metric's units
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    metric: str, first: tuple[str, Summary], second: tuple[str, Summary], *, higher_is_better: bool,
    baseline: float | None = None, alpha: float = ALPHA, paired: PairedDifference | None = None,
) -> Verdict:
    """Compare two families' summaries of one metric (and, when given, the paired bootstrap of their
    difference) and say so in one or two sentences."""
    (name_a, a), (name_b, b) = first, second
    p = welch_p_value(a.values, b.values)
    diff = a.mean - b.mean
    better, worse = (name_a, name_b) if (diff > 0) == higher_is_better else (name_b, name_a)
    overlap = a.ci_low <= b.ci_high and b.ci_low <= a.ci_high
    numbers = f"{name_a} {_fmt(a)} vs {name_b} {_fmt(b)}"
    reasons = []  # why the difference is not significant
    tests = []  # what supports it
    if p is None and paired is None:
        reasons.append(f"not enough seeds to test (need at least 2 per family, have {a.n} and {b.n}) "
                       "and no per-example scores for a bootstrap")
    if p is not None:
        if diff == 0 or p >= alpha or overlap:
            reasons.append(f"over runs p = {p:.3g}" + (", 95% intervals overlap" if overlap else ""))
        else:
            tests.append(f"Welch p = {p:.3g} over runs")
    if paired is not None:
        interval = f"paired bootstrap over {paired.scope}: difference {paired.difference:+.3g}, " \
                   f"95% interval [{paired.ci_low:+.3g}, {paired.ci_high:+.3g}]"
        (tests if paired.excludes_zero and diff != 0 else reasons).append(interval)
    significant = not reasons
    if significant:
        text = f"{metric}: {better} is better ({numbers}); the difference is significant ({'; '.join(tests)})."
    else:
        text = f"{metric}: {numbers}. The difference is not significant ({'; '.join(reasons + tests)})."
    if p is None and paired is not None:
        text += f" One run per family: no test over runs; the bootstrap interval covers {paired.covers}."
    if baseline is not None:
        beats = [n for n, s in ((name_a, a), (name_b, b)) if (s.mean > baseline) == higher_is_better]
        if len(beats) == 2:
            text += f" Both beat the trivial baseline ({baseline:.4g})."
        elif beats:
            text += f" Only {beats[0]} beats the trivial baseline ({baseline:.4g})."
        else:
            text += f" Neither beats the trivial baseline ({baseline:.4g})."
    return Verdict(better if significant else None, significant, p, diff, text)


def _fmt(s: Summary) -> str:
    if s.n < 2:
        return f"{s.mean:.4g} (1 seed)"
    return f"{s.mean:.4g} ± {s.half_width:.2g} (n={s.n})"
