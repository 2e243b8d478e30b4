"""Sequence classification head: one vector per input, then dropout and a linear layer.

BERT: its pretrained pooler over [CLS] (tanh(W h_[CLS] + b)), the representation NSP trained
(Devlin et al. 2018, section 4.1). GPT: the hidden state of the last non-padding token, the
"extract" token that has attended to the whole input (Radford et al. 2018, section 3.3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sequence_features(hidden: Tensor, attention_mask: Tensor, pooler: nn.Module | None) -> Tensor:
    """hidden (B, T, D), right-padded -> (B, D): pooled [CLS] (BERT) or the last real token (GPT)."""
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
