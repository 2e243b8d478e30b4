"""Text (or text-pair) classification data: built-in stdlib packages, CSV/TSV/JSONL files, hub sets.

Rows have a `text` and a `label` column (and `text_pair` for sentence pairs); a data source's `columns`
maps them to the data's own names, e.g. GLUE SST-2's {text: sentence}.
"""

from __future__ import annotations

from typing import Any

import datasets
import torch

from pretrain.data.sources import DataSourceArg
from tasks.base import DOCUMENT_COLUMN
from tasks.builtin import builtin_classification
from tasks.encoding import build_input, n_special, pad, pad_with_mask, tokenize, truncate_pair
from tasks.files import Row
from tasks.labelled_data import LabelledDataModule

NO_LABEL = -1  # predict rows without a label column


class ClassificationDataModule(LabelledDataModule):
    """Label names come from the train split (ClassLabel names, or the sorted distinct values of
    a file's label column); a validation/test label outside them is an error naming the row."""

    text_column = "text"
    label_column = "label"
    text_pair_role = "text_pair"  # a second text (sentence pairs) when source.columns maps it

    # Spelled out, not **kwargs: `finetune --help`, the config keys and the --ckpt_path check read this signature.
    def __init__(
        self,
        source: DataSourceArg = "builtin",
        predict_file: str | None = None,
        builtin_num_classes: int = 8,
        batch_size: int = 32,
        max_length: int = 128,
        num_workers: int = 0,
        group_by_length: bool = False,
    ) -> None:
        super().__init__(source, predict_file, batch_size, max_length, num_workers, group_by_length)
        self.text_pair_column = self.text_pair_role if self.text_pair_role in self.source.columns else None
        self.required_columns = (self.text_column, self.label_column) + (
            (self.text_pair_role,) if self.text_pair_column else ())
        self.builtin_num_classes = builtin_num_classes
        self.label_names: list[str] = []
        self._class_label = False

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def builtin(self) -> datasets.DatasetDict:
        return builtin_classification(num_classes=self.builtin_num_classes)

    def labels_from_rows(self, rows: list[Row]) -> list[str]:
        values = {self.label_text(row) for row in rows}
        if len(values) < 2:
            raise ValueError(f"{self.describe('train')}: column {self.label_column!r} has {len(values)} distinct "
                             "label(s); classification needs at least 2")
        return sorted(values)

    def row_labels(self, row: Row) -> list[str]:
        return [self.label_text(row)]

    def label_text(self, row: Row) -> str:
        value = row.get(self.label_column)
        if self._class_label and isinstance(value, int) and 0 <= value < len(self.label_names):
            return self.label_names[value]
        text = str(value).strip()
        if not text:
            raise ValueError(f"{row.where}: empty label in column {self.label_column!r}")
        return text

    def encode(self, rows: list[Row], split: str) -> list[dict[str, Any]]:
        family, special = self._family, self.special
        texts = [row.text(self.text_column) for row in rows]
        pairs = [row.text(self.text_pair_column) for row in rows] if self.text_pair_column else None
        ids_a = tokenize(self._tokenizer, texts)  # type: ignore[arg-type]
        ids_b = tokenize(self._tokenizer, pairs) if pairs is not None else [None] * len(rows)  # type: ignore[arg-type]
        labelled = split != "predict" or self.label_column in (rows[0].values if rows else {})
        budget = self.max_length - n_special(family, pairs is not None)
        examples = []
        for row, a, b in zip(rows, ids_a, ids_b):
            a, b, cut = truncate_pair(a, b, budget)
            self.truncated[split] += cut
            input_ids, token_types = build_input(a, b, family, special)
            label = NO_LABEL
            if labelled:
                label = self.label_index(row, self.label_text(row))
            examples.append({"input_ids": input_ids, "token_type_ids": token_types, "label": label,
                             DOCUMENT_COLUMN: self.row_document(row)})
        return examples

    def collate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        input_ids, attention_mask = pad_with_mask([e["input_ids"] for e in examples], self.special.pad)
        return {
            "input_ids": input_ids, "attention_mask": attention_mask,  # (B, T)
            "token_type_ids": pad([e["token_type_ids"] for e in examples], 0),
            "labels": torch.tensor([e["label"] for e in examples]),  # (B,)
        }
