"""A run stopped by SIGTERM/SIGUSR1 at step k saves last.ckpt and exits cleanly; resuming from it gives,
at every later step, bitwise the training loss of an uninterrupted run (mid-epoch, with dropout)."""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning_fakes import TinyDataModule, tiny_config

from pretrain.data import BertDataModule, GptDataModule
from pretrain.lightning import BertPretraining, GptPretraining, PreemptionCheckpoint
from pretrain.lightning.atomic_io import AtomicCheckpointIO

torch.set_num_threads(1)


class Recorder(Callback):
    """Records each step's loss; sends itself `signal_at` = (step, signal) to simulate preemption."""

    def __init__(self, signal_at: tuple[int, int] | None = None) -> None:
        self.losses: dict[int, float] = {}
        self.signal_at = signal_at

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.losses[trainer.global_step] = float(outputs["loss"])
        if self.signal_at is not None and trainer.global_step == self.signal_at[0]:
            os.kill(os.getpid(), self.signal_at[1])


def _fit(family: str, root: Path, signal_at: tuple[int, int] | None = None, resume: bool = False,
         datamodule: LightningDataModule | None = None) -> dict[int, float]:
    seed_everything(0)
    cls = BertPretraining if family == "bert" else GptPretraining
    data = datamodule if datamodule is not None else TinyDataModule(family)
    vocab_size = data.tokenizer_vocab_size if datamodule is not None else 64
    module = cls(tiny_config(family, vocab_size=vocab_size, dropout=0.1), warmup_steps=2, max_steps=10)
    recorder = Recorder(signal_at)
    trainer = Trainer(
        max_steps=8, logger=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        callbacks=[recorder, PreemptionCheckpoint(), ModelCheckpoint(dirpath=root, save_top_k=0, save_last=False)],
        default_root_dir=root,
    )
    # 64 examples / batch 4 = 16 steps per epoch: the stop at step 4 is mid-epoch.
    trainer.fit(module, data, ckpt_path="last" if resume else None)
    return recorder.losses


@pytest.mark.parametrize(("family", "signum"), [("bert", signal.SIGTERM), ("gpt", signal.SIGUSR1)])
def test_preempt_and_resume_is_exact(family: str, signum: int, tmp_path: Path) -> None:
    full = _fit(family, tmp_path / "full")
    first = _fit(family, tmp_path / "run", signal_at=(4, signum))
    assert sorted(first) == [1, 2, 3, 4]  # stopped cleanly right after the signalled step
    saved = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 4 and saved["tokens_seen"] == 4 * 4 * 16
    assert signal.getsignal(signum) is not None  # handlers restored
    resumed = _fit(family, tmp_path / "run", resume=True)
    assert sorted(resumed) == [5, 6, 7, 8]
    assert {k: full[k] for k in first} == first
    assert {k: full[k] for k in resumed} == resumed  # bitwise: same data order, masks and dropout


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_resume_is_exact_with_the_real_data_modules(family: str, tmp_path: Path) -> None:
    """The same, through the suite's own DataModules: MLM masks, NSP pairs and packing survive a resume."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    lines = [" ".join(f"{words[(d + s) % 12]} {words[(d * s + 3) % 12]} {words[(s + 5) % 12]} number {d}."
                      for s in range(6)) for d in range(120)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")

    def data() -> LightningDataModule:
        cls = BertDataModule if family == "bert" else GptDataModule
        return cls(source=str(corpus), vocab_size=300, max_length=32, batch_size=4, cache_dir=str(tmp_path / "cache"))

    full = _fit(family, tmp_path / "full", datamodule=data())
    first = _fit(family, tmp_path / "run", signal_at=(4, signal.SIGTERM), datamodule=data())
    resumed = _fit(family, tmp_path / "run", resume=True, datamodule=data())
    assert sorted(first) == [1, 2, 3, 4] and sorted(resumed) == [5, 6, 7, 8]
    assert {k: full[k] for k in resumed} == resumed


class Validations(Callback):
    """The steps at which a (non-sanity) validation ran."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking:
            self.steps.append(trainer.global_step)


def _fit_logged(root: Path, val_every: int, signal_at: tuple[int, int] | None = None,
                resume: bool = False) -> list[int]:
    """A GPT run as `pretrain fit` makes it: CSV log, validation every `val_every` steps, top-2 + last checkpoints."""
    seed_everything(0)
    module = GptPretraining(tiny_config("gpt", vocab_size=64, dropout=0.1), warmup_steps=2, max_steps=10)
    validations = Validations()
    checkpointing = ModelCheckpoint(dirpath=root / "checkpoints", monitor="val/loss", save_top_k=2, save_last=True)
    trainer = Trainer(
        max_steps=8, logger=CSVLogger(root, name="csv"), log_every_n_steps=1, val_check_interval=val_every,
        limit_val_batches=1, num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False,
        plugins=[AtomicCheckpointIO()], default_root_dir=root,
        callbacks=[Recorder(signal_at), validations, PreemptionCheckpoint(), checkpointing],
    )
    trainer.fit(module, TinyDataModule("gpt"), ckpt_path="last" if resume else None)
    return validations.steps


