"""Which parameters AdamW decays: one rule for pretraining and fine-tuning."""

from __future__ import annotations

from typing import Any

from torch import nn


def decay_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: ``weight_decay`` on weight matrices, none on biases, norm gains and embeddings.

    Decoupled weight decay (Loshchilov & Hutter 2019, arXiv:1711.05101) on matrices only follows
    BERT's optimizer, which exempts LayerNorm and bias (google-research/bert optimization.py), and
    the GPT-2 practice that also leaves embeddings undecayed (as nanoGPT and Hugging Face's run
    scripts do: decay only parameters with at least 2 dimensions that are not embeddings). A weight
    tied to an embedding (BERT's MLM and GPT's LM output projection) is that embedding and is not
    decayed. Pretraining and fine-tuning used to spell this rule in two ways (by dimension, and by
    module type: biases, norms, embeddings); on both families' models and every task's head the
    two give the same groups in the same order, which is this one.

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
