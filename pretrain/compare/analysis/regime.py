"""The data regime a pretraining run trained in: how much unique text it read, how often, and how far its
training loss fell below its validation loss.

Repetition bears on the comparison itself: masked objectives keep gaining over many epochs where causal LM's
returns fade near 16 (Muennighoff et al. 2023, arXiv:2305.16264), and diffusion/masked models out-learn causal
ones when data repeats (Prabhudesai et al. 2025, arXiv:2507.15857). Real pretraining runs near one epoch, so a
report that does not say its epochs cannot be read against the field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the schema writes each run's regime into results.json; only the type is needed here
    from pretrain.compare.schema import PretrainResult

TRAIN_LOSS_TAIL = 0.1  # the training loss is averaged over the last tenth of the logged steps (per-batch values)


@dataclass(frozen=True)
class DataRegime:
    unique_tokens: float | None  # tokens of the training split (None: streamed, unknown)
    tokens_seen: float
    epochs: float | None  # tokens seen / unique tokens
    train_loss: float | None  # mean logged training loss over the last tenth of the run
    val_loss: float | None  # the final validation loss
    loss_gap: float | None  # validation minus training loss: grows as a model memorises repeated text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_regime(result: PretrainResult) -> DataRegime:
    """The regime of one pretraining run, from its curve and its logged training-split size."""
    steps = [int(point["step"]) for point in result.curve if "train/loss" in point]
    train_loss = None
    if steps:
        since = max(steps) - TRAIN_LOSS_TAIL * max(steps)
        tail = [point["train/loss"] for point in result.curve if "train/loss" in point and point["step"] >= since]
        train_loss = sum(tail) / len(tail)
    val_loss = result.metrics.get("val/loss")
    unique = result.train_tokens
    return DataRegime(
        unique_tokens=unique, tokens_seen=result.tokens_seen,
        epochs=result.tokens_seen / unique if unique else None,
        train_loss=train_loss, val_loss=val_loss,
        loss_gap=val_loss - train_loss if val_loss is not None and train_loss is not None else None,
    )
