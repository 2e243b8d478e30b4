"""Key/value cache for incremental decoding."""

from __future__ import annotations

import torch
from torch import Tensor, nn

KV = tuple[Tensor, Tensor]  # keys, values: (B, H, S, Dh)


class KVCache:
    """Keys and values for the tokens decoded so far, one entry per attention module.

    Each attention module reads and writes its own entry, keyed by the module itself, so no layer
    index travels through the blocks and stacks, and one cache serves any number of stacks (an
    encoder-decoder's decoder, or a stack run once over a source and then step by step).
    Self-attention modules append to their entry each step; cross-attention modules fill theirs
    once from the encoder output and then reuse it.
    """

    def __init__(self) -> None:
        self._self_attention: dict[nn.Module, KV] = {}
        self._cross_attention: dict[nn.Module, KV] = {}

    @property
    def length(self) -> int:
        """Number of positions already cached (the offset of the next token)."""
        first = next(iter(self._self_attention.values()), None)
        return 0 if first is None else first[0].shape[2]

    def append(self, owner: nn.Module, k: Tensor, v: Tensor) -> KV:
        """Add this step's k/v (B, H, T_new, Dh) to `owner`'s entry and return all of it (B, H, S, Dh)."""
        cached = self._self_attention.get(owner)
        if cached is not None:
            k = torch.cat((cached[0], k), dim=2)
            v = torch.cat((cached[1], v), dim=2)
        self._self_attention[owner] = (k, v)
        return k, v

    def context(self, owner: nn.Module) -> KV | None:
        """The cross-attention keys/values `owner` stored from the context, or None before its first call."""
        return self._cross_attention.get(owner)

    def store_context(self, owner: nn.Module, k: Tensor, v: Tensor) -> None:
        """Keep a cross-attention module's keys/values (B, H, S_ctx, Dh): the context does not change while decoding."""
        self._cross_attention[owner] = (k, v)

    def crop(self, length: int) -> None:
        """Keep the first `length` cached positions of every self-attention entry (drop a scratch token)."""
        for owner, (k, v) in self._self_attention.items():
            self._self_attention[owner] = (k[:, :, :length], v[:, :, :length])

    def reorder(self, index: Tensor) -> None:
        """Select batch rows, e.g. the surviving hypotheses of a beam search step."""
        for entries in (self._self_attention, self._cross_attention):
            for owner, (k, v) in entries.items():
                entries[owner] = (k.index_select(0, index), v.index_select(0, index))
