"""2-process CPU DDP (gloo) trains exactly like 1 process with the same global batch."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from lightning_fakes import TinyDataModule, TinyDataset, tiny_config

from pretrain.lightning import GptPretraining

torch.set_num_threads(1)
STEPS = 3


class FinalLoss(Callback):
    """Rank 0 writes the loss of the trained model on a fixed batch (processes do not share memory)."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            data = TinyDataset("gpt", 8, 16, 64, offset=50_000)
            batch = {k: torch.stack([data[i][k] for i in range(8)]) for k in ("input_ids", "attention_mask", "labels")}
            pl_module.eval()
            with torch.no_grad():
                loss = pl_module._step(batch, "test")  # type: ignore[operator]
            self.out.write_text(repr(float(loss)))


def _train(tmp_path: Path, devices: int, batch_size: int) -> float:
    seed_everything(0)
    # No dropout: its masks differ between ranks and one process by design.
    module = GptPretraining(tiny_config("gpt", dropout=0.0), warmup_steps=1, max_steps=10)
    out = tmp_path / f"loss{devices}.txt"
    trainer = Trainer(
        accelerator="cpu", devices=devices, strategy="ddp_fork" if devices > 1 else "auto", max_steps=STEPS,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, callbacks=[FinalLoss(out)], use_distributed_sampler=False,
    )
    # No shuffling: DistributedSampler gives rank r the items r, r+2, ..., so both ranks' batches of
    # 4 together are exactly the single process's batch of 8 (all GPT batches have equal token counts).
    trainer.fit(module, TinyDataModule("gpt", batch_size=batch_size, shuffle=False))
    return float(out.read_text())


def test_ddp_two_processes_match_one(tmp_path: Path) -> None:
    single = _train(tmp_path, devices=1, batch_size=8)
    ddp = _train(tmp_path, devices=2, batch_size=4)
    assert abs(ddp - single) < 1e-4, (ddp, single)
    assert abs(single - 4.1589) > 1e-2  # and training moved it away from ~ln(64), the untrained loss
