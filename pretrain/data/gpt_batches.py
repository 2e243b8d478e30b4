"""GPT batches: documents joined with <|endoftext|> and packed into full blocks (no padding).

Each document is stored as ``[<|endoftext|>, t1, ..., tn]``: the separator opens the
document it precedes (GPT-2 style joining, used as a BOS marker here), so
with a document mask every position still predicts its next token from context of its
own document: ``<|endoftext|>`` predicts a document's first token, and a document's
last token predicts the next ``<|endoftext|>`` (where the document ends).

Map-style data are packed exactly: one flat token stream cut into ``len // T`` blocks;
only the final partial block is dropped (counted and reported). Streaming data are
packed per map batch of documents, so each batch drops its own tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets
import numpy as np
import pyarrow as pa
import torch
from transformers import PreTrainedTokenizerFast


class DocumentTokenizer:
    """Batched ``datasets.map`` function: ``text`` -> ``input_ids`` (``[eos] + tokens``) + size statistics."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast) -> None:
        self.tokenizer = tokenizer

    def __call__(self, batch: dict[str, list[str]]) -> dict[str, list[object]]:
        ids = self.tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
        eos = self.tokenizer.eos_token_id
        return {
            "input_ids": [[eos, *doc] for doc in ids],
            "num_bytes": [len(t.encode("utf-8")) for t in batch["text"]],
            "num_words": [len(t.split()) for t in batch["text"]],
            "num_tokens": [len(doc) for doc in ids],  # content tokens, without the separator
        }


def flat_stream(tokenized: datasets.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(all tokens concatenated, start offset of every document) straight from the Arrow buffers."""
    if tokenized._indices is not None:  # a select()/shuffle() view: materialise the row order first
        tokenized = tokenized.flatten_indices()
    column = tokenized.data.column("input_ids")
    lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(lists, pa.ChunkedArray):  # an empty column stays chunked
        lists = pa.array([], type=column.type)
    tokens = lists.flatten().to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    offsets = lists.offsets.to_numpy()
    starts = offsets[:-1] - offsets[0]
    lengths = np.diff(offsets)
    return tokens, starts[lengths > 0]


def document_ids_for(positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the document each stream position belongs to, counted from the block's first document."""
    doc = np.searchsorted(starts, positions, side="right") - 1
    return doc - doc[0]


class PackedBlocks(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Map-style dataset of ``block_size``-token windows over one token stream.

    With ``recut_seed`` the blocks are cut anew every epoch after the first, at a random offset into the
    stream (``at_epoch``): a plan that repeats its data then shows GPT new windows each epoch, as BERT's
    copies show it new A/B cuts and masks, so both families meet repeated text alike. Epoch 0 (and every
    plain index) reads the blocks from offset 0. The block count is the same at every offset: the stream
    minus one block's worth of tokens, so any offset fits.
    """

    def __init__(self, tokens: np.ndarray, starts: np.ndarray, block_size: int,
                 recut_seed: int | None = None) -> None:
        self.tokens = tokens
        self.starts = starts
        self.block_size = block_size
        self.recut_seed = recut_seed
        usable = len(tokens) - (block_size - 1 if recut_seed is not None else 0)
        self.num_blocks = max(0, usable // block_size)
        self.dropped_tokens = len(tokens) - self.num_blocks * block_size

    def __len__(self) -> int:
        return self.num_blocks

    def offset(self, epoch: int) -> int:
        """Where epoch `epoch`'s blocks start in the stream: 0, then a seeded draw in [0, block_size)."""
        if self.recut_seed is None or epoch == 0:
            return 0
        return int(np.random.default_rng([self.recut_seed, epoch]).integers(0, self.block_size))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.at_epoch(0, index)

    def at_epoch(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        """Block `index` as epoch `epoch` cuts the stream."""
        if not 0 <= index < self.num_blocks:
            raise IndexError(f"block {index} out of range for {self.num_blocks} blocks")
        begin = self.offset(epoch) + index * self.block_size
        positions = np.arange(begin, begin + self.block_size)
        return {
            # astype copies: the stream may be a read-only map of a narrow type (pretrain.data.token_files)
            "input_ids": torch.from_numpy(self.tokens[begin : begin + self.block_size].astype(np.int64)),
            "document_ids": torch.from_numpy(document_ids_for(positions, self.starts)),
        }


@dataclass(frozen=True)
class StreamPacker:
    """Batched ``IterableDataset.map`` function for streaming: a batch of documents -> full blocks."""

    block_size: int

    def __call__(self, batch: dict[str, list[list[int]]]) -> dict[str, list[list[int]]]:
        lengths = [len(doc) for doc in batch["input_ids"]]
        tokens = np.fromiter((t for doc in batch["input_ids"] for t in doc), dtype=np.int64, count=sum(lengths))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        n_blocks = len(tokens) // self.block_size
        out: dict[str, list[list[int]]] = {"input_ids": [], "document_ids": []}
        for index in range(n_blocks):
            begin = index * self.block_size
            positions = np.arange(begin, begin + self.block_size)
            out["input_ids"].append(tokens[begin : begin + self.block_size].tolist())
            out["document_ids"].append(document_ids_for(positions, starts).tolist())
        return out


@dataclass(frozen=True)
class CausalCollator:
    """Stack full blocks; ``labels`` are the inputs (the loss shifts them); no padding exists to mask."""

    document_mask: bool = False

    def __call__(self, examples: list[dict[str, object]]) -> dict[str, torch.Tensor]:
        input_ids = torch.stack([torch.as_tensor(e["input_ids"], dtype=torch.long) for e in examples])  # (B, T)
        batch = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "labels": input_ids.clone(),
        }
        if self.document_mask:
            batch["document_ids"] = torch.stack(
                [torch.as_tensor(e["document_ids"], dtype=torch.long) for e in examples]
            )  # (B, T)
        return batch
