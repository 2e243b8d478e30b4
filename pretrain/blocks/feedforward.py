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
    if name == "silu":
        return F.silu(x)
    raise ValueError(f"activation={name!r} is not a pointwise activation")


# The gated units: the activation applied to the first half of the input projection, which then scales
# the second half (Shazeer 2020, arXiv:2002.05202; ModernBERT's GeGLU has this order, arXiv:2412.13663).
_GATE_ACTIVATIONS = {"swiglu": "silu", "geglu": "gelu"}


class FeedForward(nn.Module):
    """d_model -> d_ff -> d_model; SwiGLU and GeGLU gate the hidden layer (Shazeer 2020, arXiv:2002.05202)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.activation = config.activation
        # One matmul for gate and value together: cheaper than two on every device.
        self.fc_in = nn.Linear(config.d_model, config.d_ff * (2 if config.gated else 1), bias=config.bias)
        self.fc_out = nn.Linear(config.d_ff, config.d_model, bias=config.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc_in(x)  # (B, T, F) or (B, T, 2F)
        if self.activation in _GATE_ACTIVATIONS:
            gate, value = h.chunk(2, dim=-1)  # (B, T, F) each
            h = activation(_GATE_ACTIVATIONS[self.activation], gate) * value
        else:
            h = activation(self.activation, h)
        return self.fc_out(h)
