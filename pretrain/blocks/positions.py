"""Position information: added to the embeddings (learned, sinusoidal) or rotated into q/k (RoPE)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_table(max_positions: int, dim: int) -> Tensor:
    """Fixed sin/cos position table (Vaswani et al. 2017, arXiv:1706.03762, section 3.5)."""
    position = torch.arange(max_positions, dtype=torch.float32).unsqueeze(1)  # (P, 1)
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_positions, dim)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq[: dim // 2])
    return table  # (P, D)


class SinusoidalPositions(nn.Module):
    def __init__(self, max_positions: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("table", sinusoidal_table(max_positions, dim), persistent=False)

    def forward(self, position_ids: Tensor) -> Tensor:
        return self.table[position_ids]  # (B, T, D)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al. 2021, arXiv:2104.09864), rotate-half layout as in GPT-NeoX.

    Produces (cos, sin) for the given positions; `apply_rotary` rotates q and k with them,
    so attention scores depend only on relative position.
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, position_ids: Tensor) -> tuple[Tensor, Tensor]:
        freqs = position_ids.float().unsqueeze(-1) * self.inv_freq  # (B, T, Dh/2)
        angles = torch.cat((freqs, freqs), dim=-1).unsqueeze(1)  # (B, 1, T, Dh)
        return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate x (B, H, T, Dh) by the angles in cos/sin (B, 1, T, Dh)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return (x * cos.to(x.dtype)) + (rotated * sin.to(x.dtype))
