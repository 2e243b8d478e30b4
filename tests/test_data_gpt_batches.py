"""Packing into full causal blocks: nothing lost or duplicated, document ids, collation."""

from __future__ import annotations

import datasets
import numpy as np
import torch

from pretrain.data.gpt_batches import CausalCollator, PackedBlocks, StreamPacker, flat_stream

EOS = 5


def _tokenized(lengths: list[int]) -> tuple[datasets.Dataset, list[list[int]]]:
    docs, next_id = [], 10
    for length in lengths:
        docs.append([EOS, *range(next_id, next_id + length)])
        next_id += length
    return datasets.Dataset.from_dict({"input_ids": docs}), docs


def test_packing_loses_and_duplicates_no_token() -> None:
    table, docs = _tokenized([3, 17, 1, 40, 8, 25, 2, 9])
    stream = [t for doc in docs for t in doc]
    blocks = PackedBlocks(*flat_stream(table), block_size=16)
    packed = [int(t) for i in range(len(blocks)) for t in blocks[i]["input_ids"]]
    assert len(blocks) == len(stream) // 16 and blocks.dropped_tokens == len(stream) % 16
    assert packed + stream[len(packed):] == stream  # the packed blocks are the stream, in order, minus the tail
    assert len(set(t for t in packed if t != EOS)) == len([t for t in packed if t != EOS])


def test_packing_survives_a_shuffled_view() -> None:
    table, docs = _tokenized([5, 6, 7, 8])
    shuffled = table.shuffle(seed=0)
    tokens, starts = flat_stream(shuffled)
    assert tokens.tolist() == [t for doc in shuffled["input_ids"] for t in doc]
    assert starts.tolist() == np.cumsum([0] + [len(d) for d in shuffled["input_ids"]][:-1]).tolist()


def test_document_ids_restart_in_every_block_and_change_at_separators() -> None:
    table, _ = _tokenized([3, 17, 1, 40, 8])
    blocks = PackedBlocks(*flat_stream(table), block_size=12)
    for i in range(len(blocks)):
        ids, doc = blocks[i]["input_ids"], blocks[i]["document_ids"]
        assert doc[0] == 0
        steps = doc[1:] - doc[:-1]
        assert torch.equal(steps.bool(), ids[1:] == EOS), "a new document starts exactly at <|endoftext|>"


def test_stream_packer_matches_exact_packing_within_one_batch() -> None:
    table, docs = _tokenized([3, 17, 1, 40, 8])
    streamed = StreamPacker(12)({"input_ids": docs})
    blocks = PackedBlocks(*flat_stream(table), block_size=12)
    assert streamed["input_ids"] == [blocks[i]["input_ids"].tolist() for i in range(len(blocks))]
    assert streamed["document_ids"] == [blocks[i]["document_ids"].tolist() for i in range(len(blocks))]


def test_collator_labels_are_inputs_and_document_ids_optional() -> None:
    table, _ = _tokenized([30, 30])
    blocks = PackedBlocks(*flat_stream(table), block_size=8)
    examples = [blocks[i] for i in range(len(blocks))]
    plain = CausalCollator()(examples)
    assert set(plain) == {"input_ids", "attention_mask", "labels"}
    assert torch.equal(plain["labels"], plain["input_ids"]) and bool(plain["attention_mask"].all())
    masked = CausalCollator(document_mask=True)(examples)
    assert masked["document_ids"].shape == masked["input_ids"].shape and masked["document_ids"].dtype == torch.long


def test_training_blocks_are_recut_each_epoch_at_a_seeded_offset() -> None:
    from pretrain.data.global_batches import DrawnExamples

    tokens = np.arange(1000, dtype=np.int64)
    starts = np.array([0, 400])
    blocks = PackedBlocks(tokens, starts, block_size=16, recut_seed=3)
    assert len(blocks) == (1000 - 15) // 16  # the same count at any offset
    assert blocks.offset(0) == 0 and torch.equal(blocks[0]["input_ids"], torch.arange(16))
    offsets = [blocks.offset(epoch) for epoch in range(1, 6)]
    assert len(set(offsets)) > 1 and all(0 <= o < 16 for o in offsets)
    assert offsets == [PackedBlocks(tokens, starts, 16, recut_seed=3).offset(e) for e in range(1, 6)]  # seeded
    assert offsets != [PackedBlocks(tokens, starts, 16, recut_seed=4).offset(e) for e in range(1, 6)]
    last = blocks.at_epoch(2, len(blocks) - 1)["input_ids"]
    assert len(last) == 16 and int(last[0]) == blocks.offset(2) + (len(blocks) - 1) * 16
    drawn = DrawnExamples(blocks, seed=3).__getitems__([(2, 5), 5])  # a draw reads its epoch's cut
    assert int(drawn[0]["input_ids"][0]) == blocks.offset(2) + 80 and int(drawn[1]["input_ids"][0]) == 80
    fixed = PackedBlocks(tokens, starts, block_size=16)  # evaluation: one cut, every token used
    assert len(fixed) == 1000 // 16 and fixed.offset(7) == 0
