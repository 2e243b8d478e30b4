"""Length-grouped training batches: every example once per epoch, less padding, random batch order, seeded; and
validation in length order where its score does not depend on the order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from tasks_fixtures import tokenizer, write_lines

from pretrain.data.sources import DataSource
from tasks.classification.data import ClassificationDataModule
from tasks.generation.data import GenerationDataModule
from tasks.length_batches import LengthGroupedBatches


def _lengths(n: int = 1000, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(4, 64) for _ in range(n)]


def _padded(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def test_every_example_once_per_epoch_in_batches_of_the_batch_size() -> None:
    lengths = _lengths(1000)
    sampler = LengthGroupedBatches(lengths, batch_size=16, megabatch_batches=5)
    torch.manual_seed(0)
    batches = list(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    assert len(batches) == len(sampler) == 12 * 5 + 3  # 12 windows of 80 (5 batches each), then 40 = 16 + 16 + 8
    assert sorted(len(b) for b in batches)[:2] == [8, 16] and all(len(b) == 16 for b in sorted(batches, key=len)[1:])


def test_grouped_batches_pad_far_less_than_random_ones() -> None:
    lengths = _lengths(1600)
    torch.manual_seed(0)
    grouped = list(LengthGroupedBatches(lengths, batch_size=16))
    order = torch.randperm(len(lengths)).tolist()
    plain = [order[i:i + 16] for i in range(0, len(order), 16)]
    real = sum(lengths)
    assert real / _padded(plain, lengths) < 0.6  # random batches of lengths 4..64: about half padding
    assert real / _padded(grouped, lengths) > 0.9


def test_batch_order_is_random_not_longest_first_and_the_seed_decides_it() -> None:
    lengths = _lengths(1600)
    sampler = LengthGroupedBatches(lengths, batch_size=16)

    def epoch(seed: int) -> list[list[int]]:
        torch.manual_seed(seed)
        return list(sampler)

    first = epoch(0)
    longest = [max(lengths[i] for i in batch) for batch in first]
    # Sorted windows emitted in order would make the longest lengths non-increasing over each window's batches.
    assert longest[:50] != sorted(longest[:50], reverse=True) and longest[:50] != sorted(longest[:50])
    assert epoch(0) == first and epoch(1) != first


def test_a_task_loader_groups_its_training_batches_only(tmp_path: Path) -> None:
    rng = random.Random(0)
    lines = ["text\tlabel"] + [" ".join(["the cat sat"] * rng.randint(1, 12)) + f"\t{'xy'[i % 2]}" for i in range(320)]
    path = write_lines(tmp_path / "train.tsv", lines)
    source = DataSource(str(path), splits={"validation": str(path), "test": str(path)})
    shares = {}
    for group in (False, True):
        data = ClassificationDataModule(source, batch_size=16, max_length=64, group_by_length=group)
        data.attach(tokenizer("wordpiece", tmp_path / "tok"), "bert", 128)
        data.setup("fit")
        data.setup("test")
        torch.manual_seed(0)
        batches = list(data.train_dataloader())
        shares[group] = sum(int(b["attention_mask"].sum()) for b in batches) / sum(b["input_ids"].numel()
                                                                                   for b in batches)
        assert sum(len(b["labels"]) for b in batches) == 320
        validation = [b["attention_mask"].sum(1).tolist() for b in data.val_dataloader()]
        test = [b["attention_mask"].sum(1).tolist() for b in data.test_dataloader()]
        assert [len(lengths) for lengths in validation] == [16] * 20
        in_order = [n for lengths in validation for n in lengths]
        file_order = [n for lengths in test for n in lengths]  # test keeps the file's order: per-example records
        assert sorted(in_order) == sorted(file_order) and file_order != sorted(file_order)
        assert in_order == (sorted(file_order) if group else file_order)  # validation: shortest first when grouped
    assert shares[False] < 0.75 and shares[True] > 0.95


def test_generation_validates_in_the_splits_order_since_it_decodes_the_first_examples(tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = [{"source": " ".join(["the cat sat"] * rng.randint(1, 12)) + f" on mat {i}", "target": f"a cat {i}"}
            for i in range(64)]
    path = write_lines(tmp_path / "train.jsonl", [json.dumps(row) for row in rows])
    source = DataSource(str(path), splits={"validation": str(path), "test": str(path)})
    data = GenerationDataModule(source, batch_size=16, max_length=64, group_by_length=True)
    data.attach(tokenizer("wordpiece", tmp_path / "tok"), "gpt", 128)
    data.setup("fit")
    seen = [ids for b in data.val_dataloader() for ids in b["references"]]
    assert len(seen) == 64 and seen == [example["references"] for example in data.examples["validation"]]
    lengths = [data.example_length(example) for example in data.examples["validation"]]
    assert lengths != sorted(lengths)
