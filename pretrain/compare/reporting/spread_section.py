"""The report's pretraining spread of a task (plans with several pretraining seeds): each family's headline score
per pretraining seed, the families' gap per seed, and the spread a one-run-per-family verdict is judged against."""

from __future__ import annotations

from pretrain.compare.schema import TaskResults


def spread_lines(entry: TaskResults) -> list[str]:
    """A table with one row per pretraining seed; [] when the plan had one pretraining seed."""
    spread = entry.pretraining_spread
    if spread is None:
        return []
    families = list(spread.seed_means)
    header = " | ".join(f.upper() for f in families)
    lines = [f"Pretraining spread ({spread.metric}, mean over each pretraining seed's fine-tuning seeds):", "",
             f"| pretraining seed | {header} | gap |", "|---:|" + "---:|" * (len(families) + 1)]
    for seed, gap in sorted(spread.gaps.items()):
        cells = " | ".join(f"{spread.seed_means[f][seed]:.4f}" for f in families)
        lines.append(f"| {seed} | {cells} | {gap:+.4f} |")
    sds = " | ".join(f"{spread.family_sd[f]:.4f}" for f in families)
    lines += [f"| sd | {sds} | {spread.gap_sd:.4f} |", "",
              f"A plan with one pretraining run per family sees gaps spread by about {spread.gap_sd:.3g} (sd) from "
              f"pretraining alone: set finetune.pretraining_spread.<task> to it and its verdicts are judged "
              f"against it."]
    return lines
