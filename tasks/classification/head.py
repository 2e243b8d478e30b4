"""Sequence classification head: one vector per input, then dropout and a linear layer.

BERT: its pretrained pooler over [CLS] (tanh(W h_[CLS] + b)), the representation NSP trained
(Devlin et al. 2018, section 4.1). GPT: the hidden state of the last non-padding token, the
"extract" token that has attended to the whole input (Radford et al. 2018, section 3.3).
Mean pooling (the mean hidden state over the real tokens, as Sentence-BERT, Reimers & Gurevych
2019) reads both families the same way, so that a difference between them is not the readout's.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

Pooling = Literal["native", "mean"]


def sequence_features(hidden: Tensor, attention_mask: Tensor, pooler: nn.Module | None,
                      pooling: Pooling = "native") -> Tensor:
    """hidden (B, T, D), right-padded -> (B, D): "native" = pooled [CLS] (BERT, given its `pooler`) or the
    last real token (GPT); "mean" = the mean over the real tokens, for either family."""
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if pooler is not None:
        return pooler(hidden)  # reads position 0 = [CLS]
    last = attention_mask.sum(dim=1) - 1  # (B,) index of the last real token
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class ClassificationHead(nn.Module):
    def __init__(self, d_model: int, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, num_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)  # BERT's initializer_range
        nn.init.zeros_(self.classifier.bias)

    def forward(self, features: Tensor) -> Tensor:
        return self.classifier(self.dropout(features))  # (B, num_labels)
