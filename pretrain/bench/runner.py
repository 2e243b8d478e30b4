"""One model under training for the benchmark: timed AdamW steps and the memory of a step."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from pretrain.bench.memory import saved_activation_bytes

LossFn = Callable[[nn.Module, dict[str, Tensor]], Tensor]


class Runner:
    """One model with its optimizer, loss and batch; `steps(n)` times n training steps."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, batch: dict[str, Tensor], device: torch.device,
                 amp: bool, compile_model: bool) -> None:
        self.model = model.to(device).train()
        # Compile the whole loss computation: compiling the module alone would miss methods such as
        # GptModel.lm_loss, which nn.Module.__call__ does not route through.
        loss = functools.partial(loss_fn, self.model)
        self.loss_fn = torch.compile(loss) if compile_model else loss
        self.batch = batch
        self.device = device
        self.amp = amp
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)

    def _step(self) -> None:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = self.loss_fn(self.batch)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def steps(self, n: int) -> float:
        """Seconds that n training steps took."""
        self._sync()
        start = time.perf_counter()
        for _ in range(n):
            self._step()
        self._sync()
        return time.perf_counter() - start

    def memory_mib(self) -> tuple[float, str]:
        """MiB of one step and what was measured: the CUDA allocator's peak, or on CPU the saved activations."""
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            self._step()
            return torch.cuda.max_memory_allocated() / 2**20, "cuda_peak_allocated"
        total = [0]
        with saved_activation_bytes(self.model, total):
            self._step()
        return total[0] / 2**20, "cpu_saved_activations"
