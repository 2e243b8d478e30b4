"""Output heads: masked-LM and next-sentence prediction (BERT), language-model head (GPT)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.feedforward import activation
from pretrain.blocks.norms import build_norm


class HeadTransform(nn.Module):
    """dense -> activation -> norm: the transform before the vocabulary projection of BERT's
    `cls.predictions` (arXiv:1810.04805, appendix A.1) and of ModernBERT's MLM and causal-LM heads."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        # A gated feed-forward's activation is the pointwise one of its gate (ModernBERT: GeGLU -> GELU).
        self.activation = {"swiglu": "gelu", "geglu": "gelu"}.get(config.activation, config.activation)
        self.dense = nn.Linear(config.d_model, config.d_model, bias=config.bias)
        self.norm = build_norm(config)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.norm(activation(self.activation, self.dense(hidden)))  # (..., D)


class MaskedLMHead(HeadTransform):
    """HeadTransform -> vocabulary projection tied to the token embeddings (+ bias), as in BERT."""

    def __init__(self, config: TransformerConfig, token_embeddings: nn.Embedding) -> None:
        super().__init__(config)
        self.decoder = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.decoder.weight = token_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: Tensor) -> Tensor:
        return self.decoder(super().forward(hidden)) + self.bias  # (..., V)


class Pooler(nn.Module):
    """tanh(W h_[CLS] + b): the sentence representation BERT's NSP and classifiers read."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model, bias=config.bias)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, D)


class LMHead(nn.Module):
    """Projection to the vocabulary, tied to the token embeddings as in GPT-2 (Press & Wolf 2017).

    With `config.head_transform` a HeadTransform and a vocabulary bias come first and last, as in
    ModernBERT-decoder's head, so a matched decoder's head is built like the encoder's MLM head.
    """

    def __init__(self, config: TransformerConfig, token_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.transform = HeadTransform(config) if config.head_transform else None
        self.decoder = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.decoder.weight = token_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(config.vocab_size)) if config.head_transform else None

    def features(self, hidden: Tensor) -> Tensor:
        """What the vocabulary projection reads: the hidden states, transformed if the head has a transform."""
        return hidden if self.transform is None else self.transform(hidden)

    def forward(self, hidden: Tensor) -> Tensor:
        logits = self.decoder(self.features(hidden))  # (B, T, V)
        return logits if self.bias is None else logits + self.bias
