"""The flat, filterable config of a fine-tuning run (the keys of pretrain.run_config): backbone size,
task, seed, data, and the pretraining checkpoint and step the run started from."""

from __future__ import annotations

from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import Trainer

from pretrain.checkpoint import HF_PREFIX, load_checkpoint_file
from pretrain.run_config import backbone_facts, complete, seed_of, tokenizer_name, trainer_budget
from tasks.base import TaskDataModule, TaskModule
from tasks.registry import task_of


def pretraining_facts(checkpoint: str) -> dict[str, Any]:
    """What the pretraining run recorded in its checkpoint and reported itself: the step it was saved at and
    the model preset (None for hf: directories and for checkpoints saved before the preset was recorded)."""
    if checkpoint.startswith(HF_PREFIX):
        return {"pretrain_step": None, "preset": None}
    saved = load_checkpoint_file(checkpoint)
    step = saved.get("global_step")
    return {"pretrain_step": int(step) if step is not None else None, "preset": saved.get("preset")}


def describe_finetuning(trainer: Trainer, module: Any, config: Namespace) -> dict[str, Any]:
    if not isinstance(module, TaskModule):
        raise TypeError(f"describe_finetuning expects a TaskModule, got {type(module).__name__}")
    data = trainer.datamodule
    batch = data.batch_size if isinstance(data, TaskDataModule) else None
    seq_len = data.max_length if isinstance(data, TaskDataModule) else None
    checkpoint = str(module.hparams.checkpoint)
    return complete({
        "job_type": "finetune", "task": task_of(module).name, **backbone_facts(module.family, module.backbone_config),
        "seq_len": seq_len, "batch_size": batch, **trainer_budget(trainer, batch, seq_len),
        "lr": module.optimisation.lr, "schedule": module.optimisation.schedule,
        "weight_decay": module.optimisation.weight_decay,
        "data_source": data.describe("train") if isinstance(data, TaskDataModule) else None,
        "tokenizer": tokenizer_name(module.tokenizer), "seed": seed_of(config.get("seed_everything")),
        "pretrain_checkpoint": checkpoint, **pretraining_facts(checkpoint),
    })
