"""random_init: the checkpoint gives only config and tokenizer; the weights are the model's own fresh
init for the run's seed (the control that measures what pretraining adds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning import seed_everything
from tasks_fixtures import hf_backbone

from pretrain.checkpoint import body, load_backbone
from pretrain.models import BertModel, GptModel
from tasks.classification.module import ClassificationModule


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_random_init_is_the_models_fresh_init_for_the_seed(family: str, tmp_path: Path) -> None:
    checkpoint = hf_backbone(family, tmp_path / "model")
    pretrained = load_backbone(checkpoint)
    seed_everything(7)
    module = ClassificationModule(checkpoint, random_init=True)
    assert module.hparams.random_init and module.backbone_config == pretrained.config
    assert module.tokenizer.get_vocab() == pretrained.tokenizer.get_vocab()

    weights = _state(module.body)
    for key, value in _state(body(pretrained)).items():
        if value.is_floating_point() and value.numel() > 1 and value.std() > 0:  # not the norms' ones/zeros
            assert not torch.equal(weights[key], value), f"{key} kept its pretrained value"

    seed_everything(7)
    fresh = (BertModel if family == "bert" else GptModel)(pretrained.config)
    _assert_same(weights, _state(fresh.encoder if family == "bert" else fresh.decoder))
    if family == "bert":
        _assert_same(_state(module.pooler), _state(fresh.pooler))

    seed_everything(8)
    other = _state(ClassificationModule(checkpoint, random_init=True).body)
    assert not torch.equal(other["embeddings.tokens.weight"], weights["embeddings.tokens.weight"])


def test_pretrained_weights_are_kept_without_random_init(tmp_path: Path) -> None:
    checkpoint = hf_backbone("gpt", tmp_path / "model")
    _assert_same(_state(ClassificationModule(checkpoint).body), _state(body(load_backbone(checkpoint))))
