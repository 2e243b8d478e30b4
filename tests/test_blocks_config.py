"""TransformerConfig validation: bad values fail once, naming the field, the value and what is allowed."""

from __future__ import annotations

import itertools

import pytest
import torch

from pretrain.blocks import TransformerBlock, TransformerConfig
from pretrain.blocks.config import ACTIVATIONS, NORM_PLACEMENTS, NORMS, POSITIONS
from pretrain.models import BertModel, GptModel


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(d_model=30, n_heads=4), "d_model=30 must be divisible by n_heads=4"),
        (dict(position="alibi"), "position='alibi' is not supported; choose one of learned, sinusoidal, rope"),
        (dict(norm="batchnorm"), "norm='batchnorm' is not supported; choose one of layernorm, rmsnorm"),
        (dict(activation="tanh"), "activation='tanh' is not supported; choose one of gelu, gelu_tanh, relu, swiglu"),
        (dict(norm_placement="sandwich"), "norm_placement='sandwich' is not supported; choose one of pre, post"),
        (dict(n_layers=0), "n_layers=0 must be a positive integer"),
        (dict(dropout=1.0), r"dropout=1.0 must be in \[0, 1\)"),
        (dict(d_model=36, n_heads=4, position="rope"), "needs an even head dim"),
        (dict(pad_token_id=2000), r"pad_token_id=2000 must be in \[0, vocab_size=1024\)"),
        (dict(type_vocab_size=-1), "type_vocab_size=-1 must be >= 0"),
    ],
)
def test_bad_config_raises_naming_field_value_and_choices(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TransformerConfig(**kwargs)


def test_head_dim_and_dict_round_trip() -> None:
    config = TransformerConfig(d_model=64, n_heads=8)
    assert config.head_dim == 8
    assert TransformerConfig(**config.to_dict()) == config


@pytest.mark.parametrize(
    ("activation", "norm", "position", "placement"),
    list(itertools.product(ACTIVATIONS, NORMS, POSITIONS, NORM_PLACEMENTS)),
)
def test_every_combination_builds_runs_and_backpropagates(
    activation: str, norm: str, position: str, placement: str
) -> None:
    config = TransformerConfig(
        vocab_size=64, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_positions=8, activation=activation,
        norm=norm, position=position, norm_placement=placement, type_vocab_size=2, dropout=0.0,
        attention_dropout=0.0, final_norm=placement == "pre", embedding_norm=placement == "post",
    )
    input_ids = torch.randint(0, 64, (2, 8))
    bert, gpt = BertModel(config), GptModel(config)
    out = bert(input_ids)
    loss = out.mlm_logits.sum() + out.nsp_logits.sum() + gpt(input_ids).logits.sum()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in gpt.parameters())


def test_block_rejects_cross_attention_without_context() -> None:
    block = TransformerBlock(TransformerConfig(), cross_attention=True)
    with pytest.raises(ValueError, match="cross-attention needs a context"):
        block(torch.zeros(1, 3, 32))
