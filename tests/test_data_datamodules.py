"""BertDataModule / GptDataModule on tiny made-up corpora: batches, caching, DDP split, resume, bad input."""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DistributedSampler
from torchdata.stateful_dataloader import StatefulDataLoader

from pretrain.data import BertDataModule, GptDataModule
from pretrain.data import datamodules as datamodules_module
from pretrain.data.global_batches import DrawnExamples, GlobalBatchSampler
from pretrain.data.sources import DataSource

WORDS = "alpha beta gamma delta river stone cloud paper light music garden window".split()


def _corpus(tmp_path: Path, n_docs: int = 120) -> str:
    rng = random.Random(0)
    lines = [" ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."
                      for _ in range(rng.randint(2, 5))) for _ in range(n_docs)]
    path = tmp_path / "corpus.txt"
    if not path.exists():  # rewriting would change the file's mtime and so, rightly, its fingerprint
        path.write_text("\n".join(lines))
    return str(path)


def _documents_corpus(tmp_path: Path, n_docs: int = 40, rows_per_doc: int = 6) -> str:
    """JSONL rows of ~25 tokens with a `document` column: `rows_per_doc` consecutive rows per document."""
    rng = random.Random(1)
    path = tmp_path / "documents.jsonl"
    if not path.exists():
        rows = [{"text": " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."
                                  for _ in range(rng.randint(2, 5))), "document": f"doc{d}"}
                for d in range(n_docs) for _ in range(rows_per_doc)]
        path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


def _trainer(world_size: int, rank: int, device: str = "cpu") -> SimpleNamespace:
    """What the data module reads of its trainer."""
    return SimpleNamespace(world_size=world_size, global_rank=rank,
                           strategy=SimpleNamespace(root_device=torch.device(device)))


def _module(cls: type, tmp_path: Path, **options: object):
    return cls(**{"source": _corpus(tmp_path), "vocab_size": 300, "max_length": 32, "batch_size": 4,
                  "cache_dir": str(tmp_path / "cache"), **options})


def _column(examples, name: str) -> list:
    """One field of every example, in order."""
    return [example[name] for example in examples.__getitems__(range(len(examples)))]


def test_bert_batches_have_hf_keys_and_nsp_labels(tmp_path: Path) -> None:
    module = _module(BertDataModule, tmp_path)
    assert module.tokenizer_vocab_size == len(module.tokenizer) <= 300  # available right after __init__
    module.prepare_data()
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels", "next_sentence_label"}
    assert batch["input_ids"].shape[0] == 4 and batch["input_ids"].shape[1] <= 32
    assert set(batch["next_sentence_label"].tolist()) <= {0, 1}
    assert (batch["labels"] != -100).any()
    val_a = next(iter(module.val_dataloader()))
    val_b = next(iter(module.val_dataloader()))
    assert torch.equal(val_a["input_ids"], val_b["input_ids"]) and torch.equal(val_a["labels"], val_b["labels"])
    assert module.bytes_per_token("validation") > 1.0


def test_gpt_batches_are_full_blocks_with_document_ids(tmp_path: Path) -> None:
    module = _module(GptDataModule, tmp_path, document_mask=True)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "labels", "document_ids"}
    assert batch["input_ids"].shape == (4, 32) and torch.equal(batch["labels"], batch["input_ids"])
    assert bool((batch["input_ids"] != module.tokenizer.pad_token_id).all())


