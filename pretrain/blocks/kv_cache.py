"""Key/value cache for incremental decoding."""

from __future__ import annotations

import torch
from torch import Tensor


class KVCache:
    """Keys and values of every layer for the tokens decoded so far.

    Self-attention layers append to their entry each step; cross-attention
    layers fill theirs once from the encoder output and then reuse it.
    """

    def __init__(self, n_layers: int) -> None:
        self.self_attention: list[tuple[Tensor, Tensor] | None] = [None] * n_layers
        self.cross_attention: list[tuple[Tensor, Tensor] | None] = [None] * n_layers

    @property
    def length(self) -> int:
        """Number of positions already cached (the offset of the next token)."""
        first = self.self_attention[0]
        return 0 if first is None else first[0].shape[2]

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add this step's k/v (B, H, T_new, Dh) and return everything cached for the layer."""
        cached = self.self_attention[layer]
        if cached is not None:
            k = torch.cat((cached[0], k), dim=2)
            v = torch.cat((cached[1], v), dim=2)
        self.self_attention[layer] = (k, v)
        return k, v

    def crop(self, length: int) -> None:
        """Keep the first `length` cached positions of every self-attention layer (drop a scratch token)."""
        for i, kv in enumerate(self.self_attention):
            if kv is not None:
                self.self_attention[i] = (kv[0][:, :, :length], kv[1][:, :, :length])

    def reorder(self, index: Tensor) -> None:
        """Select batch rows, e.g. the surviving hypotheses of a beam search step."""
        for entries in (self.self_attention, self.cross_attention):
            for i, kv in enumerate(entries):
                if kv is not None:
                    entries[i] = (kv[0].index_select(0, index), kv[1].index_select(0, index))
