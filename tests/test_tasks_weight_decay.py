"""One weight-decay rule for pretraining and fine-tuning: the AdamW groups every run builds are the ones
the module-type rule (no decay on biases, norms and embeddings, tied weights once) gives, in order."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning import LightningModule
from lightning_fakes import tiny_config
from tasks_fixtures import hf_backbone
from torch import nn

from pretrain.lightning.bert import BertPretraining
from pretrain.lightning.gpt import GptPretraining
from tasks.base import TaskDataModule, TaskModule
from tasks.classification.data import ClassificationDataModule
from tasks.classification.module import ClassificationModule
from tasks.generation.data import GenerationDataModule
from tasks.generation.module import GenerationModule
from tasks.ner.data import NerDataModule
from tasks.ner.module import NerModule

WEIGHT_DECAY = 0.05


def _by_module_type(root: nn.Module) -> tuple[list[int], list[int]]:
    """Parameter ids (decayed, not decayed) by the module-type spelling of the rule, kept here as the reference."""
    decay, plain, seen = [], [], set()
    for module in root.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            skip = name == "bias" or param.dim() < 2 or isinstance(module, (nn.Embedding, nn.LayerNorm, nn.RMSNorm))
            (plain if skip else decay).append(id(param))
    return decay, plain


def _assert_groups(optimizer: torch.optim.Optimizer, root: nn.Module) -> None:
    decay, plain = optimizer.param_groups
    assert decay["weight_decay"] == WEIGHT_DECAY and plain["weight_decay"] == 0.0
    expected_decay, expected_plain = _by_module_type(root)
    assert [id(p) for p in decay["params"]] == expected_decay
    assert [id(p) for p in plain["params"]] == expected_plain
    embeddings = [m.weight for m in root.modules() if isinstance(m, nn.Embedding)]
    assert embeddings and all(any(w is p for p in plain["params"]) for w in embeddings)
    assert len(expected_decay) > 0 and len(expected_plain) > len(embeddings)


@pytest.mark.parametrize("module_class", [BertPretraining, GptPretraining])
def test_pretraining_groups(module_class: type[BertPretraining] | type[GptPretraining]) -> None:
    module = module_class(tiny_config(module_class.family), weight_decay=WEIGHT_DECAY, max_steps=10, warmup_steps=1)
    _assert_groups(module.configure_optimizers()["optimizer"], module.model)
    if module_class is GptPretraining:  # the tied LM head is the embedding: not decayed
        assert module.model.lm_head.decoder.weight is module.model.decoder.embeddings.tokens.weight


def _task(kind: str, checkpoint: str) -> tuple[TaskModule, TaskDataModule]:
    if kind == "ner":
        return NerModule(checkpoint, weight_decay=WEIGHT_DECAY), NerDataModule("builtin")
    if kind.startswith("generation"):
        mode = "bert2bert" if kind.endswith("bert2bert") else "masked"
        return GenerationModule(checkpoint, weight_decay=WEIGHT_DECAY, bert_generation=mode), GenerationDataModule()
    pooling = kind.split("-")[1]
    return ClassificationModule(checkpoint, weight_decay=WEIGHT_DECAY, pooling=pooling), ClassificationDataModule()


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_fine_tuning_groups_for_every_task(family: str, tmp_path: Path) -> None:
    checkpoint = hf_backbone(family, tmp_path / "model")
    kinds = ["classification-native", "classification-mean", "ner", "generation"]
    kinds += ["generation-bert2bert"] if family == "bert" else []
    for kind in kinds:
        module, datamodule = _task(kind, checkpoint)
        datamodule.label_names = ["O", "B-X", "I-X"]  # the heads are built from the labels
        module.configure_task(datamodule)
        module._trainer = SimpleNamespace(estimated_stepping_batches=10)  # the schedule's length only
        assert isinstance(module, LightningModule)
        _assert_groups(module.configure_optimizers()["optimizer"], module)