@pytest.mark.parametrize("cls", [BertDataModule, GptDataModule])
def test_second_load_reads_the_tokenized_cache(cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    tokenize = {"bert": datamodules_module.SentenceTokenizer, "gpt": datamodules_module.DocumentTokenizer}[cls.family]

    class CountingTokenizer(tokenize):  # type: ignore[misc, valid-type]
        def __call__(self, batch: dict[str, list[str]]) -> dict[str, list[object]]:
            calls.append(len(batch["text"]))
            return super().__call__(batch)

    monkeypatch.setattr(datamodules_module, tokenize.__name__, CountingTokenizer)
    first = _module(cls, tmp_path)
    first.prepare_data()
    assert calls, "the first run tokenizes"
    calls.clear()
    second = _module(cls, tmp_path)
    second.prepare_data()
    second.setup("fit")
    assert calls == [], "the second run must read the cache instead of tokenizing"
    assert second.tokenized("train").cache_files[0]["filename"].startswith(str(tmp_path / "cache" / "tokenized"))


def _draws(loader: StatefulDataLoader) -> list[list[int]]:
    """The example indices of each batch, as the loader's sampler hands them out."""
    indices = [index for _, index in loader.sampler]
    sizes = [len(batch["input_ids"]) for batch in loader]
    return [indices[sum(sizes[:k]) : sum(sizes[: k + 1])] for k in range(len(sizes))]


@pytest.mark.parametrize("cls", [BertDataModule, GptDataModule])
def test_ranks_split_each_one_process_batch_and_lightning_keeps_the_sampler(cls: type, tmp_path: Path) -> None:
    def loader(batch_size: int, world_size: int, rank: int, epoch: int) -> StatefulDataLoader:
        module = _module(cls, tmp_path, batch_size=batch_size)
        module.trainer = _trainer(world_size, rank)  # what the data module reads
        result = module.train_dataloader()
        result.sampler.set_epoch(epoch)
        return result

    assert len(loader(8, 1, 0, 0).dataset) % 8 >= 2  # a short last batch, long enough to split over 2 ranks
    for epoch in (0, 1):
        single = _draws(loader(8, 1, 0, epoch))
        ranks = [_draws(loader(4, 2, rank, epoch)) for rank in range(2)]
        assert all(len(r) == len(single) for r in ranks)  # every rank steps as often as one process
        assert [sum((r[k] for r in ranks), []) for k in range(len(single))] == single
    assert _draws(loader(8, 1, 0, 0)) != _draws(loader(8, 1, 0, 1))  # a new permutation per epoch
    train = loader(4, 2, 1, 0)
    # Lightning injects its own (strided) DistributedSampler only into loaders without one.
    assert isinstance(train.sampler, DistributedSampler) and len(train.sampler) == sum(map(len, _draws(train)))


def test_global_batch_sampler_splits_a_short_last_batch_and_drops_one_too_short_to_split() -> None:
    shares = [list(GlobalBatchSampler(range(13), 4, 2, rank, shuffle=False)) for rank in range(2)]
    assert [i for _, i in shares[0]] == [0, 1, 2, 3, 8, 9]
    assert [i for _, i in shares[1]] == [4, 5, 6, 7, 10, 11, 12]  # last batch: 5 rows split 2 + 3
    assert [len(list(GlobalBatchSampler(range(9), 4, 2, rank))) for rank in range(2)] == [4, 4]  # 1 row dropped
    assert [len(GlobalBatchSampler(range(9), 4, 2, rank)) for rank in range(2)] == [4, 4]
    with pytest.raises(ValueError, match="rank=2"):
        GlobalBatchSampler(range(9), 4, 2, 2)


def test_training_masks_at_its_rate_and_evaluation_at_the_fixed_rate(tmp_path: Path) -> None:
    module = _module(BertDataModule, tmp_path, mlm_probability=0.3)
    module.prepare_data()
    module.setup("fit")

    def masked_share(batches: object) -> float:
        chosen = real = 0
        for batch in batches:
            chosen += int((batch["labels"] != -100).sum())
            real += int(batch["attention_mask"].sum()) - 3 * batch["input_ids"].shape[0]  # [CLS] and two [SEP]
        return chosen / real

    assert masked_share(module.train_dataloader()) == pytest.approx(0.3, abs=0.03)
    assert masked_share(module.val_dataloader()) == pytest.approx(0.15, abs=0.03)
    with pytest.raises(ValueError, match="eval_mlm_probability=0"):
        BertDataModule(eval_mlm_probability=0.0)


def test_mlm_masks_follow_the_draw_not_the_batch(tmp_path: Path) -> None:
    module = _module(BertDataModule, tmp_path)
    collate = module._collator("train")
    examples = DrawnExamples(module.examples("train"), seed=0)
    together = collate(examples.__getitems__([(0, 3), (0, 5)]))
    alone = collate([examples[(0, 5)]])
    next_epoch = collate([examples[(1, 5)]])
    # The same draw is masked alike in any batch (padding aside); the next epoch draws a new mask (dynamic masking).
    length = alone["labels"].shape[1]
    assert torch.equal(together["labels"][1, :length], alone["labels"][0])
    assert bool((together["labels"][1, length:] == -100).all())
    assert not torch.equal(alone["labels"][0], next_epoch["labels"][0])


def test_streaming_ranks_read_disjoint_parts_and_warn_that_the_order_differs(tmp_path: Path) -> None:
    def streamed(world_size: int, rank: int) -> list[list[int]]:
        module = _module(GptDataModule, tmp_path, streaming=True)
        module.trainer = _trainer(world_size, rank)
        module.setup("fit")
        return [b.tolist() for batch in module.train_dataloader() for b in batch["input_ids"]]

    single = streamed(1, 0)
    with pytest.warns(UserWarning, match="not that of one process"):
        ranks = [streamed(2, rank) for rank in range(2)]
    assert ranks[0] and ranks[1] and not {tuple(b) for b in ranks[0]} & {tuple(b) for b in ranks[1]}
    assert len(ranks[0]) + len(ranks[1]) <= len(single)


def test_loader_resumes_mid_epoch(tmp_path: Path) -> None:
    module = _module(GptDataModule, tmp_path)
    module.setup("fit")
    reference = [b["input_ids"] for b in module.train_dataloader()]
    loader = module.train_dataloader()
    iterator = iter(loader)
    head = [next(iterator)["input_ids"] for _ in range(3)]
    state = loader.state_dict()
    resumed = module.train_dataloader()
    resumed.load_state_dict(state)
    tail = [b["input_ids"] for b in resumed]
    assert all(torch.equal(a, b) for a, b in zip(head + tail, reference)) and len(head + tail) == len(reference)


@pytest.mark.parametrize("cls", [BertDataModule, GptDataModule])
def test_streaming_mode_yields_full_batches(cls: type, tmp_path: Path) -> None:
    module = _module(cls, tmp_path, streaming=True, source=_documents_corpus(tmp_path))
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    # BERT's examples stay inside a document: only a document shorter than a sequence leaves padding.
    full = float(batch["attention_mask"].float().mean())
    assert batch["input_ids"].shape == (4, 32) and (full == 1.0 if cls is GptDataModule else full >= 0.9)


def test_bert_examples_fill_the_sequence_and_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # ~150 tokens per document; held-out splits are carved by document: enough of them for the probes
    module = _module(BertDataModule, tmp_path, source=_documents_corpus(tmp_path, n_docs=240))
    with caplog.at_level(logging.INFO):
        module.setup("fit")
    stats = module.example_statistics("train")
    assert stats.mean_tokens / 32 >= 0.95 and stats.positive_share == pytest.approx(0.5, abs=0.05)
    lines = [r.getMessage() for r in caplog.records if re.match(r"\[data\] .* (train|validation): ", r.getMessage())]
    assert len(lines) == 2 and all("real tokens per example of max_length 32" in line and "NSP positives" in line
                                   for line in lines)
    # The validation line (train is built first when fitting) gives both NSP shortcut probes, fit on train.
    probes = re.search(r"segment lengths (0\.\d+), B ends its document (0\.\d+)", lines[1])
    assert "NSP shortcut probes" not in lines[0] and probes is not None
    assert all(0.3 < float(value) < 0.7 for value in probes.groups())
    # One row per document instead (~25 tokens each, shorter than a sequence): the examples cannot fill it.
    rows = _module(BertDataModule, tmp_path)
    rows.setup("fit")
    assert rows.example_statistics("train").mean_tokens / 32 < 0.95


def test_without_nsp_batches_are_single_full_segments(tmp_path: Path) -> None:
    module = _module(BertDataModule, tmp_path, nsp=False)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels", "next_sentence_label"}
    assert batch["input_ids"].shape == (4, 32) and bool(batch["attention_mask"].all())
    assert not batch["token_type_ids"].any() and not batch["next_sentence_label"].any()
    original = torch.where(batch["labels"] == -100, batch["input_ids"], batch["labels"])
    assert bool((original == module.tokenizer.sep_token_id).sum(dim=1).eq(1).all()), "one segment, one [SEP]"
    assert module.example_statistics("train").mean_tokens / 32 >= 0.95


def test_bert_examples_depend_on_seed_not_on_num_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datamodules_module, "STREAM_DOCUMENTS", 20)  # several streams, so num_proc=2 splits them

    def examples(num_proc: int | None, seed: int = 0) -> list[list[int]]:
        for stale in (tmp_path / "cache" / "tokenized").glob("bert-pairs-*"):
            stale.unlink()  # build again instead of reading the first run's file
        module = _module(BertDataModule, tmp_path, num_proc=num_proc, seed=seed)
        return _column(module.examples("train"), "input_ids")

    reference = examples(None)
    assert examples(2) == reference
    assert examples(None) == reference
    assert examples(None, seed=1) != reference


