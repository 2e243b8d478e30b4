"""The `finetune` command: LightningCLI over the task modules.

    finetune fit     --config configs/finetune/classification.yaml --model.checkpoint runs/bert/last.ckpt
    finetune test    --config configs/finetune/classification.yaml --model.checkpoint ... --ckpt_path best.ckpt
    finetune predict --config configs/finetune/ner.yaml --model.checkpoint hf:/models/bert --ckpt_path ft.ckpt

The task is the config's `model.class_path` / `data.class_path`. `fit --test_after_fit true` tests
the best checkpoint right after training and writes the results JSON, so one command gives one
seed's score; N seeds: `for s in 0 1 2; do finetune fit ... --seed_everything $s --test_after_fit true
--results_file runs/cls/seed$s.json; done`.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from lightning.pytorch.cli import LightningArgumentParser

from pretrain.checkpoint import load_checkpoint_file
from pretrain.lightning.wandb_mode import ensure_wandb_mode
from pretrain.run_cli import TrackedRunCLI, command_session, options_note, session_kwargs
from pretrain.run_layout import RunLayout
from tasks.base import TaskDataModule, TaskModule, connect
from tasks.copying_check import copy_warning
from tasks.outputs import FinetuneResults, PredictionFileWriter, read_results, write_results

# The registry imports every task's module and data class, so `finetune --help` lists them as the known
# subclasses of --model and --data (jsonargparse names only the subclasses imported so far).
from tasks.registry import TASKS, task_of, task_record
from tasks.run_config import describe_finetuning


class FinetuneCLI(TrackedRunCLI):
    job_type = "finetune"
    _trained: dict[str, int | None] = {}  # steps and training examples of the last fit (after_fit)

    def run_tags(self) -> list[str]:
        seed = self.run_seed()
        return [self.model.family, task_of(self.model).name] + ([f"seed{seed}"] if seed is not None else [])

    @classmethod
    def help_notes(cls) -> str:
        records = [task_record(task) for task in TASKS]
        return options_note({"model": (TaskModule, [r.module_class for r in records]),
                             "data": (TaskDataModule, [r.data_class for r in records])})

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--results_file", type=str | None, default=None,
                            help="test metrics JSON (default: <run dir>/results.json)")
        parser.add_argument("--predictions_file", type=str | None, default=None,
                            help="predict output (default: <run dir>/predictions.{txt,conll,jsonl})")
        parser.add_argument("--test_after_fit", type=bool, default=False,
                            help="after fit, test the best checkpoint and write the results JSON")

    def _parse_ckpt_path(self) -> None:
        """Take from a fine-tuned `--ckpt_path` only the model arguments that define its weights.

        Lightning's default overwrites every model argument with the checkpoint's hyperparameters, so
        `finetune test --ckpt_path ft.ckpt --model.num_beams 4` would silently decode with the beam
        width of training. Here the arguments in `weights_hparams` (which backbone, family, BERT's
        generation mode) come from the checkpoint, unless the run gives a different non-default value,
        which is an error naming both (a given backbone path is kept: the file may have moved, and the
        fine-tuned weights replace its weights anyway); everything else (decoding, learning rate) stays
        the run's own.
        """
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if not ckpt_path or not Path(ckpt_path).is_file():
            return  # "best"/"last", or a missing file that Lightning reports by name
        stored = load_checkpoint_file(ckpt_path).get("hyper_parameters") or {}
        model = self.config[subcommand].model
        module_name, _, class_name = model.class_path.rpartition(".")
        model_class = getattr(importlib.import_module(module_name), class_name)
        defaults = model_class.option_defaults() if issubclass(model_class, TaskModule) else {}
        for name in getattr(model_class, "weights_hparams", ()):
            if name not in stored:
                continue
            given = model.init_args.get(name)
            if name == "checkpoint" and given:
                continue  # the pretrained file may have moved: it gives only the architecture, ckpt_path the weights
            default = defaults.get(name, inspect.Parameter.empty)
            if given not in (default, "", None) and given != stored[name]:
                raise ValueError(f"checkpoint {ckpt_path} was fine-tuned with model.{name}={stored[name]!r}, "
                                 f"but this run sets {given!r}; drop the option or use a matching checkpoint")
            model.init_args[name] = stored[name]

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        # The data encodes with the backbone's tokenizer; the module's label heads follow the data's labels.
        connect(self.model, self.datamodule)

    def _option(self, name: str) -> object:
        return self.config[self.subcommand].get(name) if self.subcommand else None

    def _run_layout(self) -> RunLayout:
        return RunLayout(self.trainer.default_root_dir)  # the configured run folder (log_dir is a logger's)

    def _results_path(self) -> Path:
        """Where the test results go: --results_file, else the run folder's results file."""
        return Path(str(self._option("results_file") or self._run_layout().results_file))

    def _write_results(self, finetuned_checkpoint: str | None) -> None:
        model, data, trainer = self.model, self.datamodule, self.trainer
        assert isinstance(model, TaskModule) and isinstance(data, TaskDataModule)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        path = self._results_path()
        seed = self._option("seed_everything")
        restored = model.restored if finetuned_checkpoint else None
        monitor = trainer.checkpoint_callback.monitor if trainer.checkpoint_callback else None
        # Under DDP each process tests a strided share of the examples (DistributedSampler, padded with
        # repeats), so local records are neither complete nor in test-set order: they are not written
        # (null) rather than gathered; test on one device for a paired bootstrap.
        per_example = model.per_example if trainer.world_size == 1 else None
        documents = data.documents("test") if per_example is not None else None
        write_results(path, FinetuneResults(
            task=task_of(model).name, family=model.family, checkpoint=model.hparams.checkpoint,
            random_init=bool(model.hparams.random_init), finetuned_checkpoint=finetuned_checkpoint,
            seed=seed if isinstance(seed, int) else None, data=data.describe("test"),
            truncated=data.truncated.get("test", 0), metrics=metrics,
            best_step=restored.step if restored else None, monitor=monitor if restored else None,
            val=restored.val if restored else {}, per_example=per_example, documents=documents,
            steps=self._trained.get("steps"), train_examples=self._trained.get("train_examples"),
        ))
        print(f"results written to {path}")

    def before_fit(self) -> None:
        # The test split is otherwise read only after training: a missing file or an unknown label would
        # fail after the checkpoint, config.yaml and metrics.json are written.
        if self._option("test_after_fit"):
            data = self.datamodule
            assert isinstance(data, TaskDataModule)
            data.check_split("test")
        model = self.model
        assert isinstance(model, TaskModule)
        warning = copy_warning(task_of(model).name, str(model.hparams.checkpoint), bool(model.hparams.random_init))
        if warning and self.trainer.is_global_zero:
            print(warning, flush=True)  # one line, and the run goes on (tasks.copying_check)

    def after_fit(self) -> None:
        if not self._option("test_after_fit") or self.trainer.interrupted:
            return
        # How long it trained, read before testing restores the best checkpoint (early stopping may end it early).
        loader = self.trainer.train_dataloader
        self._trained = {"steps": self.trainer.global_step,
                         "train_examples": len(loader.dataset) if loader is not None else None}
        # The checkpoint with the best validation score (ModelCheckpoint's monitor), not the last weights.
        best = self.trainer.checkpoint_callback.best_model_path if self.trainer.checkpoint_callback else ""
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)
        self._write_results(best or None)

    def after_test(self) -> None:
        ckpt_path = self._option("ckpt_path")
        self._write_results(str(ckpt_path) if ckpt_path else None)

    def before_predict(self) -> None:
        model = self.model
        assert isinstance(model, TaskModule)
        default = self._run_layout().predictions_file(task_of(model).predictions_suffix)
        path = self._option("predictions_file") or default
        self.trainer.callbacks.append(PredictionFileWriter(str(path)))

    def after_predict(self) -> None:
        for callback in self.trainer.callbacks:
            if isinstance(callback, PredictionFileWriter):
                print(f"predictions written to {callback.path}")


def main(args: list[str] | None = None) -> None:
    """Run the command; returns None so the console script exits 0 on success. `args=None` reads
    sys.argv and reports a config or data error in one line (exit status 2); in-process, errors raise."""
    _command(args)


def run(args: list[str]) -> FinetuneResults | None:
    """The command as a Python function (what the comparison calls): run it in-process (errors raise) and
    return the test results it wrote (`test`, `fit --test_after_fit true`); None when it tested nothing."""
    cli = _command(args)
    tested = cli.subcommand == "test" or (
        cli.subcommand == "fit" and bool(cli._option("test_after_fit")) and not cli.trainer.interrupted)
    return read_results(cli._results_path()) if tested else None


def _command(args: list[str] | None) -> FinetuneCLI:
    ensure_wandb_mode()  # offline only without credentials or network; `wandb sync` later
    with command_session("finetune", args):
        return FinetuneCLI(TaskModule, TaskDataModule, subclass_mode_model=True, subclass_mode_data=True,
                           **session_kwargs(FinetuneCLI, args, describe_finetuning))


if __name__ == "__main__":
    main()
