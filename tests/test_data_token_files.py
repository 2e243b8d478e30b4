"""GPT's token stream prepared once: the smallest id type, written by the preparing process only, and mapped
read-only by every other one (the ranks of a node share one copy)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning_fakes import tiny_config
from test_data_datamodules import _corpus

from pretrain.data import GptDataModule, datamodules
from pretrain.data.gpt_batches import PackedBlocks, flat_stream
from pretrain.data.token_files import open_stream, smallest_token_dtype, write_stream
from pretrain.lightning import GptPretraining


def test_the_smallest_type_that_holds_the_vocabulary() -> None:
    assert smallest_token_dtype(300) == np.uint16 and smallest_token_dtype(65_536) == np.uint16
    assert smallest_token_dtype(65_537) == np.uint32 and smallest_token_dtype(128_256) == np.uint32


def test_a_written_stream_reads_back_as_a_read_only_map(tmp_path: Path) -> None:
    tokens, starts = np.array([5, 1, 2, 5, 3, 299], dtype=np.int64), np.array([0, 3])
    write_stream(tmp_path / "s", tokens, starts, vocab_size=300)
    mapped, mapped_starts = open_stream(tmp_path / "s")
    assert isinstance(mapped, np.memmap) and mapped.dtype == np.uint16 and not mapped.flags.writeable
    assert mapped.tolist() == tokens.tolist() and mapped_starts.tolist() == [0, 3]
    with pytest.raises(ValueError, match="token ids 1..300 do not fit a vocabulary of 300"):
        write_stream(tmp_path / "bad", np.array([1, 300]), np.array([0]), vocab_size=300)


def test_ranks_share_the_stream_the_preparing_process_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = {"source": _corpus(tmp_path), "vocab_size": 300, "max_length": 32, "batch_size": 4,
               "cache_dir": str(tmp_path / "cache")}
    rank0 = GptDataModule(**options)
    rank0.prepare_data()  # local rank 0, before any setup()
    written = sorted((tmp_path / "cache/tokenized").glob("gpt-stream-*-tokens.npy"))
    assert len(written) == 2  # train and validation (the test split is built when a test asks for it)

    def no_second_copy(*args: object, **kwargs: object) -> None:
        raise AssertionError("a rank wrote the stream again")

    monkeypatch.setattr(datamodules, "write_stream", no_second_copy)
    rank1 = GptDataModule(**options)  # another process of the node: maps what rank 0 wrote
    rank1.setup("fit")
    blocks = rank1.examples("train")
    assert isinstance(blocks, PackedBlocks) and isinstance(blocks.tokens, np.memmap)
    assert Path(blocks.tokens.filename) in written and blocks.tokens.dtype == np.uint16
    # The same blocks as the in-memory int64 stream gives.
    tokens, starts = flat_stream(rank1.tokenized("train"))
    reference = PackedBlocks(tokens, starts, 32, recut_seed=0)
    for epoch, index in ((0, 0), (1, 3), (2, len(reference) - 1)):
        got, want = blocks.at_epoch(epoch, index), reference.at_epoch(epoch, index)
        assert got["input_ids"].dtype == want["input_ids"].dtype
        assert all(bool((got[k] == want[k]).all()) for k in want)


class _MappedStream(Callback):
    """Each rank records which file its training blocks map (processes share no memory: one file per rank)."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        blocks = trainer.datamodule.examples("train")
        (self.out / f"rank{trainer.global_rank}.txt").write_text(f"{type(blocks.tokens).__name__} "
                                                                  f"{blocks.tokens.filename}")


def test_two_ddp_ranks_map_the_one_stream_rank_zero_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    writers = tmp_path / "writers.txt"
    original = datamodules.write_stream

    def counting(*args: object, **kwargs: object) -> None:
        with writers.open("a") as handle:  # forked ranks inherit the patch; each appends its pid
            handle.write(f"{os.getpid()}\n")
        original(*args, **kwargs)

    monkeypatch.setattr(datamodules, "write_stream", counting)
    data = GptDataModule(source=_corpus(tmp_path), vocab_size=300, max_length=32, batch_size=2,
                         cache_dir=str(tmp_path / "cache"))
    module = GptPretraining(tiny_config("gpt", vocab_size=data.tokenizer_vocab_size), warmup_steps=1, max_steps=4)
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp_fork", max_steps=2, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      limit_val_batches=0, callbacks=[_MappedStream(tmp_path)])
    trainer.fit(module, data)
    mapped = {(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)}
    assert len(mapped) == 1 and mapped.pop().startswith("memmap ")  # both ranks: one file, mapped
    assert len(set(writers.read_text().split())) == 1  # written by one process (train and validation, once each)
    assert len(writers.read_text().split()) == 2
