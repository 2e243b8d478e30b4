"""What a command leaves in its own run folder and hands to its loggers.

`RunRecorder` replaces LightningCLI's SaveConfigCallback: Lightning writes config.yaml into
`trainer.log_dir`, which for a WandbLogger is its save_dir, shared by every run (runs/config.yaml,
overwritten by each). Here each run writes, into its run folder (`trainer.default_root_dir`, pretrain.run_layout):

    config.yaml    the resolved config (re-run it with `--config config.yaml`; W&B files: cli-config.yaml)
    metrics.json   the last value of every logged metric (what a sweep ranks trials by)

and logs the flat run config (pretrain.run_config) to every logger: W&B's config, CSV's hparams.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import Namespace
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from pretrain.data.caching import atomic_write
from pretrain.run_layout import RunLayout

WANDB_CONFIG_FILE = "cli-config.yaml"  # in the W&B run's files: re-launch a dashboard run with --config
# (trainer, module, the subcommand's parsed config) -> flat run config
Describe = Callable[[Trainer, LightningModule, Namespace], dict[str, Any]]


def read_run_metrics(run_dir: Path) -> dict[str, float]:
    """The metrics.json a command wrote into `run_dir` ({} when there is none)."""
    path = RunLayout(run_dir).metrics_file
    return json.loads(path.read_text()) if path.is_file() else {}


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The config.yaml a command wrote into `run_dir` ({} when there is none)."""
    path = RunLayout(run_dir).config_file
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return loaded if isinstance(loaded, dict) else {}


def run_data_option(run_dir: Path, name: str) -> Any:
    """One option of the data module a command ran with, from its config.yaml (None when absent)."""
    data = read_run_config(run_dir).get("data") or {}
    return (data.get("init_args") or data).get(name)


class RunRecorder(SaveConfigCallback):
    def __init__(self, parser: LightningArgumentParser, config: Namespace, *, describe: Describe,
                 config_filename: str = RunLayout.CONFIG_FILE, overwrite: bool = True, multifile: bool = False) -> None:
        super().__init__(parser, config, config_filename=config_filename, overwrite=overwrite, multifile=multifile,
                         save_to_log_dir=False)
        self.describe = describe
        self.values: dict[str, Any] = {}
        self.metrics: dict[str, float] = {}

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Called once, on global rank 0, after the loggers started and before hyperparameters are logged."""
        root = Path(trainer.default_root_dir)
        root.mkdir(parents=True, exist_ok=True)
        path = root / self.config_filename
        text = self.parser.dump(self.config, skip_none=False)
        atomic_write(path, lambda tmp: tmp.write_text(text))
        self.values = self.describe(trainer, pl_module, self.config)
        self._log_values(trainer)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):  # uploaded with the run; W&B's own config.yaml is the flat one
                (Path(logger.experiment.dir) / WANDB_CONFIG_FILE).write_text(text)

    def _log_values(self, trainer: Trainer) -> None:
        for logger in trainer.loggers:
            logger.log_hyperparams(self.values)

    # Lightning logs the module's hyperparameters after `setup`; a task module's `family` argument (None:
    # "any") would then hide the backbone's family, so the run config is logged again once a stage starts.
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self._log_values(trainer)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and not trainer.training and trainer.state.fn == "validate":
            self._log_values(trainer)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self._log_values(trainer)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self._log_values(trainer)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """After fit, and again after a test in the same command: the last value of every metric so far."""
        if not trainer.is_global_zero:
            return
        self.metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1})
        if self.metrics:
            payload = json.dumps(dict(sorted(self.metrics.items())), indent=2) + "\n"
            atomic_write(RunLayout(trainer.default_root_dir).metrics_file, lambda tmp: tmp.write_text(payload))
