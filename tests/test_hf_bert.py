"""Parity of our BertModel with transformers.BertForPreTraining, both directions (random weights, fp32, eval)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from transformers import BertConfig, BertForPreTraining

from pretrain.hf import from_hf, to_hf
from pretrain.models import BertModel, TransformerConfig

TOL = 1e-5
CONFIGS = [
    dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
         max_position_embeddings=64),
    dict(vocab_size=211, hidden_size=48, num_hidden_layers=1, num_attention_heads=3, intermediate_size=64,
         max_position_embeddings=32, hidden_act="gelu_new", type_vocab_size=3),
    dict(vocab_size=150, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=96,
         max_position_embeddings=40, hidden_act="relu", tie_word_embeddings=False),
]


def _batch(vocab: int, types: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, vocab, (3, 12), generator=g)
    token_type_ids = torch.randint(0, types, (3, 12), generator=g)
    attention_mask = torch.ones(3, 12, dtype=torch.long)
    attention_mask[1, 7:] = 0  # right padding
    attention_mask[2, 3:] = 0
    return input_ids, token_type_ids, attention_mask


def _hf_model(kwargs: dict) -> BertForPreTraining:
    torch.manual_seed(0)
    return BertForPreTraining(BertConfig(**kwargs)).eval()


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("padded", [False, True])
def test_from_hf_matches_hf_logits_and_hidden_states(kwargs: dict, padded: bool) -> None:
    hf = _hf_model(kwargs)
    ours = from_hf(hf)
    assert isinstance(ours, BertModel) and not ours.training
    input_ids, token_type_ids, mask = _batch(hf.config.vocab_size, hf.config.type_vocab_size)
    if not padded:
        mask = torch.ones_like(mask)
    real = mask.bool()
    with torch.no_grad():
        theirs = hf(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=mask, output_hidden_states=True)
        out = ours(input_ids, mask, token_type_ids)
    # Padded positions are garbage on both sides; compare the real tokens.
    torch.testing.assert_close(out.mlm_logits[real], theirs.prediction_logits[real], atol=TOL, rtol=0)
    torch.testing.assert_close(out.nsp_logits, theirs.seq_relationship_logits, atol=TOL, rtol=0)
    torch.testing.assert_close(out.hidden_states[real], theirs.hidden_states[-1][real], atol=TOL, rtol=0)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_round_trip_reproduces_hf_outputs(kwargs: dict, assert_hf_round_trip: Callable[..., None]) -> None:
    hf = _hf_model(kwargs)
    input_ids, token_type_ids, mask = _batch(hf.config.vocab_size, hf.config.type_vocab_size, seed=1)
    assert_hf_round_trip(hf, dict(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=mask),
                         ("prediction_logits", "seq_relationship_logits"), TOL)


def test_to_hf_of_our_model_matches_ours() -> None:
    """Ours -> HF -> ours: also covers a model without segment embeddings (HF gets one zero row)."""
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=120, d_model=32, n_heads=4, n_layers=2, d_ff=64, max_positions=16, norm_placement="post",
        final_norm=False, embedding_norm=True, type_vocab_size=0, norm_eps=1e-12,
    )
    ours = BertModel(config).eval()
    hf = to_hf(ours)
    input_ids = torch.randint(0, 120, (2, 16))
    with torch.no_grad():
        mine = ours(input_ids)
        theirs = hf(input_ids=input_ids)
        again = from_hf(hf)(input_ids)
    torch.testing.assert_close(theirs.prediction_logits, mine.mlm_logits, atol=TOL, rtol=0)
    torch.testing.assert_close(again.mlm_logits, mine.mlm_logits, atol=TOL, rtol=0)
    torch.testing.assert_close(again.nsp_logits, mine.nsp_logits, atol=TOL, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(hidden_act="silu"), "hidden_act='silu'"),
        (dict(is_decoder=True), "is_decoder"),
    ],
)
def test_from_hf_rejects_what_our_blocks_cannot_express(kwargs: dict, message: str) -> None:
    hf = BertForPreTraining(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=16, **kwargs))
    with pytest.raises(ValueError, match=message):
        from_hf(hf)


def test_from_hf_rejects_relative_positions() -> None:
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    config.position_embedding_type = "relative_key"  # older checkpoints carry it; our blocks have no such bias
    hf = BertForPreTraining(config)
    with pytest.raises(ValueError, match="position_embedding_type='relative_key'"):
        from_hf(hf)


def test_to_hf_rejects_a_pre_norm_model() -> None:
    with pytest.raises(ValueError, match="norm_placement='post'"):
        to_hf(BertModel(TransformerConfig(norm_placement="pre")))


def test_conversion_rejects_other_classes() -> None:
    with pytest.raises(ValueError, match="supported: BertForPreTraining, GPT2LMHeadModel"):
        from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="supported: BertModel, GptModel"):
        to_hf(torch.nn.Linear(2, 2))


def test_to_hf_of_a_model_without_nsp_keeps_hfs_own_nsp_weights() -> None:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=120, d_model=32, n_heads=4, n_layers=2, d_ff=64, max_positions=16, norm_placement="post",
        final_norm=False, embedding_norm=True, type_vocab_size=0, norm_eps=1e-12,
    )
    ours = BertModel(config, nsp=False).eval()
    hf = to_hf(ours)
    input_ids = torch.randint(0, 120, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(hf(input_ids=input_ids).prediction_logits, ours(input_ids).mlm_logits, atol=TOL,
                                   rtol=0)
