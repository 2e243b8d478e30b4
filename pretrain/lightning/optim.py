"""How AdamW optimises a module: the optimisation group of options, and which parameters are decayed.

One rule for pretraining and fine-tuning; the modules take the options flat (their config keys) and keep them here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import nn
from torch.optim import Optimizer

from pretrain.lightning.schedule import SCHEDULES, Arithmetic, LrSchedule, Schedule


@dataclass(frozen=True)
class Optimisation:
    """AdamW with decoupled weight decay (Loshchilov & Hutter 2019, arXiv:1711.05101) on weight matrices only
    (`decay_groups`), and its learning-rate schedule (pretrain.lightning.schedule).

    The warmup is `warmup_steps`, or `warmup_ratio` of the run's steps when that is set; the schedule runs over
    `max_steps`, or the Trainer's whole run when that is None. Invalid values fail here, before any weights load,
    with the module's option names (model.<name>).
    """

    lr: float
    weight_decay: float
    betas: tuple[float, float] = (0.9, 0.999)  # torch's AdamW defaults
    eps: float = 1e-8
    warmup_steps: int = 0
    warmup_ratio: float | None = None
    max_steps: int | None = None
    schedule: Schedule = "linear"
    min_lr_ratio: float = 0.0
    arithmetic: Arithmetic = "pretraining"

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"model.lr={self.lr} must be > 0")
        if self.weight_decay < 0:
            raise ValueError(f"model.weight_decay={self.weight_decay} must be >= 0")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"model.betas={self.betas} must be two numbers in [0, 1)")
        if self.warmup_steps < 0:
            raise ValueError(f"model.warmup_steps={self.warmup_steps} must be >= 0")
        if self.warmup_ratio is not None and not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"model.warmup_ratio={self.warmup_ratio} must be in [0, 1)")
        if self.max_steps is not None and self.max_steps <= self.warmup_steps:
            raise ValueError(f"model.max_steps={self.max_steps} must be greater than "
                             f"model.warmup_steps={self.warmup_steps}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"model.schedule={self.schedule!r} is not supported; choose one of {', '.join(SCHEDULES)}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"model.min_lr_ratio={self.min_lr_ratio} must be in [0, 1]")

    def lr_schedule(self, run_steps: Callable[[], float]) -> LrSchedule:
        """The schedule over `max_steps`, or over `run_steps()` (the Trainer's estimate, read only when needed)."""
        total = self.max_steps if self.max_steps is not None else run_steps()
        if not math.isfinite(total):
            raise ValueError("model.max_steps is unset and the Trainer has no finite length; set --trainer.max_steps")
        total = max(int(total), 1)
        warmup = int(self.warmup_ratio * total) if self.warmup_ratio is not None else self.warmup_steps
        return LrSchedule(self.schedule, warmup, total, self.min_lr_ratio, self.arithmetic)

    def configure(self, module: nn.Module, run_steps: Callable[[], float], *,
                  fused: bool | None = None) -> OptimizerLRSchedulerConfig:
        """Lightning's optimizer and per-step scheduler for `module`'s parameters (`fused`: AdamW's fused kernel)."""
        optimizer = torch.optim.AdamW(decay_groups(module, self.weight_decay), lr=self.lr, betas=self.betas,
                                      eps=self.eps, fused=fused)
        scheduler = self.lr_schedule(run_steps).scheduler(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def fused_adamw(trainer: Trainer | None) -> bool:
    """Whether AdamW takes torch's fused kernel (one kernel over every parameter, on CPU as on CUDA; torch's AdamW
    docs). Measured on one CPU thread with the micro presets' parameters: 0.8 ms per step against 5.3 ms for the
    default per-tensor loop, about a tenth of a fine-tuning step. Not under fp16's GradScaler: the fused step unscales
    the gradients itself, after clipping would have read them still scaled. A module not attached to a Trainer
    (None) has no scaler."""
    return getattr(getattr(trainer, "precision_plugin", None), "scaler", None) is None


def clip_gradients(module: LightningModule, optimizer: Optimizer, clip_val: float | None,
                   algorithm: str | None) -> None:
    """The Trainer's `gradient_clip_val` and `gradient_clip_algorithm`, for the modules' `configure_gradient_clipping`.

    Lightning's mixed-precision plugin refuses to clip for any optimizer that unscales inside its step (the fused
    AdamW), since a GradScaler's gradients would still be scaled; under bf16 and fp32 there is none, the gradients
    are the true ones, and this clips them as Lightning itself does (by norm over the optimizer's parameters, or by
    value). With a GradScaler, Lightning's own path (AdamW is not fused then)."""
    if not clip_val:
        return
    if not fused_adamw(module.trainer):
        module.clip_gradients(optimizer, gradient_clip_val=clip_val, gradient_clip_algorithm=algorithm)
        return
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    if algorithm == "value":
        torch.nn.utils.clip_grad_value_(parameters, clip_val)
    else:
        torch.nn.utils.clip_grad_norm_(parameters, clip_val)


def use_tensor_cores(device: torch.device) -> None:
    """On CUDA, fp32 matmuls (the fp32 master weights' outside autocast: optimizer-side and any op autocast keeps in
    fp32) run on TF32 tensor cores (torch.set_float32_matmul_precision("high"); torch's docs: ~8x the fp32 rate on
    Ampere and later, 10-bit mantissa inputs with fp32 accumulation). Elsewhere nothing changes: a CPU keeps "highest"
    and the numbers measured with it."""
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")


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
