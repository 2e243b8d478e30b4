"""One decoder pretrained on causal LM at some steps and on a masked objective, with bidirectional attention, at
the others: the two objectives that moved past "MLM or CLM".

- ClmMlmPretraining: causal LM for the first `causal_share` of the steps, then masked LM (each masked token
  predicted at its own position) for the rest (Gisserot-Boukhlef et al. 2025, "Should We Still Pretrain
  Encoders with Masked Language Modeling?": CLM followed by MLM beats MLM alone at a fixed budget).
- GptBertPretraining: causal LM on a `causal_share` of the steps, spread evenly, masked next-token prediction
  on the others (Charpentier & Samuel 2024, "GPT or BERT: why not both?", BabyLM: each masked token predicted at
  the position before it, so one head serves both modes; their causal:masked ratio 1:15).

Both read GptDataModule's batches with ``mlm_probability`` set: the causal blocks and a masked copy of each
(pretrain.data.masking.MaskedBlockCollator). A step trains one mode; the AdamW state and the one learning-rate
schedule run on through every change of mode (no reset, no second warmup), so the arms spend the same
optimizer steps as the single-objective ones. Validation reports both modes on every check: the causal loss,
perplexity and bits per byte (GptPretraining's), and the masked mode's val/mlm_loss and val/mlm_acc at the
data's fixed validation masks. Checkpoints hold a plain GptModel (family "gpt"), so every task and export reads
them as a GPT; their fine-tuning arm says which attention they are fine-tuned with (pretrain.arms).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection

from pretrain.arms import arm_record
from pretrain.blocks.config import TransformerConfig
from pretrain.lightning.gpt import GptPretraining
from pretrain.lightning.metrics import UnigramBaseline, perplexity, token_metrics
from pretrain.models.loss import IGNORE_INDEX, next_token_targets


class MixedObjectivePretraining(GptPretraining):
    """GptPretraining's causal steps, plus masked steps with bidirectional attention; subclasses say which step
    trains which mode (`causal_at`) and where a masked token is predicted (`predict_before`)."""

    predict_before: bool  # True: a masked token's target sits at the position before it (masked next token)
    arm: ClassVar[str]  # its record in pretrain.arms

    def predicted_fraction(self) -> float:
        rate = getattr(self._data, "mlm_probability", None)
        return arm_record(self.arm).predicted_fraction(float(self.hparams["causal_share"]), rate)

    def causal_at(self, step: int) -> bool:
        """Whether optimizer step `step` (0-based) trains the causal mode."""
        raise NotImplementedError

    def total_steps(self) -> int:
        """The run's optimizer steps: the schedule's (model.max_steps), else the Trainer's."""
        steps = self.hparams["max_steps"] or self.trainer.max_steps
        if steps is None or steps <= 0:
            raise ValueError(f"{type(self).__name__} needs a known length: set model.max_steps or trainer.max_steps "
                             f"(got {steps})")
        return int(steps)

    def __init__(self, config: TransformerConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self.val_masked_baseline = UnigramBaseline(config.vocab_size)  # val/baseline_mlm_acc: the masked targets'

    def _build_metrics(self) -> MetricCollection:
        metrics = super()._build_metrics()
        metrics.add_metrics(dict(token_metrics(self.config.vocab_size, loss_name="mlm_loss", acc_name="mlm_acc")))
        return metrics

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        if "masked_input_ids" not in batch:
            raise ValueError(f"{type(self).__name__} reads masked copies of the blocks: set data.mlm_probability "
                             "(GptDataModule) to the masking rate")
        if split == "train" and not self.causal_at(self.global_step):
            return self._masked_train_step(batch)
        loss = super()._step(batch, split)
        if split != "train":  # every validation and test reads both modes
            self._masked_eval_step(batch, split)
        return loss

    @contextlib.contextmanager
    def _bidirectional(self) -> Iterator[None]:
        """The decoder attends both ways inside the block, causally again after it (also after an error)."""
        self.model.decoder.causal = False
        try:
            yield
        finally:
            self.model.decoder.causal = True

    def _masked_targets(self, batch: dict[str, Tensor]) -> Tensor:
        """(B, T') the targets the masked mode scores: masked tokens at their own position, or one before."""
        labels, mask = batch["masked_labels"], batch.get("attention_mask")
        if self.predict_before:
            return next_token_targets(labels, mask)
        return labels if mask is None else labels.masked_fill(mask == 0, IGNORE_INDEX)

    def _masked_train_step(self, batch: dict[str, Tensor]) -> Tensor:
        with self._bidirectional():
            loss = self.model.lm_loss(batch["masked_input_ids"], batch["masked_labels"], batch.get("attention_mask"),
                                      document_ids=batch.get("document_ids"), shift=self.predict_before)
        n = (self._masked_targets(batch) != IGNORE_INDEX).sum()  # on the device: no host read (host_sync)
        self.metrics("train")["mlm_loss"].update(torch.where(n > 0, loss.detach().float(), 0.0), n)
        (total,) = self.global_counts(n)  # ranks mask different numbers of tokens
        loss = self.share_of_global_mean(loss, n, total)
        self.count_supervised(total)
        self.log("train/mlm_loss", loss, sync_dist=True)
        return loss

    def _masked_eval_step(self, batch: dict[str, Tensor], split: str) -> None:
        with self._bidirectional():
            logits = self.model(batch["masked_input_ids"], batch.get("attention_mask"),
                                document_ids=batch.get("document_ids")).logits
        targets = self._masked_targets(batch)
        if self.predict_before:
            logits = logits[:, :-1]
        scored = targets != IGNORE_INDEX
        if bool(scored.any()):
            picked = logits[scored].float()  # (N, V)
            metrics = self.metrics(split)
            metrics["mlm_loss"].update(F.cross_entropy(picked, targets[scored]), int(scored.sum()))
            metrics["mlm_acc"].update(picked, targets[scored])
        if split == "val" and self.val_masked_baseline is not None:
            self.val_masked_baseline.update(targets)

    def _epoch_values(self, split: str) -> dict[str, Tensor]:
        values = super()._epoch_values(split)
        computed = self.metrics(split).compute()
        values.update(mlm_loss=computed["mlm_loss"], mlm_acc=computed["mlm_acc"],
                      mlm_ppl=perplexity(computed["mlm_loss"]))
        return values


def _check_share(causal_share: float) -> None:
    if not 0.0 <= causal_share <= 1.0:
        raise ValueError(f"model.causal_share={causal_share}: expected a share of the steps in [0, 1]")


class ClmMlmPretraining(MixedObjectivePretraining):
    """Causal LM for the first `causal_share` of the steps, then masked LM with bidirectional attention."""

    predict_before = False
    arm = "clm-mlm"

    def __init__(self, config: TransformerConfig, *, causal_share: float = 0.5, **options: Any) -> None:
        """Options of CLM-then-MLM pretraining, besides PretrainingModule's.

        Args:
            causal_share: the share of the steps (from the start) trained with causal LM; masked LM trains the rest
        """
        _check_share(causal_share)
        super().__init__(config, **options)

    def switch_step(self) -> int:
        """The first step of masked LM."""
        return round(float(self.hparams["causal_share"]) * self.total_steps())

    def causal_at(self, step: int) -> bool:
        return step < self.switch_step()


class GptBertPretraining(MixedObjectivePretraining):
    """Causal LM on `causal_share` of the steps, evenly spread; masked next-token prediction on the others."""

    predict_before = True
    arm = "gpt-bert"

    def __init__(self, config: TransformerConfig, *, causal_share: float = 1 / 16, **options: Any) -> None:
        """Options of GPT-BERT pretraining, besides PretrainingModule's.

        Args:
            causal_share: the share of the steps trained with causal LM (the paper's 1:15 causal:masked is 1/16)
        """
        _check_share(causal_share)
        super().__init__(config, **options)

    def causal_at(self, step: int) -> bool:
        # Step s is causal when it completes another whole causal step's share: floor((s + 1) r) > floor(s r),
        # which places round(r * steps) causal steps evenly (r = 1/16: steps 15, 31, 47, ...).
        share = float(self.hparams["causal_share"])
        return math.floor((step + 1) * share + 1e-9) > math.floor(step * share + 1e-9)
