"""Parity of our GptModel with transformers.GPT2LMHeadModel, both directions (random weights, fp32, eval)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from pretrain.hf import from_hf, to_hf
from pretrain.models import GenerationConfig, GptModel, TransformerConfig

TOL = 1e-5
CONFIGS = [
    dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64),
    dict(vocab_size=257, n_embd=48, n_layer=1, n_head=6, n_positions=24, n_inner=80),
    dict(vocab_size=130, n_embd=32, n_layer=3, n_head=2, n_positions=40, activation_function="relu",
         tie_word_embeddings=False),
]


def _hf_model(kwargs: dict) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(bos_token_id=None, eos_token_id=None, **kwargs)).eval()


def _batch(vocab: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, vocab, (3, 12), generator=g)
    attention_mask = torch.ones(3, 12, dtype=torch.long)
    attention_mask[1, 8:] = 0  # right padding
    attention_mask[2, 2:] = 0
    return input_ids, attention_mask


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("padded", [False, True])
def test_from_hf_matches_hf_logits_and_hidden_states(kwargs: dict, padded: bool) -> None:
    hf = _hf_model(kwargs)
    ours = from_hf(hf)
    assert isinstance(ours, GptModel) and not ours.training
    input_ids, mask = _batch(hf.config.vocab_size)
    if not padded:
        mask = torch.ones_like(mask)
    real = mask.bool()
    with torch.no_grad():
        theirs = hf(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        out = ours(input_ids, mask)
    torch.testing.assert_close(out.logits[real], theirs.logits[real], atol=TOL, rtol=0)
    torch.testing.assert_close(out.hidden_states[real], theirs.hidden_states[-1][real], atol=TOL, rtol=0)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_round_trip_reproduces_hf_outputs(kwargs: dict, assert_hf_round_trip: Callable[..., None]) -> None:
    hf = _hf_model(kwargs)
    input_ids, mask = _batch(hf.config.vocab_size, seed=1)
    assert_hf_round_trip(hf, dict(input_ids=input_ids, attention_mask=mask), ("logits",), TOL)


def test_greedy_generation_matches_hf() -> None:
    """Our cached decoding continues a prompt with the same tokens as HF's generate."""
    hf = _hf_model(CONFIGS[0])
    ours = from_hf(hf)
    prompt = torch.randint(1, 99, (2, 5), generator=torch.Generator().manual_seed(3))
    mine = ours.generate(prompt, GenerationConfig(max_new_tokens=8))
    theirs = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8, do_sample=False,
                         pad_token_id=0)[:, prompt.shape[1]:]
    assert torch.equal(mine, theirs)


def test_to_hf_of_our_model_matches_ours() -> None:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=100, d_model=32, n_heads=4, n_layers=2, d_ff=72, max_positions=16,
                               activation="gelu_tanh")
    ours = GptModel(config).eval()
    hf = to_hf(ours)
    input_ids = torch.randint(0, 100, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(hf(input_ids=input_ids).logits, ours(input_ids).logits, atol=TOL, rtol=0)
    assert hf.config.activation_function == "gelu_new" and hf.config.n_inner == 72


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(activation_function="silu"), "activation_function='silu'"),
        (dict(scale_attn_by_inverse_layer_idx=True), "scale_attn_by_inverse_layer_idx"),
        (dict(scale_attn_weights=False), "scale_attn_weights"),
        (dict(embd_pdrop=0.0), "embd_pdrop=0.0 differs"),
    ],
)
def test_from_hf_rejects_what_our_blocks_cannot_express(kwargs: dict, message: str) -> None:
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=16,
                                    bos_token_id=None, eos_token_id=None, **kwargs))
    with pytest.raises(ValueError, match=message):
        from_hf(hf)


@pytest.mark.parametrize(("field", "value"), [("position", "rope"), ("norm", "rmsnorm"), ("norm_placement", "post")])
def test_to_hf_rejects_layouts_gpt2_lacks(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"to_hf\\(GptModel\\) needs {field}="):
        to_hf(GptModel(TransformerConfig(**{field: value})))
