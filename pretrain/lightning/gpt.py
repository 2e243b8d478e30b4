"""GPT pretraining: next-token prediction with a causal decoder (Radford et al. 2018, 2019)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torchmetrics import MetricCollection

from pretrain.lightning.base import PretrainingModule
from pretrain.lightning.metrics import bits_per_byte, perplexity, token_metrics
from pretrain.models.copying import causal_copy_accuracy
from pretrain.models.loss import IGNORE_INDEX, next_token_targets


class GptPretraining(PretrainingModule):
    """loss = mean NLL of token t+1 given tokens <= t, over real (non-padding) targets."""

    family: ClassVar[str] = "gpt"

    def _build_metrics(self) -> MetricCollection:
        return token_metrics(self.config.vocab_size, loss_name="loss", acc_name=None)

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        input_ids, mask = batch["input_ids"], batch.get("attention_mask")
        # The suite's one LM loss: the LM head fused into a chunked cross-entropy, no (B, T, V) logits kept.
        loss = self.model.lm_loss(input_ids, batch["labels"], mask, document_ids=batch.get("document_ids"))
        targets = next_token_targets(batch["labels"], mask)  # (B, T-1): the targets lm_loss scored
        n = (targets != IGNORE_INDEX).sum()  # on the device: no host read (host_sync)
        # A batch with no target (its loss NaN) adds nothing, without asking the device whether there is one.
        self.metrics(split)["loss"].update(torch.where(n > 0, loss.detach().float(), 0.0), n)
        if split == "train":
            (total,) = self.global_counts(n)
            loss = self.share_of_global_mean(loss, n, total)  # rows can hold unequal target counts
            self.count_supervised(total)
        elif split == "val":
            self.val_baseline.update(targets)
        return loss

    def _epoch_values(self, split: str) -> dict[str, Tensor]:
        loss = self.metrics(split).compute()["loss"]
        values = {"loss": loss, "ppl": perplexity(loss)}
        bpt = self.bytes_per_token(split)
        if bpt:
            values["bits_per_byte"] = bits_per_byte(loss, bpt)
        return values

    def copy_accuracy(self, tokens: Tensor) -> float:
        return causal_copy_accuracy(self.model, tokens)
