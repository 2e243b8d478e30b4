"""Stop at the first non-finite training loss, before it reaches the weights or a checkpoint."""

from __future__ import annotations

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor


class NonFiniteLossGuard(Callback):
    """Raises FloatingPointError naming the step when the loss is NaN or infinite.

    Checked before backward, so the weights are still those of the last good step; Lightning
    writes no checkpoint on an exception, so the checkpoints on disk are all from good steps.
    Costs one host-device sync per step on GPU.
    """

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: Tensor) -> None:
        if bool(torch.isfinite(loss.detach())):
            return
        checkpoint = trainer.checkpoint_callback
        kept = getattr(checkpoint, "last_model_path", "") or getattr(checkpoint, "best_model_path", "")
        raise FloatingPointError(
            f"training loss is {loss.item()} at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}); stopping. The last good checkpoint "
            f"({kept or 'none written yet'}) is kept; lower model.lr, raise model.warmup_steps, "
            "set trainer.gradient_clip_val or use bf16 instead of fp16, then resume with --ckpt_path"
        )
