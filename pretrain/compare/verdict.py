"""Plain-language verdicts: which family is better on a metric, and whether that difference is real.

A difference counts as significant only when Welch's test rejects equality at
alpha = 0.05 *and* the two 95% intervals do not overlap. Requiring both is
conservative on purpose: a report that over-claims is worse than one that says
"not significant" (non-overlapping intervals imply p < 0.05 roughly, not the converse;
Schenker & Gentleman 2001).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pretrain.compare.stats import Summary, welch_p_value

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
    baseline: float | None = None, alpha: float = ALPHA,
) -> Verdict:
    """Compare two families' summaries of one metric and say so in one or two sentences."""
    (name_a, a), (name_b, b) = first, second
    p = welch_p_value(a.values, b.values)
    diff = a.mean - b.mean
    better, worse = (name_a, name_b) if (diff > 0) == higher_is_better else (name_b, name_a)
    overlap = a.ci_low <= b.ci_high and b.ci_low <= a.ci_high
    numbers = f"{name_a} {_fmt(a)} vs {name_b} {_fmt(b)}"
    if p is None:
        text = (
            f"{metric}: {numbers}. Not enough seeds to test significance (need at least 2 per family, "
            f"have {a.n} and {b.n}); no winner is claimed."
        )
        significant = False
    elif diff == 0 or p >= alpha or overlap:
        reason = f"p = {p:.3g}" + (", 95% intervals overlap" if overlap else "")
        text = f"{metric}: {numbers}. The difference is not significant ({reason})."
        significant = False
    else:
        text = f"{metric}: {better} is better ({numbers}); the difference is significant (Welch p = {p:.3g})."
        significant = True
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
