"""A run's flat, filterable description: what W&B's config and CSV's hparams.yaml hold.

Every key is a scalar at the top level, so a dashboard can filter and group runs by it
(family, preset, size, budget, optimiser, data, task, seed, starting checkpoint, code version).
Pretraining fills the model and budget keys from the module and data module it runs;
fine-tuning (tasks.run_config) adds task and starting checkpoint. Keys without a value are None.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, Trainer
from transformers import PreTrainedTokenizerBase

from pretrain.blocks.config import TransformerConfig
from pretrain.family import family_record
from pretrain.models.counting import count_parameters

REPO = Path(__file__).resolve().parents[1]  # the suite's checkout: its git commit, configs/, runs/
RUN_CONFIG_KEYS = (
    "job_type", "family", "preset", "params", "non_embedding_params", "d_model", "n_layers", "n_heads", "seq_len",
    "max_positions", "vocab_size", "batch_size", "train_steps", "tokens_budget", "lr", "schedule", "warmup_steps",
    "weight_decay", "data_source", "tokenizer", "task", "seed", "pretrain_checkpoint", "pretrain_step", "git_commit",
)


def git_commit() -> str | None:
    """The code's commit (with `-dirty` for uncommitted changes), or None outside a git checkout."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=False)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=False).stdout.strip()
    except OSError:  # no git executable
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


def backbone_facts(family: str, config: TransformerConfig, *, nsp: bool = True) -> dict[str, Any]:
    """Size keys of a backbone, counted on a meta-device copy (no memory, identical for both commands); `nsp`:
    BERT with its next-sentence pooler and head (a run pretrained without NSP builds neither)."""
    with torch.device("meta"):
        model = family_record(family).build(config, nsp=nsp)
    return {
        "family": family, "params": count_parameters(model),
        "non_embedding_params": count_parameters(model, exclude_embeddings=True),
        "d_model": config.d_model, "n_layers": config.n_layers, "n_heads": config.n_heads,
        "max_positions": config.max_positions, "vocab_size": config.vocab_size,
    }


def trainer_budget(trainer: Trainer, batch_size: int | None, seq_len: int | None) -> dict[str, Any]:
    """trainer.max_steps and the token budget it implies: steps x global batch x sequence length.
    (Not `max_steps`: that key is the pretraining module's schedule length, logged by Lightning.)"""
    steps = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
    tokens = None
    if steps is not None and batch_size is not None and seq_len is not None:
        tokens = steps * batch_size * seq_len * trainer.accumulate_grad_batches * trainer.world_size
    return {"train_steps": steps, "tokens_budget": tokens}


def seed_of(config_seed: Any) -> int | None:
    return config_seed if isinstance(config_seed, int) and not isinstance(config_seed, bool) else None


def tokenizer_name(tokenizer: PreTrainedTokenizerBase | None) -> str | None:
    """The tokenizer's algorithm as `--data.tokenizer_kind` spells it (wordpiece, bpe), read off the tokenizer
    itself, so a pretraining run and the fine-tuning runs of its checkpoint report the same value."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return None if backend is None else str(json.loads(backend.to_str())["model"]["type"]).lower()


def pretrain_run_config(module: Any, data: LightningDataModule | None, trainer: Trainer, *,
                        seed: int | None) -> dict[str, Any]:
    """The flat config of a pretraining run (a PretrainingModule and its data module)."""
    hp = module.hparams
    batch = getattr(data, "batch_size", None)
    seq_len = getattr(data, "max_length", None)
    values: dict[str, Any] = {
        "job_type": "pretrain", "preset": module.preset,
        **backbone_facts(module.family, module.config, nsp=bool(hp.get("nsp", True))),
        "seq_len": seq_len, "batch_size": batch, **trainer_budget(trainer, batch, seq_len),
        "lr": hp.get("lr"), "schedule": hp.get("schedule"), "warmup_steps": hp.get("warmup_steps"),
        "weight_decay": hp.get("weight_decay"), "data_source": str(getattr(data, "source", "")) or None,
        "tokenizer": tokenizer_name(getattr(data, "tokenizer", None)), "seed": seed,
    }
    return complete(values)


def complete(values: dict[str, Any]) -> dict[str, Any]:
    """All RUN_CONFIG_KEYS (missing ones None) plus the code version, in one fixed order."""
    unknown = set(values) - set(RUN_CONFIG_KEYS)
    if unknown:
        raise ValueError(f"run config keys {sorted(unknown)} are not among RUN_CONFIG_KEYS")
    values = {**values, "git_commit": git_commit()}
    return {key: values.get(key) for key in RUN_CONFIG_KEYS}
