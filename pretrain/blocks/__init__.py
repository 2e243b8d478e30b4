"""Shared building blocks: one implementation serves every model."""

from pretrain.blocks.attention import MultiHeadAttention
from pretrain.blocks.block import TransformerBlock
from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.embeddings import Embeddings
from pretrain.blocks.feedforward import FeedForward
from pretrain.blocks.kv_cache import KVCache
from pretrain.blocks.norms import build_norm
from pretrain.blocks.positions import RotaryEmbedding, SinusoidalPositions, apply_rotary

__all__ = [
    "Embeddings", "FeedForward", "KVCache", "MultiHeadAttention", "RotaryEmbedding", "SinusoidalPositions",
    "TransformerBlock", "TransformerConfig", "apply_rotary", "build_norm",
]
