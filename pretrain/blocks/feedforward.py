"""Position-wise feed-forward network."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig


def activation(name: str, x: Tensor) -> Tensor:
    """Pointwise activation by name. GPT-2 uses the tanh approximation of GELU."""
    if name == "gelu":
        return F.gelu(x)
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu(x)
    raise ValueError(f"activation={name!r} is not a pointwise activation")


class FeedForward(nn.Module):
    """d_model -> d_ff -> d_model. SwiGLU gates the hidden layer (Shazeer 2020, arXiv:2002.05202)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.activation = config.activation
        gated = config.activation == "swiglu"
        # One matmul for gate and value together: cheaper than two on every device.
        self.fc_in = nn.Linear(config.d_model, config.d_ff * (2 if gated else 1), bias=config.bias)
        self.fc_out = nn.Linear(config.d_ff, config.d_model, bias=config.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc_in(x)  # (B, T, F) or (B, T, 2F)
        if self.activation == "swiglu":
            gate, value = h.chunk(2, dim=-1)
            h = F.silu(gate) * value
        else:
            h = activation(self.activation, h)
        return self.fc_out(h)
