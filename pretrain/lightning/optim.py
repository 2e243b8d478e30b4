"""Which parameters AdamW decays: one rule for pretraining and fine-tuning."""

from __future__ import annotations

from typing import Any

from torch import nn


def decay_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: ``weight_decay`` on weight matrices, none on biases, norm gains and embeddings.

    Decoupled weight decay (Loshchilov & Hutter 2019, arXiv:1711.05101) on matrices only follows
    BERT's optimizer, which exempts LayerNorm and bias (google-research/bert optimization.py). This
    suite also leaves embeddings undecayed (BERT's optimizer and nanoGPT do decay them): decay pulls
    the rows of rarely seen tokens toward zero between their updates. A weight tied to an embedding
    (BERT's MLM and GPT's LM output projection) is that embedding and is not decayed.

    Groups in a fixed order (decayed, then not), parameters in ``module.parameters()`` order, each
    once (tied weights appear once) and only if trainable, so optimizer states line up across runs.
    """
    embeddings = {id(p) for m in module.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    decay, plain = [], []
    for param in module.parameters():
        if not param.requires_grad:
            continue
        # dim < 2: biases and norm gains; a tied output projection shares the embedding's id.
        (plain if param.dim() < 2 or id(param) in embeddings else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