def test_split_too_small_for_nsp_negatives_is_reported(tmp_path: Path) -> None:
    for split in ("train", "val", "test"):  # one document of distinct one-character words: no other for a negative
        (tmp_path / f"{split}.txt").write_text(" ".join(chr(0x4E00 + i) for i in range(30)))
    source = DataSource(str(tmp_path / "train.txt"),
                        splits={"validation": str(tmp_path / "val.txt"), "test": str(tmp_path / "test.txt")})
    options = {"source": source, "vocab_size": 300, "max_length": 32,
               "cache_dir": str(tmp_path / "cache")}
    with pytest.raises(ValueError, match=r"train\.txt train: 30 tokens give no NSP negative"):
        BertDataModule(**options).setup("fit")
    single = BertDataModule(**options, nsp=False)  # single segments need no second document
    single.setup("fit")
    assert [len(ids) for ids in _column(single.examples("train"), "input_ids")] == [32]


def test_corpus_smaller_than_one_block_is_reported(tmp_path: Path) -> None:
    module = GptDataModule(source=_corpus(tmp_path, 200), vocab_size=300, max_length=4096,
                           cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"corpus\.txt (validation|train): \d+ tokens in all, fewer than one block"):
        module.setup("fit")


def test_bad_options_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="mlm_probability=1.5"):
        BertDataModule(mlm_probability=1.5)
    with pytest.raises(ValueError, match="batch_size=0"):
        GptDataModule(batch_size=0)


