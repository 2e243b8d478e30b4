"""NER data: built-in stdlib mentions, CoNLL column files, or hub sets with the `tokens`/`ner_tags` schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import datasets

from pretrain.data.sources import DataSourceArg
from pretrain.family import family_record
from tasks.base import DOCUMENT_COLUMN
from tasks.builtin import builtin_ner
from tasks.encoding import IGNORE_INDEX, build_input, n_special, pad, pad_with_mask
from tasks.files import Row
from tasks.labelled_data import LabelledDataModule
from tasks.ner.alignment import first_subword_labels, first_subword_positions, split_words
from tasks.ner.conll import read_conll
from tasks.ner.metrics import SCHEMES, check_tag


class NerDataModule(LabelledDataModule):
    """Each example keeps its words and gold tags, so predictions are scored (and written) per word,
    including words whose sub-words fell past `max_length` (they count as predicted "O").

    Rows have `tokens` and `ner_tags` (the hub's CoNLL-2003 schema); local files are CoNLL column files
    (`token_column`, `tag_column`)."""

    tokens_field = "tokens"
    tags_field = "ner_tags"
    label_column = tags_field
    label_noun = "tag"
    required_columns = (tokens_field, tags_field)

    # Spelled out, not **kwargs: `finetune --help`, the config keys and the --ckpt_path check read this signature.
    def __init__(
        self,
        source: DataSourceArg = "builtin",
        predict_file: str | None = None,
        token_column: int = 0,
        tag_column: int = -1,
        scheme: Literal["BIO", "IOBES"] = "BIO",
        batch_size: int = 32,
        max_length: int = 128,
        num_workers: int = 0,
        group_by_length: bool = False,
    ) -> None:
        super().__init__(source, predict_file, batch_size, max_length, num_workers, group_by_length)
        if scheme not in SCHEMES:
            raise ValueError(f"data.scheme={scheme!r} is not supported; choose one of {', '.join(SCHEMES)}")
        self.token_column = token_column
        self.tag_column = tag_column
        self.scheme = scheme
        self.label_names: list[str] = []
        self._class_label = False

    def builtin(self) -> datasets.DatasetDict:
        return builtin_ner()

    def read_file(self, path: Path) -> list[Row]:
        return [
            Row({self.tokens_field: s.tokens, self.tags_field: s.tags}, s.where)
            for s in read_conll(path, self.token_column, self.tag_column)
        ]

    def words(self, row: Row) -> list[str]:
        tokens = row.get(self.tokens_field)
        if not tokens:
            raise ValueError(f"{row.where}: empty sentence in column {self.tokens_field!r}")
        return [str(t) for t in tokens]

    def tags(self, row: Row) -> list[str]:
        """Tag names (ClassLabel indices of built-in and hub data become their names)."""
        tags = row.get(self.tags_field)
        if self._class_label:
            return [self.label_names[t] if isinstance(t, int) else str(t) for t in tags]
        return [str(t) for t in tags]

    def row_labels(self, row: Row) -> list[str]:
        return self.tags(row)

    def labels_from_rows(self, rows: list[Row]) -> list[str]:
        tags = {tag for row in rows for tag in self.tags(row)}
        return ["O", *sorted(tags - {"O"})]

    def encode(self, rows: list[Row], split: str) -> list[dict[str, Any]]:
        family, special = self._family, self.special
        words = []
        for row in rows:
            words.append(self.words(row))
        aligned = split_words(self._tokenizer, words)
        budget = self.max_length - n_special(family, pair=False)
        examples = []
        for row, sentence, piece in zip(rows, words, aligned):
            tags = self.tags(row) if self.tags_field in row.values else None
            if tags is not None:
                if len(tags) != len(sentence):
                    raise ValueError(f"{row.where}: {len(sentence)} tokens but {len(tags)} tags")
                for tag in tags:
                    check_tag(tag, self.scheme, row.where)
            ids, word_ids = piece.input_ids[:budget], piece.word_ids[:budget]
            self.truncated[split] += len(piece.input_ids) > budget
            word_labels = ([self.label_index(row, t) for t in tags] if tags is not None
                           else [IGNORE_INDEX] * len(sentence))
            labels = first_subword_labels(word_ids, word_labels)
            # BERT: [CLS] words [SEP]; GPT: words <|endoftext|>. Special positions carry no label.
            input_ids, _ = build_input(ids, None, family, special)
            offset = int(family_record(family).input_format.starts_with_cls)  # words start after [CLS]
            labels = [IGNORE_INDEX] * offset + labels + [IGNORE_INDEX] * (len(input_ids) - len(labels) - offset)
            positions = [p + offset if p >= 0 else -1 for p in first_subword_positions(word_ids, len(sentence))]
            examples.append({"input_ids": input_ids, "labels": labels, "word_positions": positions,
                             "words": sentence, "tags": tags, DOCUMENT_COLUMN: self.row_document(row)})
        return examples

    def collate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        input_ids, attention_mask = pad_with_mask([e["input_ids"] for e in examples], self.special.pad)
        return {
            "input_ids": input_ids, "attention_mask": attention_mask,  # (B, T)
            "labels": pad([e["labels"] for e in examples], IGNORE_INDEX),  # (B, T)
            "word_positions": [e["word_positions"] for e in examples],  # per sentence, per word
            "words": [e["words"] for e in examples],
            "tags": [e["tags"] for e in examples],  # None for unlabelled predict input
        }
