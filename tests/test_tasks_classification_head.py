"""The classification readout: each family's own (pooled [CLS] / last token) or mean pooling for both."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tasks_fixtures import hf_backbone

from tasks.classification.head import sequence_features
from tasks.classification.module import ClassificationModule


def test_mean_pooling_averages_the_real_tokens_whatever_the_padding() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pooled = sequence_features(hidden, mask, None, "mean")
    torch.testing.assert_close(pooled[0], hidden[0, :3].mean(dim=0))  # padding positions left out
    torch.testing.assert_close(pooled[1], hidden[1].mean(dim=0))
    last = sequence_features(hidden, mask, None, "native")  # GPT's own: the last real token
    torch.testing.assert_close(last, torch.stack([hidden[0, 2], hidden[1, 4]]))


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_mean_pooling_leaves_berts_pooler_out(family: str, tmp_path: Path) -> None:
    checkpoint = hf_backbone(family, tmp_path / family)
    native = ClassificationModule(checkpoint, pooling="native")
    mean = ClassificationModule(checkpoint, pooling="mean")
    assert (native.pooler is not None) == (family == "bert")  # BERT's [CLS] goes through its NSP-trained pooler
    assert mean.pooler is None  # unused parameters would get no gradient (and stall DDP)
    assert mean.hparams.pooling == "mean"
