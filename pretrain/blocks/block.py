"""The one transformer block every model is assembled from."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.attention.flex_attention import BlockMask

from pretrain.blocks.attention import MultiHeadAttention
from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.feedforward import FeedForward
from pretrain.blocks.kv_cache import KVCache
from pretrain.blocks.norms import build_norm


class TransformerBlock(nn.Module):
    """Self-attention, optional cross-attention, feed-forward; each a residual sub-layer.

    Norm placement is configuration: post-LN as in BERT (arXiv:1810.04805) and the
    original Transformer, pre-LN as in GPT-2 (Radford et al. 2019; Xiong et al. 2020,
    arXiv:2002.04745, on why pre-LN trains stably without warmup tricks).
    Causality is a forward argument, so encoder and decoder share this code; so is the mask,
    which the stack builds once per attention kind (global, sliding window) and hands to each block.
    """

    def __init__(self, config: TransformerConfig, *, layer: int = 0, cross_attention: bool = False) -> None:
        super().__init__()
        self.pre_norm = config.norm_placement == "pre"
        self.local = config.is_local(layer)  # attends through the sliding window (the stack builds its mask)
        # ModernBERT's first block reads the embedding norm's output directly (arXiv:2412.13663).
        self.attn_norm = build_norm(config) if layer or config.first_attention_norm else nn.Identity()
        self.attn = MultiHeadAttention(config)
        self.cross_norm = build_norm(config) if cross_attention else None
        self.cross_attn = MultiHeadAttention(config, cross=True) if cross_attention else None
        self.ffn_norm = build_norm(config)
        self.ffn = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def _residual(self, x: Tensor, update: Tensor, norm: nn.Module) -> Tensor:
        x = x + self.dropout(update)
        return x if self.pre_norm else norm(x)

    def _input(self, x: Tensor, norm: nn.Module) -> Tensor:
        return norm(x) if self.pre_norm else x

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | BlockMask | None = None,
        is_causal: bool = False,
        rope: tuple[Tensor, Tensor] | None = None,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """x (B, T, D) -> (B, T, D), plus self-attention probabilities (B, H, T, S) if asked."""
        h, weights = self.attn(
            self._input(x, self.attn_norm), mask=mask, is_causal=is_causal, rope=rope,
            cache=cache, need_weights=need_weights,
        )
        x = self._residual(x, h, self.attn_norm)
        if self.cross_attn is not None and self.cross_norm is not None:
            h, _ = self.cross_attn(
                self._input(x, self.cross_norm), mask=context_mask, context=context, cache=cache
            )
            x = self._residual(x, h, self.cross_norm)
        x = self._residual(x, self.ffn(self._input(x, self.ffn_norm)), self.ffn_norm)
        return x, weights
