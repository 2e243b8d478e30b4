"""Multi-head attention on torch's scaled_dot_product_attention, or FlexAttention where a mask would rule out
SDPA's fused kernels.

Shape legend: B batch, T query length, S key length, H heads, Dh head dim, D model dim.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.kv_cache import KVCache
from pretrain.blocks.positions import apply_rotary


class MultiHeadAttention(nn.Module):
    """Self-attention (bidirectional or causal) or cross-attention over a context.

    Self-attention projects q, k, v with one fused matmul; cross-attention projects
    q from x and k, v (fused) from the context, which may have another length.
    """

    def __init__(self, config: TransformerConfig, *, cross: bool = False) -> None:
        super().__init__()
        d = config.d_model
        self.cross = cross
        self.n_heads = config.n_heads
        self.head_dim = config.head_dim
        self.dropout_p = config.attention_dropout
        if cross:
            self.q_proj = nn.Linear(d, d, bias=config.bias)
            self.kv_proj = nn.Linear(d, 2 * d, bias=config.bias)
        else:
            self.qkv_proj = nn.Linear(d, 3 * d, bias=config.bias)
        self.out_proj = nn.Linear(d, d, bias=config.bias)

    def _heads(self, x: Tensor) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | BlockMask | None = None,
        is_causal: bool = False,
        context: Tensor | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """x (B, T, D); mask bool (B or 1, 1, T, S), True where a query may attend a key, or the same mask as a
        FlexAttention BlockMask (`block_mask`; no dropout, no weights, no cache).

        Returns the output (B, T, D) and, if `need_weights`, the attention probabilities (B, H, T, S).
        """
        if self.cross:
            q, k, v = self._cross_qkv(x, context, cache)
        else:
            q, k, v = (self._heads(t) for t in self.qkv_proj(x).chunk(3, dim=-1))
            if rope is not None:
                q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
            if cache is not None:
                k, v = cache.append(self, k, v)  # (B, H, S, Dh), S = cached + T
        dropout_p = self.dropout_p if self.training else 0.0
        weights = None
        if isinstance(mask, BlockMask):
            if need_weights or dropout_p or cache is not None:
                raise ValueError("a BlockMask (FlexAttention) takes no attention weights, dropout or KV cache; pass "
                                 "the boolean mask instead")
            out = _flex_attention(q.device.type)(q, k, v, block_mask=mask)
        elif need_weights:
            out, weights = _attention_with_weights(q, k, v, mask, is_causal, dropout_p, self.training)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)
        B, _, T, _ = out.shape
        out = out.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)  # (B, T, D)
        return self.out_proj(out), weights

    def _cross_qkv(
        self, x: Tensor, context: Tensor | None, cache: KVCache | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        q = self._heads(self.q_proj(x))
        cached = cache.context(self) if cache is not None else None
        if cached is not None:
            return q, cached[0], cached[1]
        if context is None:
            raise ValueError("cross-attention needs a context (the encoder output) on its first call")
        k, v = (self._heads(t) for t in self.kv_proj(context).chunk(2, dim=-1))  # (B, H, S, Dh)
        if cache is not None:
            cache.store_context(self, k, v)
        return q, k, v


def _attention_with_weights(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, is_causal: bool, dropout_p: float, training: bool
) -> tuple[Tensor, Tensor]:
    """The same computation as SDPA, spelled out so the probabilities can be returned (for plots)."""
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, T, S)
    if is_causal:
        T, S = scores.shape[-2:]
        causal = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=S - T)
        scores = scores.masked_fill(~causal, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = scores.softmax(dim=-1)
    return F.dropout(probs, p=dropout_p, training=training) @ v, probs


@functools.cache
def _flex_attention(device_type: str) -> Callable[..., Tensor]:
    """flex_attention, compiled on CUDA (its fused Triton kernel; eager flex_attention is an unfused reference)."""
    return torch.compile(flex_attention, dynamic=False) if device_type == "cuda" else flex_attention


def block_mask(mask: Tensor) -> BlockMask:
    """The boolean mask (B or 1, 1, T, S) as a FlexAttention BlockMask: the same True/False per (query, key), read
    from the tensor itself, so the two paths cannot disagree on what a query sees. FlexAttention skips the 128 x 128
    blocks with no True and applies no mask inside full ones (He et al. 2024, "FlexAttention", PyTorch blog), where
    SDPA with any boolean mask falls back from FlashAttention to its memory-efficient or math kernel."""
    rows, _, T, S = mask.shape
    dense = mask[:, 0]  # (B or 1, T, S)

    def mask_mod(b: Tensor, h: Tensor, q_idx: Tensor, kv_idx: Tensor) -> Tensor:
        return dense[b if rows > 1 else 0, q_idx, kv_idx]

    return create_block_mask(mask_mod, rows if rows > 1 else None, None, T, S, device=mask.device,
                             _compile=mask.device.type == "cuda")
