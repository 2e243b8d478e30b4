"""Fine-tune a BERT or GPT backbone to classify texts or text pairs; accuracy and macro F1."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from pretrain.checkpoint import Backbone, body
from pretrain.family import family_record
from pretrain.models.heads import Pooler
from pretrain.models.init import init_weights
from tasks.base import TaskDataModule, TaskModule, check_dropout
from tasks.classification.data import ClassificationDataModule
from tasks.classification.head import ClassificationHead, Pooling, sequence_features
from tasks.encoding import IGNORE_INDEX


class ClassificationModule(TaskModule):
    # The task's own options; *args and **options are TaskModule's (jsonargparse follows
    # them into its signature and help: `finetune --help`, the config keys).
    def __init__(self, *args: Any, classifier_dropout: float = 0.1, pooling: Pooling = "native",
                 **options: Any) -> None:
        """Options of the classification module, besides TaskModule's.

        Args:
            classifier_dropout: dropout before the label layer
            pooling: one vector per input: 'native' = BERT's pooled [CLS] / GPT's last token; 'mean' = the mean
                hidden state over the real tokens for both (the same readout, so the families differ only by
                their pretraining)
        """
        check_dropout(classifier_dropout)
        super().__init__(*args, **options)

    def build(self, backbone: Backbone) -> None:
        self.body = body(backbone)
        # The native readout of an input starting with [CLS] is BERT's pooler over it; mean pooling leaves
        # the pooler out (a module without gradients would stall DDP).
        pooled_cls = backbone.record.input_format.starts_with_cls and self.hparams.pooling == "native"
        pooler = getattr(backbone.model, "pooler", None)
        if pooled_cls and pooler is None:
            # An encoder pretrained without NSP has no pooler: a fresh one, as RoBERTa's classification head adds
            # its own dense + tanh over <s> (Liu et al. 2019, fairseq RobertaClassificationHead).
            pooler = Pooler(backbone.config)
            init_weights(pooler, backbone.config)
        self.pooler = pooler if pooled_cls else None
        self.label_names: list[str] = []

    def configure_task(self, datamodule: TaskDataModule) -> None:
        if not isinstance(datamodule, ClassificationDataModule):
            raise ValueError(f"ClassificationModule needs a ClassificationDataModule, got {type(datamodule).__name__}")
        self.label_names = list(datamodule.label_names)
        n = len(self.label_names)
        self.head = ClassificationHead(self.backbone_config.d_model, n, self.hparams.classifier_dropout)
        for split in ("train", "val", "test"):
            metrics = MetricCollection(
                {"acc": MulticlassAccuracy(n, average="micro"), "macro_f1": MulticlassF1Score(n, average="macro")},
                prefix=f"{split}/",
            )
            setattr(self, f"{split}_metrics", metrics)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        token_types = batch["token_type_ids"] if family_record(self.family).input_format.segment_ids else None
        hidden = self.body(batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=token_types)
        return self.head(sequence_features(hidden.hidden_states, batch["attention_mask"], self.pooler,
                                           self.hparams.pooling))  # (B, C)

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        logits = self(batch)
        labels = batch["labels"]
        if bool((labels < 0).any()):
            raise ValueError(f"the {split} split has examples without labels; it cannot be scored")
        loss = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
        metrics = getattr(self, f"{split}_metrics")
        predicted = logits.argmax(dim=-1)
        metrics.update(predicted, labels)
        if split == "test":
            self.per_example += (predicted == labels).long().tolist()  # 1 = right (tasks.per_example)
        self.log(f"{split}/loss", loss, prog_bar=split != "test", batch_size=labels.shape[0])
        self.log_dict(metrics, batch_size=labels.shape[0])
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> list[str]:
        """One predicted label name per input, in input order: the lines of the predictions file."""
        return [self.label_names[i] for i in self(batch).argmax(dim=-1).tolist()]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["label_names"] = self.label_names
