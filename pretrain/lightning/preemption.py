"""SIGTERM / SIGUSR1: finish the current step, save last.ckpt, stop cleanly; the next launch resumes as if
the run had never stopped (same step labels in the logs, same checkpoint files). Under SLURM with auto-requeue the
SIGUSR1 checkpoint is that same last.ckpt, and the job is then requeued, so `--ckpt_path last` resumes from it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from pretrain.data.caching import remove_stale_temp_files
from pretrain.run_layout import RunLayout, last_checkpoint_in

# The termination signal this process received, for what runs commands in this process (the comparison's pool): a
# run stopped by one is not finished, even though its command returns normally after the checkpoint.
_STOP: dict[str, int] = {}


def request_stop(signum: int) -> None:
    """Record that this process was asked to stop (the first signal is kept)."""
    _STOP.setdefault("signum", signum)


def stop_signal() -> int | None:
    """The termination signal this process received since `clear_stop`, or None."""
    return _STOP.get("signum")


def clear_stop() -> None:
    _STOP.clear()


class PreemptionCheckpoint(Callback):
    """Turns a termination signal into a checkpoint at a step boundary and a clean exit (code 0).

    `--ckpt_path last` then resumes from it: the file is `last.ckpt` in the first
    ModelCheckpoint's directory, where Lightning looks for "last". Under SLURM with auto-requeue
    (Lightning's default there) the requeue signal (SIGUSR1, `#SBATCH --signal=SIGUSR1@90`) is handled
    here too, in place of Lightning's handler: that one saves `hpc_ckpt_N.ckpt` inside the signal handler,
    mid-step, and a requeued job started with `--ckpt_path last` never reads it. Here the checkpoint is
    last.ckpt at a step boundary, and rank 0 then requeues the job (`scontrol requeue`, as Lightning does).
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._waited = False  # the stop already waited one step for a scheduled validation

    @staticmethod
    def _requeue_signal(trainer: Trainer) -> signal.Signals | None:
        """The signal after which the job is requeued: SLURMEnvironment's requeue_signal under auto-requeue."""
        # Where Lightning's own signal connector reads it: a one-device run's strategy holds no environment.
        environment = trainer._accelerator_connector.cluster_environment
        if isinstance(environment, SLURMEnvironment) and environment.auto_requeue:
            return environment.requeue_signal
        return None

    def _signals(self, trainer: Trainer) -> list[signal.Signals]:
        requeue = self._requeue_signal(trainer)
        usr1 = [signal.SIGUSR1] if hasattr(signal, "SIGUSR1") else []
        return [signal.SIGTERM, *usr1] + ([requeue] if requeue is not None and requeue not in usr1 else [])

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum  # only a flag: saving inside a signal handler could interrupt a step
        request_stop(signum)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # A kill during a checkpoint save (SIGKILL after the grace period) leaves atomic_write's temp file; at the
        # next start nothing is writing there yet, so any such file is stale.
        if stage == "fit" and trainer.is_global_zero:
            for directory in {self.checkpoint_path(trainer).parent} | {
                    Path(c.dirpath) for c in trainer.checkpoint_callbacks if getattr(c, "dirpath", None)}:
                for path in remove_stale_temp_files(directory, ".ckpt"):
                    print(f"removed {path}, a checkpoint left half-written by an earlier run")

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
        loop = trainer.fit_loop.epoch_loop
        if not self._waited and loop._should_check_val_fx(trainer.fit_loop._data_fetcher):
            # A step the uninterrupted run validates (and checkpoints) at: let that happen and stop after the next
            # step; a checkpoint saved here would resume past this validation (Lightning skips it on restart).
            # The same on every rank: the schedule is. Waiting once is enough (val_check_interval=1 validates always).
            self._waited = True
            return
        path = self.checkpoint_path(trainer)
        owners = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.save_last
                  and c.dirpath == str(path.parent)]
        for callback in owners:
            # This file is that callback's "last", recorded in the checkpoint as it records its own: otherwise its
            # next save after the resume would write last-v1.ckpt beside it.
            callback.last_model_path = str(path)
        trainer.save_checkpoint(path)
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint):
                # Saved at this step, as ModelCheckpoint._save_checkpoint records it: no callback saves again on
                # the way out (on_train_end's "last" would overwrite this mid-epoch state with an end-of-epoch one).
                callback._last_global_step_saved = trainer.global_step
                if callback in owners:
                    callback._last_checkpoint_saved = str(path)
        trainer.should_stop = True
        # Lightning validates when should_stop is set; the uninterrupted run would not validate at this step, and
        # that validation would log a point, take a top-k slot and save another "last". Lightning's own flag for
        # "no validation after this batch" (it sets it when it resumes from a checkpoint saved on the last batch).
        loop._skip_next_val = True
        if trainer.is_global_zero:
            print(f"received signal {self.received}: saved {path} at step {trainer.global_step}; stopping")
            if self.received == self._requeue_signal(trainer):
                requeue_slurm_job()

    @staticmethod
    def checkpoint_path(trainer: Trainer) -> Path:
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath:
                return last_checkpoint_in(Path(callback.dirpath))
        return RunLayout(trainer.default_root_dir).last_checkpoint


def requeue_slurm_job() -> None:
    """`scontrol requeue` this SLURM job (an array task as <array job>_<task>); the requeued job keeps its id, so
    its run folder (scripts/slurm/pretrain.sbatch names it after the id) and last.ckpt are found again."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array_job else os.environ["SLURM_JOB_ID"]
    try:
        result = subprocess.run(["scontrol", "requeue", job], check=False).returncode
    except FileNotFoundError:
        result = None
    print(f"requeued SLURM job {job}" if result == 0 else
          f"requeueing SLURM job {job} failed (scontrol exit status {result}); resume with --ckpt_path last")
