"""Output heads: masked-LM and next-sentence prediction (BERT), language-model head (GPT)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.feedforward import activation
from pretrain.blocks.norms import build_norm


class MaskedLMHead(nn.Module):
    """dense -> activation -> norm -> vocabulary projection tied to the token embeddings (+ bias),
    as in BERT's `cls.predictions` (arXiv:1810.04805, appendix A.1)."""

    def __init__(self, config: TransformerConfig, token_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.activation = "gelu" if config.activation == "swiglu" else config.activation
        self.dense = nn.Linear(config.d_model, config.d_model, bias=config.bias)
        self.norm = build_norm(config)
        self.decoder = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.decoder.weight = token_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: Tensor) -> Tensor:
        h = self.norm(activation(self.activation, self.dense(hidden)))
        return self.decoder(h) + self.bias  # (..., V)


class Pooler(nn.Module):
    """tanh(W h_[CLS] + b): the sentence representation BERT's NSP and classifiers read."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model, bias=config.bias)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, D)


class LMHead(nn.Module):
    """Projection to the vocabulary, tied to the token embeddings as in GPT-2 (Press & Wolf 2017)."""

    def __init__(self, config: TransformerConfig, token_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.decoder = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.decoder.weight = token_embeddings.weight

    def forward(self, hidden: Tensor) -> Tensor:
        return self.decoder(hidden)  # (B, T, V)
