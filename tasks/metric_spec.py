"""One logged metric as the comparison judges it: its key, its label, which way is better, its trivial
baselines and its classical reference.

Key names follow the suite's `split/name` convention. A task's metrics are keyed on the test split (what
its results report); `on(split)` gives the same metric on another split (a checkpoint monitor is `val/...`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    key: str  # as logged, e.g. "test/entity_f1"
    label: str  # for tables and plots
    higher_is_better: bool
    baseline_keys: tuple[str, ...] = ()  # the trivial baselines' keys in the same results, if any
    # The classical reference's key (pretrain.compare.analysis.references): shown beside the scores, never judged
    # against.
    reference_key: str | None = None

    @property
    def name(self) -> str:
        """The key without its split: what a module logs under every split (`acc` of `test/acc`)."""
        return self.key.split("/", 1)[-1]

    def on(self, split: str) -> str:
        """This metric's key on `split` (`val` -> `val/acc`)."""
        return f"{split}/{self.name}"

    def strongest_baseline(self, values: dict[str, float]) -> tuple[str, float] | None:
        """The best of this metric's trivial baselines that `values` holds: the one a model must beat."""
        known = [(key, values[key]) for key in self.baseline_keys if key in values]
        if not known:
            return None
        return (max if self.higher_is_better else min)(known, key=lambda kv: kv[1])


# The training objective's loss, which every task module logs on every split (lower is better): a checkpoint
# monitor may name it, the report does not.
TASK_LOSS = MetricSpec("test/loss", "loss", False)
