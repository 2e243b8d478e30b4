"""SIGTERM / SIGUSR1: finish the current step, save last.ckpt, stop cleanly; the next launch resumes."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint


class PreemptionCheckpoint(Callback):
    """Turns a termination signal into a checkpoint at a step boundary and a clean exit (code 0).

    `--ckpt_path last` then resumes from it: the file is `last.ckpt` in the first
    ModelCheckpoint's directory, where Lightning looks for "last". Under SLURM with
    auto-requeue, SIGUSR1 is left to Lightning, which saves and requeues the job itself.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _signals(self, trainer: Trainer) -> list[signal.Signals]:
        environment = getattr(trainer.strategy, "cluster_environment", None)
        slurm_requeue = isinstance(environment, SLURMEnvironment) and environment.auto_requeue
        return [signal.SIGTERM] + ([] if slurm_requeue or not hasattr(signal, "SIGUSR1") else [signal.SIGUSR1])

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum  # only a flag: saving inside a signal handler could interrupt a step

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python only lets the main thread install handlers
        for sig in self._signals(trainer):
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # Decided together so every rank reaches save_checkpoint's barrier (DDP/FSDP).
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        path = self.checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        trainer.should_stop = True
        if trainer.is_global_zero:
            print(f"received signal {self.received}: saved {path} at step {trainer.global_step}; stopping")

    @staticmethod
    def checkpoint_path(trainer: Trainer) -> Path:
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath:
                return Path(callback.dirpath) / f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}.ckpt"
        return Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
