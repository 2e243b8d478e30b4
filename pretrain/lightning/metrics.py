"""Pretraining metrics: torchmetrics objects, one collection per split, plus the trivial baselines.

Perplexity and bits per byte are derived from the mean token loss at compute time, so they are
exact over the whole split (exp of the mean, not the mean of per-batch exps).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import MeanMetric, Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from pretrain.models.loss import IGNORE_INDEX


class UnigramBaseline(Metric):
    """Frequencies of the prediction targets -> the two trivial baselines every score is shown next to.

    `ppl`: perplexity of the best unigram model of these very targets (exp of their entropy), a
    lower bound for any context-free predictor, so beating it means the model uses context.
    `majority_acc`: accuracy of always predicting the most frequent target token.
    """

    full_state_update = False
    counts: Tensor

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.add_state("counts", default=torch.zeros(vocab_size, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, targets: Tensor) -> None:
        targets = targets[targets != IGNORE_INDEX]
        self.counts += torch.bincount(targets.flatten(), minlength=self.vocab_size)

    def compute(self) -> dict[str, Tensor]:
        total = self.counts.sum().clamp(min=1)
        p = self.counts[self.counts > 0].double() / total
        entropy = -(p * p.log()).sum()
        return {"ppl": entropy.exp().float(), "majority_acc": (self.counts.max() / total).float()}


def token_metrics(vocab_size: int, *, loss_name: str, acc_name: str | None) -> MetricCollection:
    """Token-weighted mean loss (nats per predicted token) and, optionally, top-1 token accuracy."""
    # nan_strategy "disable": the default checks every update for NaN on the host (a GPU sync per step) and drops
    # it silently; a NaN loss should show in the mean instead (and stops training: NonFiniteLossGuard).
    metrics: dict[str, Metric] = {loss_name: MeanMetric(nan_strategy="disable")}
    if acc_name is not None:
        metrics[acc_name] = MulticlassAccuracy(vocab_size, average="micro", ignore_index=IGNORE_INDEX)
    return MetricCollection(metrics)


def perplexity(mean_loss: Tensor) -> Tensor:
    """exp(mean NLL in nats), clamped so that a diverged model logs inf-free numbers."""
    return mean_loss.clamp(max=50.0).exp()


def bits_per_byte(mean_loss: Tensor, bytes_per_token: float) -> Tensor:
    """Nats per token -> bits per UTF-8 byte, comparable across tokenizers (Gao et al. 2020, arXiv:2101.00027)."""
    return mean_loss / math.log(2.0) / bytes_per_token
