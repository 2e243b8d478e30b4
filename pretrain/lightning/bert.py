"""BERT pretraining: masked LM + next-sentence prediction (Devlin et al. 2018, arXiv:1810.04805)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from pretrain.blocks.config import TransformerConfig
from pretrain.family import family_record
from pretrain.lightning.base import PretrainingModule
from pretrain.lightning.metrics import IGNORE_INDEX, bits_per_byte, perplexity, token_metrics
from pretrain.models.bert import BertModel
from pretrain.models.copying import masked_copy_accuracy


@dataclass(frozen=True)
class BertLosses:
    """One batch's MLM and NSP losses (means over this process's batch) and what the metrics read."""

    mlm: Tensor  # mean over the masked tokens; zero (with a graph) when the batch masks none
    mlm_logits: Tensor  # (N, V) fp32, one row per masked token
    targets: Tensor  # (N,) the masked tokens' ids
    nsp: Tensor | None  # None when NSP is off
    nsp_logits: Tensor | None  # (B, 2) fp32

    @property
    def total(self) -> Tensor:
        return self.mlm if self.nsp is None else self.mlm + self.nsp


def bert_losses(model: BertModel, batch: dict[str, Tensor], *, nsp: bool = True) -> BertLosses:
    """BERT's pretraining objective on a batch with labels (-100 = not masked) and next_sentence_label.

    Only masked positions go through the vocabulary projection (`masked_positions`), so the
    largest matmul costs ~15% of the full one. Losses are computed in fp32 under mixed precision.
    """
    labels = batch["labels"]
    masked = labels != IGNORE_INDEX  # (B, T)
    out = model(
        batch["input_ids"], batch.get("attention_mask"), batch.get("token_type_ids") if nsp else None,
        masked_positions=masked,
    )
    targets = labels[masked]  # (N,)
    logits = out.mlm_logits.float()  # (N, V)
    # A batch may, rarely, have no masked token: contribute zero (with a graph) instead of NaN.
    mlm = F.cross_entropy(logits, targets) if targets.numel() else logits.sum() * 0.0
    if not nsp:
        return BertLosses(mlm, logits, targets, None, None)
    if out.nsp_logits is None:
        raise ValueError("bert_losses(nsp=True) needs a BertModel built with nsp=True (it has no NSP head)")
    nsp_logits = out.nsp_logits.float()  # (B, 2)
    return BertLosses(mlm, logits, targets, F.cross_entropy(nsp_logits, batch["next_sentence_label"]), nsp_logits)


class BertPretraining(PretrainingModule):
    """loss = MLM + NSP (NSP off with `nsp=False`, as RoBERTa found it unnecessary, arXiv:1907.11692).

    The objective is `bert_losses`; this module adds metrics and the normalisation over ranks.
    """

    family: ClassVar[str] = "bert"

    # Only BERT's own option: jsonargparse follows **options into PretrainingModule's signature and help, so
    # `pretrain --help` and the config keys list every base option once, from the base.
    def __init__(self, config: TransformerConfig, *, nsp: bool = True, **options: Any) -> None:
        """Options of BERT pretraining, besides PretrainingModule's.

        Args:
            nsp: add next-sentence prediction to the loss (false: MLM only, as RoBERTa)
        """
        super().__init__(config, **options)

    @property
    def nsp(self) -> bool:
        # The base constructor saves every constructor argument first, so this holds before the model is built.
        return bool(self.hparams["nsp"])

    def _build_model(self, config: TransformerConfig) -> nn.Module:
        if config.type_vocab_size == 1 and self.nsp:
            raise ValueError(
                "model.nsp=True needs two segment rows or none: model.config.type_vocab_size=1, expected 2 "
                "(segment embeddings) or 0 (the pair is marked by [SEP] alone)"
            )
        return family_record(self.family).build(config, nsp=self.nsp)

    def _build_metrics(self) -> MetricCollection:
        metrics = token_metrics(self.config.vocab_size, loss_name="mlm_loss", acc_name="mlm_acc")
        if self.nsp:
            metrics.add_metrics({"nsp_loss": MeanMetric(nan_strategy="disable"),  # as token_metrics' loss
                                 "nsp_acc": MulticlassAccuracy(2, average="micro")})
        return metrics

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        losses = bert_losses(self.model, batch, nsp=self.nsp)
        mlm_loss, targets, logits = losses.mlm, losses.targets, losses.mlm_logits
        n = targets.numel()
        metrics = self.metrics(split)
        if n:
            metrics["mlm_loss"].update(mlm_loss.detach(), n)
            metrics["mlm_acc"].update(logits.detach(), targets)
        rows = batch["input_ids"].shape[0]
        if split == "train":
            # Ranks mask different numbers of tokens: normalise by the global counts, not per rank.
            total, total_rows = self.global_counts(n, rows)
            mlm_loss = self.share_of_global_mean(mlm_loss, n, total)
            self.count_supervised(total)
        loss = mlm_loss
        if losses.nsp is not None and losses.nsp_logits is not None:
            nsp_labels = batch["next_sentence_label"]
            nsp_loss, nsp_logits = losses.nsp, losses.nsp_logits
            metrics["nsp_loss"].update(nsp_loss.detach(), rows)
            metrics["nsp_acc"].update(nsp_logits.detach(), nsp_labels)
            if split == "train":
                nsp_loss = self.share_of_global_mean(nsp_loss, rows, total_rows)
                self.log("train/nsp_loss", nsp_loss, sync_dist=True)
            loss = mlm_loss + nsp_loss
        if split == "train":
            self.log("train/mlm_loss", mlm_loss, prog_bar=True, sync_dist=True)
        elif split == "val":
            self.val_baseline.update(targets)
        return loss

    def _epoch_values(self, split: str) -> dict[str, Tensor]:
        computed = self.metrics(split).compute()
        mlm_loss = computed["mlm_loss"]
        values = {"mlm_loss": mlm_loss, "mlm_acc": computed["mlm_acc"], "mlm_ppl": perplexity(mlm_loss)}
        loss = mlm_loss
        if self.nsp:
            values.update(nsp_loss=computed["nsp_loss"], nsp_acc=computed["nsp_acc"])
            loss = mlm_loss + computed["nsp_loss"]
        values["loss"] = loss
        bpt = self.bytes_per_token(split)
        if bpt:
            # Bits per byte of the masked tokens given their context: a pseudo-likelihood, not a
            # left-to-right likelihood, so compare it with GPT's only with that caveat.
            values["bits_per_byte"] = bits_per_byte(mlm_loss, bpt)
        return values

    def copy_accuracy(self, tokens: Tensor) -> float:
        tokenizer = self.tokenizer
        assert tokenizer is not None  # the probe runs only with attached data
        return masked_copy_accuracy(self.model, tokens, tokenizer.cls_token_id, tokenizer.sep_token_id,
                                    tokenizer.mask_token_id)
