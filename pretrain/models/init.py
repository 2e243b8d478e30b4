"""Weight initialisation shared by every model."""

from __future__ import annotations

import math

from torch import nn

from pretrain.blocks.attention import MultiHeadAttention
from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.feedforward import FeedForward


def init_weights(model: nn.Module, config: TransformerConfig) -> None:
    """N(0, 0.02) for matrices and embeddings, zero biases, unit norms (BERT and GPT-2 alike).

    In pre-norm stacks the projections that write into the residual stream are scaled by
    1/sqrt(2 * n_layers) so its variance does not grow with depth (GPT-2, Radford et al.
    2019, section 2.3). Post-norm stacks renormalise after every sub-layer and keep 0.02.
    """
    std = config.initializer_range
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.LayerNorm, nn.RMSNorm)):
            if module.weight is not None:
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
    if config.norm_placement == "pre":
        residual_std = std / math.sqrt(2 * config.n_layers)
        for module in model.modules():
            if isinstance(module, MultiHeadAttention):
                nn.init.normal_(module.out_proj.weight, mean=0.0, std=residual_std)
            elif isinstance(module, FeedForward):
                nn.init.normal_(module.fc_out.weight, mean=0.0, std=residual_std)
