"""The learning-rate schedule of pretraining and fine-tuning: linear warmup, then cosine, linear or no decay."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch

Schedule = Literal["cosine", "linear", "constant"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)
# How the multiplier is computed. Both describe the same curve; they differ in the first warmup step and in the
# last bit of the linear decay, and each path keeps its own so that its results reproduce to the digit:
#   "pretraining":  warmup (step + 1) / warmup (the first step already learns), decay 1 - progress;
#   "transformers": warmup step / warmup (lr 0 at step 0), decay (total - step) / (total - warmup), the
#                   arithmetic of transformers' get_linear_schedule_with_warmup (the fine-tuning recipe).
Arithmetic = Literal["pretraining", "transformers"]


@dataclass(frozen=True)
class LrSchedule:
    """The lr multiplier per optimizer step: linear warmup to 1, then decay to `min_ratio` at `total`, held after."""

    shape: Schedule
    warmup: int
    total: int
    min_ratio: float = 0.0
    arithmetic: Arithmetic = "pretraining"

    def factor(self, step: int) -> float:
        if step < self.warmup:
            first = 0 if self.arithmetic == "transformers" else 1
            return (step + first) / max(1, self.warmup)
        if self.shape == "constant":
            return 1.0
        decay_steps = max(1, self.total - self.warmup)
        if self.shape == "linear" and self.arithmetic == "transformers":
            shape = max(0.0, (self.total - step) / decay_steps)
        else:
            progress = min(1.0, (step - self.warmup) / decay_steps)
            shape = 0.5 * (1.0 + math.cos(math.pi * progress)) if self.shape == "cosine" else 1.0 - progress
        return self.min_ratio + (1.0 - self.min_ratio) * shape

    def scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        """A per-step LambdaLR following this schedule (its state_dict holds no callable)."""
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self.factor(step))
