"""Token classification (NER) on a BERT or GPT backbone; entity-level P/R/F1 with conlleval semantics.

GPT tags each word from its left context only (the decoder stays causal): that handicap is part
of what the suite compares, so it is not patched over by default; `decoder_attention: bidirectional`
(TaskModule) removes the causal mask as a control.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from pretrain.checkpoint import Backbone, body
from tasks.base import TaskDataModule, TaskModule, check_dropout
from tasks.encoding import IGNORE_INDEX
from tasks.ner.data import NerDataModule
from tasks.ner.metrics import EntityScores, entity_types, sentence_counts


class NerModule(TaskModule):
    # The task's own option; *args and **options are TaskModule's (jsonargparse follows
    # them into its signature and help: `finetune --help`, the config keys).
    def __init__(self, *args: Any, classifier_dropout: float = 0.1, **options: Any) -> None:
        """Options of the NER module, besides TaskModule's.

        Args:
            classifier_dropout: dropout before the tag layer
        """
        check_dropout(classifier_dropout)
        super().__init__(*args, **options)

    def build(self, backbone: Backbone) -> None:
        self.body = body(backbone)
        self.dropout = nn.Dropout(self.hparams.classifier_dropout)
        self.label_names: list[str] = []

    def configure_task(self, datamodule: TaskDataModule) -> None:
        if not isinstance(datamodule, NerDataModule):
            raise ValueError(f"NerModule needs a NerDataModule, got {type(datamodule).__name__}")
        self.label_names = list(datamodule.label_names)
        self.classifier = nn.Linear(self.backbone_config.d_model, len(self.label_names))
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)
        types = entity_types(self.label_names)
        self.val_entities = EntityScores(types)
        self.test_entities = EntityScores(types)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        hidden = self.body(batch["input_ids"], attention_mask=batch["attention_mask"]).hidden_states
        return self.classifier(self.dropout(hidden))  # (B, T, n_tags)

    def word_tags(self, logits: Tensor, word_positions: list[list[int]]) -> list[list[str]]:
        """Per sentence, per word: the tag predicted at its first sub-word ("O" if it has none)."""
        best = logits.argmax(dim=-1).tolist()  # (B, T)
        return [
            [self.label_names[row[p]] if p >= 0 else "O" for p in positions]
            for row, positions in zip(best, word_positions)
        ]

    def _loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = self._loss(self(batch), batch["labels"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["words"]))
        return loss

    def _evaluate(self, batch: dict[str, Any], split: str) -> None:
        if any(tags is None for tags in batch["tags"]):
            raise ValueError(f"the {split} split has sentences without tags; it cannot be scored")
        logits = self(batch)
        self.log(f"{split}/loss", self._loss(logits, batch["labels"]), batch_size=len(batch["words"]))
        metric: EntityScores = getattr(self, f"{split}_entities")
        predicted = self.word_tags(logits, batch["word_positions"])
        metric.update(predicted, batch["tags"])
        if split == "test":  # [correct, predicted, gold] per sentence (tasks.per_example)
            self.per_example += [sentence_counts(p, g) for p, g in zip(predicted, batch["tags"])]

    def _log_entities(self, split: str) -> None:
        metric: EntityScores = getattr(self, f"{split}_entities")
        scores = metric.compute()
        self.log_dict({f"{split}/entity_{name}": value for name, value in scores.items()})
        metric.reset()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_entities("val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_entities("test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[str]:
        """CoNLL lines `token gold predicted` (conlleval's input format), a blank line after each sentence."""
        lines = []
        for words, gold, predicted in zip(batch["words"], batch["tags"], self.word_tags(self(batch),
                                                                                       batch["word_positions"])):
            gold = gold if gold is not None else ["O"] * len(words)
            lines += [f"{w} {g} {p}" for w, g, p in zip(words, gold, predicted)] + [""]
        return lines

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["label_names"] = self.label_names
