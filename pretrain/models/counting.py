"""Parameter and FLOP counts, the currency of a matched comparison."""

from __future__ import annotations

from torch import nn

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.embeddings import Embeddings


def count_parameters(model: nn.Module, *, exclude_embeddings: bool = False) -> int:
    """Distinct trainable parameters (tied weights once); optionally without the embedding tables.

    Non-embedding counts are what scaling laws and this suite's matched budgets compare
    (Kaplan et al. 2020, arXiv:2001.08361).
    """
    embedding_params: set[int] = set()
    if exclude_embeddings:
        for module in model.modules():
            if isinstance(module, Embeddings):
                embedding_params.update(id(p) for p in module.parameters())
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or id(p) in embedding_params or not p.requires_grad:
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def flops_per_token(model: nn.Module, config: TransformerConfig, seq_len: int, output_fraction: float = 1.0) -> int:
    """Training FLOPs per token, forward + backward, as in nanoGPT's MFU estimate (PaLM, appendix B).

    6 * N for every weight matmul (N counts the tied output projection once more, since it is
    used as a matmul twice) plus 12 * L * D * T for attention scores and weighted values.
    `output_fraction` is the share of positions that go through the vocabulary projection: 1 for a
    causal LM, the masking rate (0.15) for BERT, which projects only masked positions.
    """
    if not 0.0 < output_fraction <= 1.0:
        raise ValueError(f"output_fraction={output_fraction} must be in (0, 1]")
    n = count_parameters(model, exclude_embeddings=True)
    output = config.vocab_size * config.d_model
    if not config.tie_embeddings:  # an untied output matrix is among the non-embedding parameters: count it once
        n -= output
    return round(6 * (n + output_fraction * output) + 12 * config.n_layers * config.d_model * seq_len)
