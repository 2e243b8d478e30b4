"""The report's data regime: per family, the unique training tokens, the epochs read over them, and the gap
between the final validation loss and the training loss (pretrain.compare.analysis.regime)."""

from __future__ import annotations

from pretrain.compare.analysis.regime import data_regime
from pretrain.compare.schema import ComparisonResults

# Where real pretraining runs: near one pass over its data. Past this the report says the plan repeats its data.
REPEATED_ABOVE_EPOCHS = 2.0


def regime_lines(results: ComparisonResults) -> list[str]:
    """A table row per pretrained arm and one sentence on what regime that is; [] when nothing was pretrained."""
    regimes = {arm: data_regime(entry.result) for arm, entry in results.pretraining.items()
               if entry.result is not None and entry.result.tokens_seen}
    if not regimes:
        return []
    lines = ["| arm | unique training tokens | tokens seen | epochs | training loss (last tenth) | "
             "validation loss | gap |", "|---|---:|---:|---:|---:|---:|---:|"]
    for arm, r in regimes.items():
        lines.append(f"| {arm.upper()} | {_num(r.unique_tokens, ',.0f')} | {r.tokens_seen:,.0f} | "
                     f"{_num(r.epochs, '.2f')} | {_num(r.train_loss, '.3f')} | {_num(r.val_loss, '.3f')} | "
                     f"{_num(r.loss_gap, '+.3f')} |")
    epochs = [r.epochs for r in regimes.values() if r.epochs is not None]
    lines.append("")
    if not epochs:
        lines.append("The training split's size is unknown (streamed data): epochs not computed.")
    elif max(epochs) > REPEATED_ABOVE_EPOCHS:
        lines.append(f"This plan repeats its data (up to {max(epochs):.1f} passes): masked objectives are known to "
                     "gain more than causal LM from repeated epochs (Muennighoff et al. 2023), so the comparison "
                     "is of a data-constrained regime, not the near-one-epoch regime of real pretraining.")
    else:
        lines.append(f"At most {max(epochs):.2f} passes over the training text: the regime of real pretraining, "
                     "where repetition does not favour either objective. A gap near zero says the model did not "
                     "memorise its training text.")
    return lines


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
