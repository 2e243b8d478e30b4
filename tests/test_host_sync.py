"""The GPU path of a pretraining step reads no tensor value on the host (no device sync) on steps that do not log,
checked on the CPU by taking the path a GPU takes (pretrain.models.host_sync) and recording every host read."""

from __future__ import annotations

import collections
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning_fakes import TinyDataModule, TinyMaskedBlocks, tiny_config
from torch import Tensor

from pretrain.lightning import BertPretraining, GptBertPretraining, GptPretraining, NonFiniteLossGuard
from pretrain.models import host_sync

torch.set_num_threads(1)
HOST_READS = ("item", "tolist", "__bool__", "__int__", "__float__", "__index__")
FAMILIES = {"gpt": GptPretraining, "bert": BertPretraining, "gpt-bert": GptBertPretraining}


class RecordHostReads(Callback):
    """Records (method, file:line) of every host read made inside training steps 2.. (none of which logs)."""

    def __init__(self) -> None:
        self.reads: collections.Counter[tuple[str, str]] = collections.Counter()
        self.active = False

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: object, batch_idx: int) -> None:
        self.active = trainer.global_step >= 2

    def on_train_batch_end(self, *args: object) -> None:
        self.active = False

    @contextmanager
    def patched(self) -> Iterator[None]:
        originals = {name: getattr(Tensor, name) for name in HOST_READS}

        def recording(name: str):
            def read(tensor: Tensor, *args: object, **kwargs: object) -> object:
                if self.active:
                    frame = traceback.extract_stack()[-2]
                    self.reads[(name, f"{frame.filename}:{frame.lineno}")] += 1
                return originals[name](tensor, *args, **kwargs)
            return read

        for name in HOST_READS:
            setattr(Tensor, name, recording(name))
        try:
            yield
        finally:
            for name, method in originals.items():
                setattr(Tensor, name, method)


def _fit(family: str, monkeypatch: pytest.MonkeyPatch, gpu_path: bool) -> tuple[LightningModule, RecordHostReads]:
    if gpu_path:
        monkeypatch.setattr(host_sync, "reads_values", lambda tensor: False)
    torch.manual_seed(0)
    module = FAMILIES[family](tiny_config("bert" if family == "bert" else "gpt", dropout=0.0), warmup_steps=1,
                              max_steps=6)
    recorder = RecordHostReads()
    trainer = Trainer(max_steps=6, logger=False, enable_progress_bar=False, enable_model_summary=False,
                      limit_val_batches=0, log_every_n_steps=100, enable_checkpointing=False,
                      callbacks=[NonFiniteLossGuard(), recorder])
    data = TinyMaskedBlocks() if family == "gpt-bert" else TinyDataModule("bert" if family == "bert" else "gpt")
    with recorder.patched():
        trainer.fit(module, data)
    monkeypatch.undo()
    return module, recorder


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_gpu_path_reads_nothing_on_the_host_and_trains_alike(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    on_cpu, cpu_reads = _fit(family, monkeypatch, gpu_path=False)
    on_gpu, gpu_reads = _fit(family, monkeypatch, gpu_path=True)
    assert cpu_reads.reads, "the recorder sees the reads the CPU path makes (id checks, mask and row choices)"
    assert not gpu_reads.reads, f"host reads on the GPU path: {dict(gpu_reads.reads)}"
    assert on_gpu.tokens_seen == on_cpu.tokens_seen > 0
    assert on_gpu.supervised_tokens == on_cpu.supervised_tokens > 0
    for (name, a), b in zip(on_cpu.named_parameters(), on_gpu.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
