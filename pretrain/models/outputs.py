"""What the models return: named fields, never tuples sliced by position."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from pretrain.blocks.kv_cache import KVCache


@dataclass
class BertOutput:
    mlm_logits: Tensor  # (B, T, V), or (N, V) for the N positions selected by `masked_positions`
    nsp_logits: Tensor | None  # (B, 2): index 0 = IsNext, 1 = NotNext (Hugging Face convention); None without NSP
    hidden_states: Tensor  # (B, T, D), the encoder's last layer
    attentions: list[Tensor] | None = None  # per layer (B, H, T, T), when asked


@dataclass
class LMOutput:
    logits: Tensor  # (B, T, V)
    hidden_states: Tensor  # (B, T, D), the decoder's last layer
    attentions: list[Tensor] | None = None  # per layer (B, H, T, S), when asked
    cache: KVCache | None = None
