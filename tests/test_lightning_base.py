"""Shared pretraining pieces: lr schedule, weight-decay groups, settings validation, baselines, GPT loss shift."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from lightning_fakes import TinyDataset, tiny_config

from pretrain.lightning import BertPretraining, GptPretraining
from pretrain.lightning.metrics import UnigramBaseline
from pretrain.lightning.schedule import LrSchedule

torch.set_num_threads(1)


def test_schedule_warmup_then_cosine_and_linear() -> None:
    cosine = LrSchedule("cosine", warmup=10, total=110, min_ratio=0.1).factor
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way down the cosine
    assert cosine(110) == pytest.approx(0.1) and cosine(500) == pytest.approx(0.1)
    linear = LrSchedule("linear", warmup=0, total=100, min_ratio=0.0).factor
    assert linear(25) == pytest.approx(0.75)


def test_no_weight_decay_on_biases_norms_embeddings() -> None:
    module = GptPretraining(tiny_config("gpt"), max_steps=10, warmup_steps=1)
    optimizer = module.configure_optimizers()["optimizer"]
    decay, plain = ({id(p) for p in g["params"]} for g in optimizer.param_groups)
    assert optimizer.param_groups[1]["weight_decay"] == 0.0
    embeddings = module.model.decoder.embeddings.tokens.weight
    assert id(embeddings) in plain and id(module.model.lm_head.decoder.weight) in plain  # tied
    for name, p in module.model.named_parameters():
        assert (id(p) in decay) == (p.dim() >= 2 and "embeddings" not in name), name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"lr": 0.0}, "model.lr=0.0"), ({"schedule": "step"}, "model.schedule='step'"),
     ({"max_steps": 5, "warmup_steps": 10}, "model.max_steps=5 must be greater"),
     ({"min_lr_ratio": 2.0}, "model.min_lr_ratio=2.0")],
)
def test_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GptPretraining(tiny_config("gpt"), **kwargs)


def test_nsp_needs_two_segment_rows_or_none() -> None:
    config = tiny_config("bert")
    config.type_vocab_size = 1
    with pytest.raises(ValueError, match="type_vocab_size=1"):
        BertPretraining(config)
    BertPretraining(config, nsp=False)  # MLM only is fine
    config.type_vocab_size = 0
    BertPretraining(config)  # ModernBERT-style: the pair is marked by [SEP] alone


def test_unigram_baseline() -> None:
    metric = UnigramBaseline(vocab_size=8)
    metric.update(torch.tensor([[1, 1, 2, -100], [1, 3, -100, -100]]))
    out = metric.compute()
    p = torch.tensor([3, 1, 1]) / 5
    assert out["ppl"].item() == pytest.approx(math.exp(-(p * p.log()).sum().item()), rel=1e-6)
    assert out["majority_acc"].item() == pytest.approx(0.6)


def test_gpt_loss_predicts_next_token_and_skips_padding() -> None:
    module = GptPretraining(tiny_config("gpt", dropout=0.0))
    module.eval()
    item = TinyDataset("gpt", 2, 8, 64, 0)[1]
    batch = {k: v[None] for k, v in item.items()}
    batch["attention_mask"][0, 6:] = 0
    loss = module._step(batch, "val")
    logits = module.model(batch["input_ids"], batch["attention_mask"]).logits
    expected = F.cross_entropy(logits[0, :5], batch["input_ids"][0, 1:6])  # targets 1..5; 6, 7 are padding
    torch.testing.assert_close(loss, expected)