def test_dupe_factor_draws_new_pairs_for_each_copy_of_the_training_split(tmp_path: Path) -> None:
    """BERT's --dupe_factor: each copy cuts A/B and draws negatives anew; copy 0 is the single-copy build."""
    source = _documents_corpus(tmp_path)
    one = _module(BertDataModule, tmp_path, source=source, dupe_factor=1)
    three = _module(BertDataModule, tmp_path, source=source, dupe_factor=3)
    one.setup("fit")
    three.setup("fit")
    single, copies = one.examples("train"), three.examples("train")
    first_ids = _column(single, "input_ids")
    assert len(copies) >= 2 * len(single) and _column(copies, "input_ids")[: len(single)] == first_ids
    second = copies.select(range(len(single), 2 * len(single)))
    assert _column(second, "input_ids") != first_ids and sum(_column(second, "next_sentence_label")) > 0
    validation_ids = _column(three.examples("validation"), "input_ids")
    assert validation_ids == _column(one.examples("validation"), "input_ids")  # one fixed copy
    with pytest.raises(ValueError, match="dupe_factor=0"):
        _module(BertDataModule, tmp_path, dupe_factor=0)


@pytest.mark.parametrize("device", ["cpu", "cuda"], ids=["cpu-trainer", "gpu-trainer"])  # a "cuda" id means skip
def test_batches_are_pinned_for_a_gpu_only(device: str, tmp_path: Path) -> None:
    module = _module(GptDataModule, tmp_path)
    module.trainer = _trainer(1, 0, device)
    assert module.train_dataloader().pin_memory == (device == "cuda")
