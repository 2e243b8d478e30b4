"""Token + segment (type) + position embeddings."""

from __future__ import annotations

from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.norms import build_norm
from pretrain.blocks.positions import SinusoidalPositions


class Embeddings(nn.Module):
    """Sum of token, optional segment and additive position embeddings, then optional norm and dropout.

    BERT (arXiv:1810.04805, fig. 2) sums all three and normalises; GPT-2 sums token and
    position only. With RoPE no position is added here: it is rotated into q/k instead.
    Without a segment table (type_vocab_size 0, ModernBERT) segment ids are ignored.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.segments = nn.Embedding(config.type_vocab_size, config.d_model) if config.type_vocab_size else None
        self.positions: nn.Module | None = None
        if config.position == "learned":
            self.positions = nn.Embedding(config.max_positions, config.d_model)
        elif config.position == "sinusoidal":
            self.positions = SinusoidalPositions(config.max_positions, config.d_model)
        self.norm = build_norm(config) if config.embedding_norm else None
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: Tensor, position_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        x = self.tokens(input_ids)  # (B, T, D)
        if self.segments is not None:
            x = x + self.segments(input_ids.new_zeros(()) if token_type_ids is None else token_type_ids)
        if self.positions is not None:
            x = x + self.positions(position_ids)
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x)
