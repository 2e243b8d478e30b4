"""Label conventions every loss shares, and the cross-entropy of per-token logits.

Next-token training goes through `GptModel.lm_loss`, which fuses the LM head into a chunked loss and
never builds the logits; `token_cross_entropy` is for where the logits exist anyway (BERT's MLM head
generating, evaluation that also feeds torchmetrics' Perplexity).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100  # labels that are not predicted (prompt, padding, unmasked tokens): cross_entropy's default


def next_token_targets(labels: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """labels (B, T) -> targets (B, T - 1): position t predicts labels[t + 1]; padded tokens are IGNORE_INDEX."""
    targets = labels[:, 1:]
    if attention_mask is not None:
        targets = targets.masked_fill(attention_mask[:, 1:] == 0, IGNORE_INDEX)
    return targets


def token_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of logits (..., V) against the aligned labels (...), IGNORE_INDEX skipped."""
    return F.cross_entropy(logits.flatten(0, -2), labels.flatten(), ignore_index=IGNORE_INDEX)
