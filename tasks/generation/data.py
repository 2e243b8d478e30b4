"""Generation data (source -> target): built-in signature+body -> summary, JSONL/CSV files, hub sets.

Train: one example per (source, target) pair. Validation/test/predict: one example per distinct
source with all its references (rows repeating a source, or a JSON list of targets); the loss and
perplexity use the first reference, ROUGE and BLEU use all of them.

GPT reads `source [SEP] target <|endoftext|>` with the loss on the target (and the end token) only.
BERT's encoder-decoder reads `[CLS] source [SEP]`; its decoder gets `[CLS] target` and predicts
`target [SEP]` ([CLS] starts and [SEP] ends a generation, as in Rothe et al. 2020). Decoding
prompts (`prompt_ids`) are left-padded for GPT and right-padded for BERT's encoder.
"""

from __future__ import annotations

from typing import Any

import datasets
import torch

from pretrain.data.sources import DataSourceArg
from pretrain.family import family_record
from tasks.base import DOCUMENT_COLUMN, TaskDataModule
from tasks.builtin import builtin_generation
from tasks.encoding import IGNORE_INDEX, pad, pad_with_mask, tokenize
from tasks.files import Row


class GenerationDataModule(TaskDataModule):
    """Rows have `source` and `target` columns; a data source's `columns` maps them to the data's own,
    e.g. XSum's {source: document, target: summary}."""

    source_column = "source"
    target_column = "target"
    required_columns = (source_column, target_column)
    order_free_validation = False  # the decoded validation examples are the split's first ones

    # Spelled out, not **kwargs: `finetune --help`, the config keys and the --ckpt_path check read this signature.
    def __init__(
        self,
        source: DataSourceArg = "builtin",
        predict_file: str | None = None,
        max_target_length: int = 32,
        batch_size: int = 32,
        max_length: int = 96,
        num_workers: int = 0,
        group_by_length: bool = False,
    ) -> None:
        """`max_length` bounds the source (special tokens included), `max_target_length` the target."""
        super().__init__(source, predict_file, batch_size, max_length, num_workers, group_by_length)
        if max_target_length < 1:
            raise ValueError(f"data.max_target_length={max_target_length} must be >= 1")
        self.max_target_length = max_target_length

    def attach(self, tokenizer: Any, family: str, max_positions: int) -> None:
        super().attach(tokenizer, family, max_positions)
        # GPT holds source and target in one sequence; BERT's decoder has positions of its own.
        # Both families read source and target in one sequence of positions (GPT's prompt + continuation,
        # BERT's masked sequence-to-sequence layout), so both must fit.
        if self.max_length + self.max_target_length + 1 > max_positions:
            raise ValueError(f"data.max_length + data.max_target_length + 1 = "
                             f"{self.max_length + self.max_target_length + 1} exceeds the {family} backbone's "
                             f"max_positions={max_positions} (source and target share its positions)")

    def builtin(self) -> datasets.DatasetDict:
        return builtin_generation()

    def prepare_labels(self) -> None:
        """Generation has no label vocabulary."""

    def source_text(self, row: Row) -> str:
        source = row.text(self.source_column)
        assert source is not None  # required: text() raises on a missing or blank source
        return source

    def targets(self, row: Row) -> list[str]:
        value = row.get(self.target_column)
        targets = value if isinstance(value, list) else [value]
        if not targets or any(not isinstance(t, str) or not t.strip() for t in targets):
            raise ValueError(f"{row.where}: column {self.target_column!r} must be a non-empty text "
                             f"(or a list of them), got {value!r}")
        return targets

    def encode(self, rows: list[Row], split: str) -> list[dict[str, Any]]:
        grouped: dict[str, list[str]] = {}
        documents: dict[str, str | None] = {}  # a source several rows share: the first row's document
        for row in rows:
            source = self.source_text(row)
            documents.setdefault(source, self.row_document(row))
            has_target = split != "predict" or self.target_column in row.values
            targets = self.targets(row) if has_target else []
            references = grouped.setdefault(source, [])
            for target in targets:
                if split == "train" or target not in references:  # evaluation: distinct references
                    references.append(target)
        sources = list(grouped)
        pairs = [(s, t) for s in sources for t in grouped[s]] if split == "train" else \
            [(s, grouped[s][0] if grouped[s] else None) for s in sources]
        source_ids = tokenize(self._tokenizer, [s for s, _ in pairs])
        target_ids = tokenize(self._tokenizer, [t or "" for _, t in pairs])
        special, decoder_only = self.special, family_record(self._family).decoder_only
        source_budget = self.max_length - (1 if decoder_only else 2)
        examples = []
        for (source, target), src, tgt in zip(pairs, source_ids, target_ids):
            self.truncated[split] += len(src) > source_budget or len(tgt) > self.max_target_length
            src, tgt = src[:source_budget], tgt[:self.max_target_length]
            if decoder_only:
                prompt = [*src, special.sep]
                example = {"input_ids": [*prompt, *tgt, special.eos],
                           "labels": [IGNORE_INDEX] * len(prompt) + [*tgt, special.eos], "prompt_ids": prompt}
            else:
                prompt = [special.cls, *src, special.sep]
                example = {"input_ids": prompt, "decoder_input_ids": [special.cls, *tgt],
                           "labels": [*tgt, special.sep], "prompt_ids": prompt}
            example.update(source=source, references=grouped[source] if split != "train" else [target],
                           has_target=target is not None)
            example[DOCUMENT_COLUMN] = documents[source]
            examples.append(example)
        return examples

    def collate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        pad_id = self.special.pad

        def batch_of(key: str, left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
            return pad_with_mask([e[key] for e in examples], pad_id, left=left)

        input_ids, attention_mask = batch_of("input_ids")
        # GPT continues its prompt, so batched decoding left-pads it (every row's next token is at the
        # right end; GptModel.generate counts positions over real tokens). BERT reads the
        # source with positions 0..S-1, [CLS] at 0 as in pretraining, so its source is right-padded.
        prompt_ids, prompt_mask = batch_of("prompt_ids", left=family_record(self._family).decoder_only)
        batch = {
            "input_ids": input_ids, "attention_mask": attention_mask,  # (B, T)
            "labels": pad([e["labels"] for e in examples], IGNORE_INDEX),
            "prompt_ids": prompt_ids, "prompt_mask": prompt_mask,
            "sources": [e["source"] for e in examples],
            "references": [e["references"] for e in examples],
            "has_target": all(e["has_target"] for e in examples),
        }
        if "decoder_input_ids" in examples[0]:
            batch["decoder_input_ids"], batch["decoder_attention_mask"] = batch_of("decoder_input_ids")
        return batch
