"""Training memory on a CPU, where torch has no allocator statistic: the activations saved for backward."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn


@contextlib.contextmanager
def saved_activation_bytes(model: nn.Module, total: list[int]) -> Iterator[None]:
    """Add to total[0] the bytes of the unique storages autograd saves for backward, parameters excluded.

    Those activations are the dominant, model-dependent part of training memory.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: set[int] = set()

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and ptr not in seen:
            seen.add(ptr)
            total[0] += storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield
