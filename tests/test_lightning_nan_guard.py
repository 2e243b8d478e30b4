"""A non-finite loss stops the run at that step with a clear message; the last good checkpoint is kept (on the
GPU path too, where the loss is read at logging steps and before checkpoints)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning_fakes import TinyDataModule, tiny_config
from torch import Tensor

from pretrain.lightning import GptPretraining, NonFiniteLossGuard
from pretrain.models import host_sync

torch.set_num_threads(1)


class DivergingGpt(GptPretraining):
    """Its loss turns NaN at global step 3 (the 4th step), as after an fp16 overflow."""

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        loss = super()._step(batch, split)
        return loss * float("nan") if split == "train" and self.global_step == 3 else loss


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    module = DivergingGpt(tiny_config("gpt"), warmup_steps=1, max_steps=10)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=0, save_last=True)
    trainer = Trainer(
        max_steps=10, logger=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        callbacks=[NonFiniteLossGuard(), checkpoint],
    )
    with pytest.raises(FloatingPointError, match=r"training loss is nan at global step 3 .*last\.ckpt"):
        trainer.fit(module, TinyDataModule("gpt"))
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 3  # the last good step, not overwritten after the NaN
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())
    assert all(torch.isfinite(p).all() for p in module.parameters())  # the NaN never reached the weights


def test_on_the_gpu_path_a_nan_loss_never_reaches_a_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read at logging steps and before every checkpoint instead of every step: the run stops naming the step."""
    monkeypatch.setattr(host_sync, "reads_values", lambda tensor: False)
    module = DivergingGpt(tiny_config("gpt"), warmup_steps=1, max_steps=10)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=0, save_last=True)
    trainer = Trainer(max_steps=10, logger=False, enable_progress_bar=False, enable_model_summary=False,
                      limit_val_batches=0, log_every_n_steps=8, callbacks=[NonFiniteLossGuard(), checkpoint])
    with pytest.raises(FloatingPointError, match=r"training loss is nan at global step 3 .*last\.ckpt"):
        trainer.fit(module, TinyDataModule("gpt"))
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 3  # written before the bad step; the one after it was refused
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())
