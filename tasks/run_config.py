"""The flat, filterable config of a fine-tuning run (the keys of pretrain.run_config): backbone size,
task, seed, data, and the pretraining checkpoint and step the run started from."""

from __future__ import annotations

import json
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import Trainer

from pretrain.run_config import backbone_facts, complete, seed_of, trainer_budget
from pretrain.checkpoint import HF_PREFIX, load_checkpoint_file
from tasks.base import TaskDataModule, TaskModule


def pretrain_step(checkpoint: str) -> int | None:
    """The optimizer step a suite checkpoint was saved at (None for hf: directories)."""
    if checkpoint.startswith(HF_PREFIX):
        return None
    step = load_checkpoint_file(checkpoint).get("global_step")
    return int(step) if step is not None else None


def tokenizer_kind(module: TaskModule) -> str:
    """The backbone tokenizer's model type (WordPiece, BPE, ...) and size."""
    kind = json.loads(module.tokenizer.backend_tokenizer.to_str())["model"]["type"]
    return f"{kind}-{len(module.tokenizer)}"


def describe_finetuning(trainer: Trainer, module: Any, config: Namespace) -> dict[str, Any]:
    if not isinstance(module, TaskModule):
        raise TypeError(f"describe_finetuning expects a TaskModule, got {type(module).__name__}")
    data = trainer.datamodule
    batch = data.batch_size if isinstance(data, TaskDataModule) else None
    seq_len = data.max_length if isinstance(data, TaskDataModule) else None
    checkpoint = str(module.hparams.checkpoint)
    return complete({
        "job_type": "finetune", "task": module.task, **backbone_facts(module.family, module.backbone_config),
        "seq_len": seq_len, "batch_size": batch, **trainer_budget(trainer, batch, seq_len),
        "lr": module.hparams.lr, "schedule": "linear", "weight_decay": module.hparams.weight_decay,
        "data_source": data.describe("train") if isinstance(data, TaskDataModule) else None,
        "tokenizer": tokenizer_kind(module), "seed": seed_of(config.get("seed_everything")),
        "pretrain_checkpoint": checkpoint, "pretrain_step": pretrain_step(checkpoint),
    })
