"""What the `pretrain` and `finetune` commands share around one run: its folder, its W&B identity, its end.

    class PretrainCLI(TrackedRunCLI): job_type = "pretrain"; def run_tags(self): ...
    main(): with command_session("pretrain", args): PretrainCLI(..., **session_kwargs(...))

- A sweep trial gets its own run folder: `PRETRAIN_TRIAL_DIR` (set by scripts/sweep.py --local), or
  under W&B's agent `<default_root_dir>/<W&B run id>`; otherwise trainer.default_root_dir as configured.
- Checkpoints without a dirpath go to <run folder>/checkpoints (stable across launches); every metric goes
  to the CSV log in <run folder>/csv, whatever other logger is configured.
- W&B: job type, name (the run folder's name unless the logger sets one) and tags (family, task,
  seed) are filled in before the run starts; the run is finished when the command ends.
- On the command line a config or data error is one line (pretrain.cli_errors).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from jsonargparse import Namespace
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger

from pretrain.cli_errors import command_line_parser_kwargs, one_line_errors
from pretrain.run_config import seed_of
from pretrain.run_layout import RunLayout
from pretrain.run_record import Describe, RunRecorder
from pretrain.wandb_run import finished_wandb_run, identify_runs

TRIAL_DIR_ENV = "PRETRAIN_TRIAL_DIR"


def strategy_name(strategy: object) -> str:
    """A trainer.strategy setting as a name: a registry string ("ddp"), or a strategy config's class name."""
    if isinstance(strategy, str):
        return strategy.rpartition(".")[2]
    if isinstance(strategy, (dict, Namespace)):  # a YAML mapping, or the parsed config's
        return str(strategy.get("class_path", "")).rpartition(".")[2]
    return "" if strategy is None else type(strategy).__name__  # an instance passed in Python


def check_strategy(strategy: object, field: str) -> None:
    """Refuse FSDP (Lightning's FSDPStrategy and its "fsdp*" names) before anything is built, in one line.

    Lightning's FSDP flattens the parameters (use_orig_params=True hands the optimizer 1-D shards), so the
    weight-decay rule, which reads a parameter's shape (pretrain.lightning.optim.decay_groups), would decay
    nothing; and the copying probe and ValidationMedia call the model outside FSDP's root forward, where the
    embedding is still sharded. Every preset and its AdamW state fit one GPU (`--estimate` prints the memory), so
    DDP is the multi-GPU path.
    """
    name = strategy_name(strategy)
    if "fsdp" in name.lower():
        raise ValueError(f"{field}={name!r} is refused: under FSDP's flattened parameters the weight-decay groups "
                         "(chosen by parameter shape) would decay nothing; use DDP (configs/trainer/ddp.yaml)")


def as_list(value: Any) -> list[Any]:
    """A trainer option that takes one item or several (loggers, callbacks, plugins) as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def trial_run_dir(default_root_dir: str | None) -> Path | None:
    """The run folder of a sweep trial, or None outside a sweep."""
    if os.environ.get(TRIAL_DIR_ENV):
        return Path(os.environ[TRIAL_DIR_ENV])
    if os.environ.get("WANDB_SWEEP_ID") and os.environ.get("WANDB_RUN_ID"):  # set by `wandb agent` per trial
        return Path(default_root_dir or ".") / os.environ["WANDB_RUN_ID"]
    return None


def init_options(cls: type, root: type) -> dict[str, Any]:
    """Every option `cls` takes, its own and its ancestors' from `root` down (a subclass's __init__ forwards the
    shared ones), with its default (inspect.Parameter.empty for a required one)."""
    return {name: parameter.default for klass in reversed(cls.__mro__) if issubclass(klass, root)
            and "__init__" in vars(klass)
            for name, parameter in inspect.signature(vars(klass)["__init__"]).parameters.items()
            if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) and name != "self"}


def options_note(groups: dict[str, tuple[type, list[type]]]) -> str:
    """`--help`'s list of every option of the classes a command takes under `--model` / `--data` (LightningCLI's
    own help names only the option that picks the class)."""
    listed = "; ".join(f"{cls.__name__}: {', '.join(init_options(cls, root))}"
                       for group, (root, classes) in groups.items() for cls in classes)
    keys = " and ".join(f"--{group}.init_args.NAME" for group in groups)
    helps = " and ".join(f"--{group}.help CLASS" for group in groups)
    return f"Options of the model and data classes ({keys}; {helps} describe them): {listed}."


class TrackedRunCLI(LightningCLI):
    job_type: ClassVar[str]

    @classmethod
    def help_notes(cls) -> str:
        """What `--help` adds before the error note: the options of the command's classes."""
        return ""

    def run_tags(self) -> list[str]:
        """W&B tags of this run beyond what the logger config sets (family, task, seed)."""
        return []

    def run_seed(self) -> int | None:
        config = self.config.get(str(self.subcommand), self.config) if self.subcommand else self.config
        return seed_of(config.get("seed_everything"))

    def before_instantiate_classes(self) -> None:
        config = self.config.get(str(self.subcommand), self.config) if self.subcommand else self.config
        check_strategy(config.trainer.get("strategy"), "trainer.strategy")
        trial = trial_run_dir(config.trainer.get("default_root_dir"))
        if trial is not None:
            config.trainer.default_root_dir = str(trial)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self._get(self.config_init, "trainer", default={})
        layout = RunLayout(config.get("default_root_dir") or Path.cwd())
        # Every logged metric goes to <run folder>/csv/version_N/metrics.csv, whatever else is configured: a
        # logger config fixes its own save_dir, which every run with that config would share.
        loggers: list[Logger] = [lg for lg in as_list(config.get("logger")) if isinstance(lg, Logger)]
        if not any(isinstance(lg, CSVLogger) and Path(lg.root_dir) == layout.csv_dir for lg in loggers):
            loggers.append(CSVLogger(layout.root, name=RunLayout.CSV_DIR))
        trainer = super().instantiate_trainer(logger=loggers, **kwargs)
        layout = RunLayout(trainer.default_root_dir)
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                # The run folder, not a logger's (W&B: save_dir/project/id).
                callback.dirpath = str(layout.checkpoints_dir)
        identify_runs(trainer.loggers, job_type=self.job_type, name=Path(trainer.default_root_dir).resolve().name,
                      tags=self.run_tags())
        return trainer


def session_kwargs(cli_class: type[LightningCLI], args: list[str] | None, describe: Describe) -> dict[str, Any]:
    """LightningCLI keyword arguments every command uses: the run record, and one-line errors on the command line."""
    kwargs: dict[str, Any] = {"save_config_callback": RunRecorder, "save_config_kwargs": {"describe": describe},
                              "args": args}
    if args is None:
        notes = cli_class.help_notes() if issubclass(cli_class, TrackedRunCLI) else ""
        kwargs["parser_kwargs"] = command_line_parser_kwargs(list(cli_class.subcommands()), notes)
    return kwargs


@contextmanager
def command_session(prog: str, args: list[str] | None) -> Iterator[None]:
    """One command: its W&B run finished at the end; on the command line (`args=None`), one-line errors."""
    with ExitStack() as stack:
        if args is None:
            stack.enter_context(one_line_errors(prog))
        stack.enter_context(finished_wandb_run())
        yield
