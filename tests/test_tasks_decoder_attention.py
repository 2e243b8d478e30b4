"""A decoder fine-tuned with `decoder_attention: bidirectional` reads its right context; causal (the default)
does not; the option is refused where it means nothing (an encoder) or cannot work (generation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tasks_fixtures import hf_backbone

from tasks.generation.module import GenerationModule
from tasks.ner.module import NerModule


def _hidden_change(module: NerModule) -> tuple[float, float]:
    """How much the first three positions' hidden states move when only the last token changes, and how much
    the last position's moves."""
    module.eval()
    ids = torch.tensor([[10, 11, 12, 13, 14]])
    other = ids.clone()
    other[0, -1] = 15
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a = module.body(ids, attention_mask=mask).hidden_states
        b = module.body(other, attention_mask=mask).hidden_states
    return (a[0, :3] - b[0, :3]).abs().max().item(), (a[0, -1] - b[0, -1]).abs().max().item()


def test_bidirectional_decoder_sees_the_right_context(tmp_path: Path) -> None:
    checkpoint = hf_backbone("gpt", tmp_path / "gpt")
    left, last = _hidden_change(NerModule(checkpoint))
    assert left == 0.0 and last > 0  # causal: earlier positions cannot see a later token
    both, last = _hidden_change(NerModule(checkpoint, decoder_attention="bidirectional"))
    assert both > 1e-4 and last > 0
    assert NerModule(checkpoint, decoder_attention="bidirectional").hparams.decoder_attention == "bidirectional"


def test_bidirectional_is_refused_for_an_encoder_and_for_generation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"bert backbone is an encoder"):
        NerModule(hf_backbone("bert", tmp_path / "bert"), decoder_attention="bidirectional")
    with pytest.raises(ValueError, match=r"generation decodes left to right"):
        GenerationModule(hf_backbone("gpt", tmp_path / "gpt"), decoder_attention="bidirectional")
