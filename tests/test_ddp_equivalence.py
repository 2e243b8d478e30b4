"""2-process CPU DDP with per-process batch B/2 follows the one-process run with batch B, step by step,
through the real data modules with shuffling on, for every objective arm (pretrain.arms): same global batches in
the same order, same MLM masks, losses normalised over the global batch."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer, seed_everything
from lightning_fakes import tiny_config

from pretrain.data import BertDataModule, GptDataModule
from pretrain.lightning import BertPretraining, ClmMlmPretraining, GptBertPretraining, GptPretraining
from pretrain.lightning.base import PretrainingModule

torch.set_num_threads(1)
STEPS = 15
WORDS = "alpha beta gamma delta river stone cloud paper light music garden window".split()


class GlobalLosses(Callback):
    """Rank 0 writes each step's training loss, averaged over ranks (what DDP's gradient averages),
    and the logged train/loss, which must be that same global value."""

    def __init__(self, out: Path) -> None:
        self.out, self.losses, self.logged = out, [], []

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = trainer.strategy.reduce(outputs["loss"].detach(), reduce_op="mean")
        self.losses.append(float(loss))
        self.logged.append(float(trainer.callback_metrics["train/loss"]))

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self.out.write_text(json.dumps({"losses": self.losses, "logged": self.logged}))


def _corpus(tmp_path: Path) -> str:
    rng = random.Random(0)
    lines = [" ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."
                      for _ in range(rng.randint(2, 5))) for _ in range(100)]
    path = tmp_path / "corpus.txt"
    if not path.exists():
        path.write_text("\n".join(lines))
    return str(path)


@dataclass(frozen=True)
class ArmCase:
    """One objective arm as the test trains it: its module and data options, steps and global batch."""

    family: str
    module: type[PretrainingModule]
    module_options: dict[str, Any]
    data_options: dict[str, Any]
    steps: int
    # Per family, so that bert's and gpt's 15 steps cross an epoch boundary (a new permutation, and GPT's blocks
    # re-cut) after a shorter last batch (the test checks both); the corpus is just large enough for its small
    # validation split to hold NSP negatives whose B ends where the true B would.
    global_batch: int
    crosses_epoch: bool


# The further arms run fewer steps (runtime): enough for both modes of the mixed ones (clm-mlm switches at step
# round(0.5 * 10) = 5; gpt-bert at share 1/4 trains steps 3 and 7 causally, the others masked).
ARM_CASES = {
    "bert": ArmCase("bert", BertPretraining, {}, {"dupe_factor": 1}, STEPS, 16, True),
    "gpt": ArmCase("gpt", GptPretraining, {}, {}, STEPS, 14, True),
    "mlm": ArmCase("bert", BertPretraining, {"nsp": False}, {"dupe_factor": 1, "nsp": False, "mlm_probability": 0.3},
                   8, 16, False),
    "clm-mlm": ArmCase("gpt", ClmMlmPretraining, {"causal_share": 0.5}, {"mlm_probability": 0.3}, 8, 12, False),
    "gpt-bert": ArmCase("gpt", GptBertPretraining, {"causal_share": 0.25}, {"mlm_probability": 0.3}, 8, 12, False),
}


def _data(case: ArmCase, tmp_path: Path, batch_size: int) -> LightningDataModule:
    # One copy of BERT's pairs (dupe_factor 1): the test needs an epoch to end within its steps.
    cls = BertDataModule if case.family == "bert" else GptDataModule
    return cls(source=_corpus(tmp_path), vocab_size=300, max_length=32, batch_size=batch_size,
               cache_dir=str(tmp_path / "cache"), **case.data_options)


def _train(arm: str, tmp_path: Path, devices: int) -> list[float]:
    case = ARM_CASES[arm]
    seed_everything(0)
    data = _data(case, tmp_path, case.global_batch // devices)
    # No dropout: its masks differ between ranks and one process by design.
    module = case.module(tiny_config(case.family, vocab_size=data.tokenizer_vocab_size, dropout=0.0),
                         warmup_steps=2, max_steps=case.steps + (5 if case.crosses_epoch else 2),
                         **case.module_options)
    out = tmp_path / f"{arm}-{devices}.json"
    trainer = Trainer(
        accelerator="cpu", devices=devices, strategy="ddp_fork" if devices > 1 else "auto", max_steps=case.steps,
        # fp32: under bf16 autocast, matmuls over 8 and 4 rows round differently (~2e-4 in BERT's loss).
        # DDP averages the fp32 gradients without a compression hook, so that step is exact.
        precision="32-true", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, callbacks=[GlobalLosses(out)],
    )  # use_distributed_sampler left at its default (True), as the `pretrain` command runs; DDP's
    # find_unused_parameters at its default (False), as configs/trainer/ddp.yaml: a parameter outside the loss stops it
    trainer.fit(module, data)
    recorded = json.loads(out.read_text())
    assert max(abs(a - b) for a, b in zip(recorded["losses"], recorded["logged"])) < 1e-6  # logged: global mean
    return recorded["losses"]


@pytest.mark.parametrize("arm", list(ARM_CASES))
def test_two_processes_match_one_at_every_step(arm: str, tmp_path: Path) -> None:
    case = ARM_CASES[arm]
    if case.crosses_epoch:
        data = _data(case, tmp_path, case.global_batch)
        data.prepare_data()
        data.setup("fit")
        examples, batch = len(data.examples("train")), case.global_batch
        assert examples < case.steps * batch and examples % batch >= 2  # an epoch ends with a shorter batch
    single = _train(arm, tmp_path, devices=1)
    ddp = _train(arm, tmp_path, devices=2)
    assert len(single) == len(ddp) == case.steps
    difference = max(abs(a - b) for a, b in zip(single, ddp))
    assert difference < 1e-4, (difference, single, ddp)
    if case.module_options.get("causal_share") is None:  # a mixed arm's loss changes with its mode, not only training
        assert single[-1] < single[0] - 0.1  # and training moved the loss
