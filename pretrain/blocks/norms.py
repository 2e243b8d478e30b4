"""Normalisation layers chosen by name."""

from __future__ import annotations

from torch import nn

from pretrain.blocks.config import TransformerConfig


def build_norm(config: TransformerConfig) -> nn.Module:
    """LayerNorm (Ba et al. 2016) or RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467)."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.d_model, eps=config.norm_eps)
    return nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=config.bias)
