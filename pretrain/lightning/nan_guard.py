"""Stop at the first non-finite training loss, before it reaches a checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from pretrain.models import host_sync


class NonFiniteLossGuard(Callback):
    """Raises FloatingPointError naming the step when the loss is NaN or infinite.

    On the CPU (where reading the loss is free, pretrain.models.host_sync) it is checked at every step before
    backward, so the weights are still those of the last good step. On a GPU, where reading it would stall the
    device every step, the losses' finiteness is gathered on the device and read at every logging step (when the
    logged loss is read anyway) and before every checkpoint is written: the run stops within log_every_n_steps
    of the step that failed, naming it, and no checkpoint holds weights trained on a non-finite loss. Lightning
    writes no checkpoint on an exception, so the checkpoints on disk are all from good steps.
    """

    def __init__(self) -> None:
        self._first_bad_step: Tensor | None = None  # on the device: -1 while every loss so far was finite
        self._bad_loss: Tensor | None = None

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: Tensor) -> None:
        finite = torch.isfinite(loss.detach())
        if host_sync.reads_values(finite):
            if not bool(finite):
                self._raise(trainer, trainer.global_step, loss.item())
            return
        if self._first_bad_step is None:
            self._first_bad_step = torch.full((), -1, dtype=torch.long, device=finite.device)
            self._bad_loss = torch.zeros((), dtype=torch.float32, device=finite.device)
        first = (~finite) & (self._first_bad_step < 0)
        self._first_bad_step = torch.where(first, trainer.global_step, self._first_bad_step)
        self._bad_loss = torch.where(first, loss.detach().float(), self._bad_loss)
        if (trainer.global_step + 1) % max(trainer.log_every_n_steps, 1) == 0:
            self._check(trainer)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        self._check(trainer)  # raising here keeps the file from being written

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._check(trainer)

    def _check(self, trainer: Trainer) -> None:
        """Read the gathered finiteness on the host (one sync) and raise for the first bad step."""
        if self._first_bad_step is None or self._bad_loss is None:
            return
        step = int(self._first_bad_step.item())
        if step >= 0:
            self._raise(trainer, step, float(self._bad_loss.item()))

    def _raise(self, trainer: Trainer, step: int, loss: float) -> None:
        checkpoint = trainer.checkpoint_callback
        kept = getattr(checkpoint, "last_model_path", "") or getattr(checkpoint, "best_model_path", "")
        raise FloatingPointError(
            f"training loss is {loss} at global step {step} "
            f"(epoch {trainer.current_epoch}); stopping. The last good checkpoint "
            f"({kept or 'none written yet'}) is kept; lower model.lr, raise model.warmup_steps, "
            "set trainer.gradient_clip_val or use bf16 instead of fp16, then resume with --ckpt_path"
        )
