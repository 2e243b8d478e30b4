"""Renaming state dicts between our models and Hugging Face's, shared by every family."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig


@dataclass(frozen=True)
class Rename:
    """One of our parameters and its Hugging Face name; `transpose` for GPT-2's Conv1D (in, out) weights."""

    ours: str
    theirs: str
    transpose: bool = False


def renamed(source: dict[str, Tensor], renames: list[Rename], *, to_ours: bool) -> dict[str, Tensor]:
    """Copy tensors from `source` under the other side's names (transposing Conv1D weights)."""
    target: dict[str, Tensor] = {}
    for r in renames:
        src, dst = (r.theirs, r.ours) if to_ours else (r.ours, r.theirs)
        if src not in source:
            raise ValueError(f"state dict has no {src!r}; cannot convert (expected keys like {next(iter(source))!r})")
        tensor = source[src]
        target[dst] = tensor.t() if r.transpose else tensor
    return target


def load_exactly(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load every parameter of `model` from `state`, failing on any missing or unexpected key."""
    result = model.load_state_dict({k: v.detach().clone().contiguous() for k, v in state.items()}, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"weight conversion is incomplete: missing {result.missing_keys}, unexpected {result.unexpected_keys}"
        )


def parameter_dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype



def check_layout(
    config: TransformerConfig, expected: dict[str, object], activations: dict[str, str], model: str, reference: str
) -> None:
    """ValueError naming the first field where our `model` config leaves the `reference` class's fixed layout."""
    for field, value in expected.items():
        if getattr(config, field) != value:
            raise ValueError(
                f"to_hf({model}) needs {field}={value!r} ({reference}'s layout), got {getattr(config, field)!r}"
            )
    if config.activation not in activations:
        raise ValueError(
            f"activation={config.activation!r} has no {reference} equivalent; use one of {sorted(activations)}"
        )
