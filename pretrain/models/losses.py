"""Language-model loss fused with the vocabulary projection, computed in chunks of tokens.

The usual path materialises logits (N, V), their log-softmax, and in backward a (N, V)
gradient of each: for GPT-mini at batch 16 x 128 that is several passes over 64 MB per
step. Here each chunk's logits live only inside the chunk loop, and since the loss is a
scalar its gradients with respect to the hidden states and the projection weight are
computed right away (the approach of Liger Kernel's fused linear cross-entropy, Hsu et al.
2024, arXiv:2410.10989); backward only scales them. Same FLOPs, a fraction of the memory
traffic, and no (N, V) tensor is ever kept for backward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, hidden: Tensor, weight: Tensor, bias: Tensor | None,
        labels: Tensor, chunk_size: int,
    ) -> Tensor:
        """hidden (N, D), weight (V, D), bias (V,) or None, labels (N,) with -100 = ignore -> mean loss."""
        valid = labels != IGNORE_INDEX
        count = valid.sum().clamp(min=1).to(torch.float32)
        needs_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        acc = torch.promote_types(weight.dtype, torch.float32)  # fp32 at least, float64 stays float64
        total = hidden.new_zeros((), dtype=acc)
        grad_hidden = torch.empty_like(hidden) if needs_grad else None
        grad_weight = torch.zeros_like(weight, dtype=acc) if needs_grad else None
        grad_bias = torch.zeros_like(bias, dtype=acc) if needs_grad and bias is not None else None
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start : start + chunk_size]  # (n, D)
            y = labels[start : start + chunk_size]  # (n,)
            logits = F.linear(h, weight, bias).to(acc)  # (n, V); under autocast the matmul runs in bf16
            total = total + F.cross_entropy(logits, y, ignore_index=IGNORE_INDEX, reduction="sum")
            if not needs_grad:
                continue
            # d(sum CE)/d logits = softmax - one_hot(target), zero on ignored rows.
            grad = logits.softmax(dim=-1)
            keep = y != IGNORE_INDEX
            grad[keep, y[keep]] -= 1.0
            grad[~keep] = 0.0
            grad = grad / count
            grad_hidden[start : start + chunk_size] = (grad.to(h.dtype) @ weight.to(h.dtype))  # type: ignore[index]
            grad_weight.addmm_(grad.t(), h.to(acc))  # type: ignore[union-attr]
            if grad_bias is not None:
                grad_bias += grad.sum(dim=0)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.has_bias = bias is not None
        ctx.weight_dtype = weight.dtype
        return total / count

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_output: Tensor) -> tuple:  # type: ignore[override]
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors  # type: ignore[attr-defined]
        scale = grad_output
        return (
            (grad_hidden * scale).to(grad_hidden.dtype),
            (grad_weight * scale).to(ctx.weight_dtype),  # type: ignore[attr-defined]
            (grad_bias * scale) if ctx.has_bias else None,  # type: ignore[attr-defined]
            None,
            None,
        )


def linear_cross_entropy(
    hidden: Tensor, weight: Tensor, labels: Tensor, bias: Tensor | None = None, *, chunk_size: int = 1024
) -> Tensor:
    """Mean cross-entropy of `hidden @ weight.T + bias` against `labels` (-100 = ignore), without
    keeping the logits. hidden (..., D), labels (...) with the same leading shape, weight (V, D)."""
    if hidden.shape[:-1] != labels.shape:
        raise ValueError(f"labels shape {tuple(labels.shape)} must equal hidden's leading shape {tuple(hidden.shape[:-1])}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size} must be >= 1")
    return _LinearCrossEntropy.apply(hidden.reshape(-1, hidden.shape[-1]), weight, bias, labels.reshape(-1), chunk_size)


def shift_labels(labels: Tensor) -> Tensor:
    """Next-token targets aligned with positions: target t = labels[t + 1], the last one ignored.

    Shifting the labels rather than slicing the logits avoids copying a (B, T-1, V) tensor.
    """
    return F.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)
