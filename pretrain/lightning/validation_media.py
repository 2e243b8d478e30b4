"""At validation end, log GPT sample generations (table) and attention maps (images) to W&B."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.strategies import FSDPStrategy
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from pretrain.models.generation import GenerationConfig


class ValidationMedia(Callback):
    """Rank zero, W&B loggers only (no cost otherwise): the first validation batch is kept and,
    at epoch end, fed through the model again to draw its attention (mean over heads, one
    panel per layer) and, for GPT, to continue its first `prompt_tokens` tokens.
    """

    def __init__(
        self, num_samples: int = 4, prompt_tokens: int = 16, max_new_tokens: int = 32, temperature: float = 0.8,
        top_k: int = 40, attention_tokens: int = 32, seed: int = 0,
    ) -> None:
        if num_samples < 1 or prompt_tokens < 1 or attention_tokens < 2:
            raise ValueError("num_samples, prompt_tokens must be >= 1 and attention_tokens >= 2")
        self.generation = GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature, top_k=top_k
        )
        self.num_samples, self.prompt_tokens, self.attention_tokens, self.seed = (
            num_samples, prompt_tokens, attention_tokens, seed,
        )
        self._batch: dict[str, Tensor] | None = None

    def on_validation_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and trainer.is_global_zero:
            self._batch = {k: v[: self.num_samples].detach() for k, v in batch.items() if isinstance(v, Tensor)}

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        batch, self._batch = self._batch, None
        if trainer.sanity_checking or not trainer.is_global_zero or not loggers or batch is None:
            return
        if isinstance(trainer.strategy, FSDPStrategy):  # a rank-zero-only forward would hang sharded weights
            rank_zero_warn("ValidationMedia is skipped under FSDP")
            return
        model = pl_module.model  # type: ignore[attr-defined]
        tokenizer = getattr(pl_module, "tokenizer", None)  # PretrainingModule: the attached data's tokenizer
        # Samples from the models that continue a prompt (GPT); BERT's MLM has no left-to-right generation.
        generates = callable(getattr(model, "generate", None))
        with torch.no_grad():
            image = self._attention_image(model, batch)
            rows = self._samples(model, batch, tokenizer, trainer.global_step) if generates else None
        for logger in loggers:
            logger.log_image("val/attention", [image], step=trainer.global_step)
            if rows is not None:
                logger.log_text("val/samples", columns=["step", "prompt", "continuation"], data=rows,
                                step=trainer.global_step)

    def _attention_image(self, model: torch.nn.Module, batch: dict[str, Tensor]) -> np.ndarray:
        import matplotlib

        matplotlib.use("Agg")  # no display on clusters
        import matplotlib.pyplot as plt

        length = min(self.attention_tokens, batch["input_ids"].shape[1])
        ids = batch["input_ids"][:1, :length]
        mask = batch["attention_mask"][:1, :length] if "attention_mask" in batch else None
        attentions = model(ids, mask, need_weights=True).attentions or []  # per layer (1, H, T, T)
        fig, axes = plt.subplots(1, max(len(attentions), 1), figsize=(3 * max(len(attentions), 1), 3), squeeze=False)
        for layer, (ax, weights) in enumerate(zip(axes[0], attentions)):
            ax.imshow(weights[0].float().mean(0).cpu().numpy(), cmap="viridis", vmin=0.0)
            ax.set_title(f"layer {layer}")
            ax.set_xlabel("key")
            ax.set_ylabel("query")
        fig.tight_layout()
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3) uint8
        plt.close(fig)
        return image

    def _samples(
        self, model: torch.nn.Module, batch: dict[str, Tensor], tokenizer: Any, step: int
    ) -> list[list[Any]]:
        max_positions = model.config.max_positions
        prompts = batch["input_ids"][:, : min(self.prompt_tokens, max_positions - 1)]
        # Never generate past the position table (learned positions have no entry beyond it).
        config = replace(self.generation, max_new_tokens=min(self.generation.max_new_tokens,
                                                             max_positions - prompts.shape[1]))
        generator = torch.Generator(device=prompts.device).manual_seed(self.seed)
        new = model.generate(prompts, config, generator=generator)  # (B, <= max_new_tokens)
        decode = (lambda t: tokenizer.decode(t.tolist())) if tokenizer is not None else (lambda t: str(t.tolist()))
        return [[step, decode(p), decode(n)] for p, n in zip(prompts, new)]
