"""The `pretrain` command: LightningCLI over BertPretraining / GptPretraining and the data modules.

    pretrain fit --config configs/pretrain/bert.yaml [--trainer.max_steps=...] [--ckpt_path last]
    pretrain validate|test --config configs/pretrain/gpt.yaml --ckpt_path runs/gpt-mini/checkpoints/last.ckpt

On top of plain LightningCLI it: links the tokenizer's vocabulary size into the model config;
writes checkpoints atomically into
<default_root_dir>/checkpoints (stable across launches, so `--ckpt_path last` finds them);
adds the NaN guard and the SIGTERM/SIGUSR1 checkpoint; switches W&B offline without
credentials or network; checks a checkpoint to resume from, and data.max_length against the model's
max_positions, before any work starts. Each run gets one W&B run (job type pretrain, finished when
the command ends) and writes config.yaml and metrics.json into its run folder (pretrain.run_cli).
`predict` is not offered: pretraining has nothing to predict (generate with pretrain.models instead).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO

from pretrain.checkpoint import read_checkpoint
from pretrain.lightning.atomic_io import AtomicCheckpointIO
from pretrain.lightning.base import PretrainingModule
from pretrain.lightning.nan_guard import NonFiniteLossGuard
from pretrain.lightning.preemption import PreemptionCheckpoint
from pretrain.lightning.wandb_mode import ensure_wandb_mode
from pretrain.run_cli import TrackedRunCLI, as_list, command_session, options_note, session_kwargs
from pretrain.run_config import pretrain_run_config, seed_of
from pretrain.run_layout import last_checkpoints_in


def describe_pretraining(trainer: Trainer, module: Any, config: Namespace) -> dict[str, Any]:
    """The flat W&B / hparams.yaml config of a pretraining run."""
    return pretrain_run_config(module, trainer.datamodule, trainer, seed=seed_of(config.seed_everything))


def model_preset(config: Namespace) -> str | None:
    """The model preset: the name of the model config YAML (None when the config was given inline)."""
    model_config = config.model.init_args.get("config")
    path = model_config.get("__path__") if isinstance(model_config, Namespace) else None
    return Path(str(path)).stem if path else None


DATA_GROUP_TITLE = ("The pretraining data: a subclass of pretrain.data.PretrainDataModule (BertDataModule, "
                    "GptDataModule); --data.help CLASS lists its options")


class PretrainCLI(TrackedRunCLI):
    job_type = "pretrain"

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {k: v for k, v in LightningCLI.subcommands().items() if k != "predict"}

    @classmethod
    def help_notes(cls) -> str:
        from pretrain.arms import ARMS, arm_record
        from pretrain.data import BertDataModule, GptDataModule, PretrainDataModule
        from pretrain.lightning import BertPretraining, ClmMlmPretraining, GptBertPretraining, GptPretraining

        overlays = ", ".join(f"{arm} (configs/pretrain/{record.overlay})" for arm in ARMS
                             if (record := arm_record(arm)).overlay)
        return (options_note({"model": (PretrainingModule, [BertPretraining, GptPretraining, ClmMlmPretraining,
                                                            GptBertPretraining]),
                              "data": (PretrainDataModule, [BertDataModule, GptDataModule])})
                + f" Another arm's objective is an overlay given after its family's config, e.g. --config "
                  f"configs/pretrain/gpt.yaml --config configs/pretrain/gpt-bert.yaml: {overlays}.")

    def run_tags(self) -> list[str]:
        seed = self.run_seed()
        return [self.model.family] + ([f"seed{seed}"] if seed is not None else [])

    def before_instantiate_classes(self) -> None:
        """Check data.max_length against the model's positions before the data module trains a tokenizer."""
        super().before_instantiate_classes()
        config = self.config.get(str(self.subcommand), self.config) if self.subcommand else self.config
        model_config = config.model.init_args.get("config")
        max_length = config.data.init_args.get("max_length") if config.get("data") else None
        positions = model_config.get("max_positions") if isinstance(model_config, Namespace) else None
        if isinstance(max_length, int) and isinstance(positions, int) and max_length > positions:
            raise ValueError(f"data.max_length={max_length} exceeds the model's max_positions={positions}; "
                             "lower --data.init_args.max_length or use a preset with more positions")

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The group's title would be the first sentence of LightningDataModule's docstring, cut off at "is:".
        parser.groups["data"].title = DATA_GROUP_TITLE
        # The vocabulary size is a property of the trained tokenizer, never typed twice.
        parser.link_arguments(
            "data.tokenizer_vocab_size", "model.init_args.config.vocab_size", apply_on="instantiate"
        )

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        # The module records the data's tokenizer in its checkpoints and logs bits per byte with its bytes per token.
        self.model.attach(self.datamodule)
        config = self.config.get(str(self.subcommand), self.config) if self.subcommand else self.config
        self.model.preset = model_preset(config)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self._get(self.config_init, "trainer", default={})
        plugins = as_list(config.get("plugins"))
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())
        callbacks: list[Callback] = []
        present = as_list(config.get("callbacks"))
        for extra in (NonFiniteLossGuard, PreemptionCheckpoint):
            if not any(isinstance(c, extra) for c in present):
                callbacks.append(extra())
        # (TrackedRunCLI adds the CSV log and puts checkpoints without a dirpath into the run folder.)
        return super().instantiate_trainer(plugins=plugins, callbacks=present + callbacks, **kwargs)

    def _parse_ckpt_path(self) -> None:
        """Check a given checkpoint file before anything is built, instead of Lightning's default.

        Lightning would torch.load it and overwrite the model arguments with the stored
        hyperparameters; here the run's config stays what the user wrote, and a mismatch with
        the checkpoint is an error naming both values (see `_check_resume`).
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        ckpt_path = self.config[subcommand].get("ckpt_path")
        if ckpt_path in (None, "last", "best", "hpc"):
            return
        class_path = self.config[subcommand].model.class_path
        module_name, _, name = class_path.rpartition(".")
        family = getattr(getattr(importlib.import_module(module_name), name), "family", None)
        read_checkpoint(ckpt_path, expected_family=family)

    def _check_resume(self) -> None:
        """Fail before any work on a checkpoint that cannot be resumed, naming the file."""
        ckpt_path = self.config_init[self.subcommand].get("ckpt_path")
        if ckpt_path in (None, "best", "hpc"):
            return
        if ckpt_path == "last":
            dirs = [Path(c.dirpath) for c in self.trainer.checkpoint_callbacks if getattr(c, "dirpath", None)]
            found = [p for d in dirs if d.is_dir() for p in last_checkpoints_in(d)]
            if not found:
                return  # Lightning warns and starts fresh: "set and forget" before the first launch
            ckpt_path = max(found, key=lambda p: p.stat().st_mtime)
        model: PretrainingModule = self.model  # type: ignore[assignment]
        checkpoint = read_checkpoint(ckpt_path, expected_family=model.family)
        stored = checkpoint["hyper_parameters"]["config"]
        diff = [f"{k}: run={v!r} checkpoint={stored.get(k)!r}" for k, v in model.config.to_dict().items()
                if stored.get(k) != v]
        if diff:
            raise ValueError(f"checkpoint {ckpt_path}: model config differs from this run's ({', '.join(diff)})")
        tokenizer = getattr(self.datamodule, "tokenizer", None)
        saved = checkpoint.get("tokenizer_json")
        if tokenizer is not None and saved is not None and tokenizer.backend_tokenizer.to_str() != saved:
            raise ValueError(
                f"checkpoint {ckpt_path}: the data module's tokenizer differs from the one the checkpoint "
                "was trained with; pass the same --data.tokenizer_file / data settings"
            )

    def before_fit(self) -> None:
        self._check_resume()

    def before_validate(self) -> None:
        self._check_resume()

    def before_test(self) -> None:
        self._check_resume()


def main(args: list[str] | None = None) -> None:
    """Run the command. `args=None` reads sys.argv and reports a config or data error in one line
    (exit status 2); with `args` (in-process) errors are raised."""
    _command(args)


def run(args: list[str]) -> Path:
    """The command as a Python function (what the comparison calls): run it in-process (errors raise) and
    return its run folder (`trainer.default_root_dir`: the CSV log under csv/, the checkpoints under
    checkpoints/)."""
    return Path(_command(args).trainer.default_root_dir)


def _command(args: list[str] | None) -> PretrainCLI:
    ensure_wandb_mode()
    with command_session("pretrain", args):
        return PretrainCLI(
            PretrainingModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,
            **session_kwargs(PretrainCLI, args, describe_pretraining),
        )


if __name__ == "__main__":
    main()