def _logged(root: Path, name: str) -> list[tuple[int, str]]:
    """(step label, value) of every logged `name`, over all the run's CSV versions in order."""
    rows = []
    for path in sorted(root.glob("csv/version_*/metrics.csv")):
        rows += [(int(row["step"]), row[name]) for row in csv.DictReader(path.open()) if row.get(name)]
    return rows


@pytest.mark.parametrize(("val_every", "signal_step", "saved_step"), [(4, 3, 3), (2, 3, 3), (4, 4, 5)])
def test_sigterm_resume_logs_the_uninterrupted_runs_steps_and_checkpoints(val_every: int, signal_step: int,
                                                                          saved_step: int, tmp_path: Path) -> None:
    """Stopped by SIGTERM (before the first validation, after one, or at a validation step, which validates
    first and stops one step later) and resumed: the same curves under the same step labels as an uninterrupted
    run, no extra validation at the stop, no second "last" file, no top-k slot taken by the stop, and a temp
    file left by a kill during a save is removed on the next start."""
    validated_before_stop = [step for step in range(val_every, 9, val_every) if step < saved_step]
    full = tmp_path / "full"
    assert _fit_logged(full, val_every) == list(range(val_every, 9, val_every))
    run = tmp_path / "run"
    # No validation on the way out:
    assert _fit_logged(run, val_every, signal_at=(signal_step, signal.SIGTERM)) == validated_before_stop
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.ckpt"} | {
        f"epoch=0-step={step}.ckpt" for step in validated_before_stop}
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == saved_step and saved["epoch"] == 0  # mid-epoch, not overwritten at train end
    stale = run / "checkpoints" / ".last.ckpt.k3j9_x0q.ckpt"  # what a SIGKILL in the middle of a save leaves
    stale.write_bytes(b"half a checkpoint")
    unrelated = run / "checkpoints" / ".notes"
    unrelated.write_text("kept")
    assert _fit_logged(run, val_every, resume=True) == [s for s in range(val_every, 9, val_every) if s > saved_step]
    assert not stale.exists() and unrelated.exists()
    assert _logged(run, "train/loss") == _logged(full, "train/loss")
    assert _logged(run, "val/loss") == _logged(full, "val/loss")
    names = {p.name for p in (run / "checkpoints").iterdir() if not p.name.startswith(".")}
    assert names == {p.name for p in (full / "checkpoints").iterdir()}


def test_slurm_requeue_resumes_from_the_sigusr1_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under SLURM with auto-requeue, SIGUSR1 at step 3 saves last.ckpt at that step (after the periodic one of
    step 2), requeues the job with `scontrol requeue <job id>`, and the requeued launch's `--ckpt_path last` goes on
    from step 3 exactly as the uninterrupted run."""
    bin_dir, requeued = tmp_path / "bin", tmp_path / "requeued.txt"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {requeued}\n')
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name, value in {"SLURM_NTASKS": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
                        "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "pretrain", "SLURM_NODELIST": "node1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)

    def fit(root: Path, signal_at: tuple[int, int] | None = None, resume: bool = False) -> dict[int, float]:
        seed_everything(0)
        module = GptPretraining(tiny_config("gpt", vocab_size=64, dropout=0.1), warmup_steps=2, max_steps=10)
        recorder = Recorder(signal_at)
        periodic = ModelCheckpoint(dirpath=root, every_n_train_steps=2, save_top_k=-1, save_last=True)
        trainer = Trainer(
            max_steps=8, logger=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
            callbacks=[recorder, PreemptionCheckpoint(), periodic], default_root_dir=root,
            plugins=[SLURMEnvironment(auto_requeue=True)],
        )
        trainer.fit(module, TinyDataModule("gpt"), ckpt_path="last" if resume else None)
        return recorder.losses

    full = fit(tmp_path / "full")
    first = fit(tmp_path / "run", signal_at=(3, signal.SIGUSR1))
    assert sorted(first) == [1, 2, 3]  # stopped at the step boundary after the signal
    assert torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)["global_step"] == 3  # not the step-2 one
    assert not list((tmp_path / "run").glob("hpc_ckpt_*"))  # Lightning's mid-step file is not written
    assert requeued.read_text().split() == ["requeue", "4242"]
    resumed = fit(tmp_path / "run", resume=True)
    assert sorted(resumed) == [4, 5, 6, 7, 8]
    assert {k: full[k] for k in resumed} == resumed  # bitwise: the weights at step 3 are the uninterrupted run's
    weights = [torch.load(root / "last.ckpt", weights_only=True)["state_dict"] for root in (tmp_path / "full",
                                                                                              tmp_path / "run")]
    assert weights[0].keys() == weights[1].keys() and all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
