"""Parity of the matched layout with transformers' ModernBertForMaskedLM / ModernBertDecoderForCausalLM, both
directions (random weights, fp32, eval), on configs with sliding-window layers and padding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import (
    ModernBertConfig,
    ModernBertDecoderConfig,
    ModernBertDecoderForCausalLM,
    ModernBertForMaskedLM,
)

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.kv_cache import KVCache
from pretrain.hf import from_hf, to_hf
from pretrain.models import BertModel, GenerationConfig, GptModel

TOL = 1e-5
MODEL_DIR = Path(__file__).resolve().parents[1] / "configs" / "model"
# Unseen shapes: windows shorter than the 20-token batch (so the sliding layers cut), several patterns,
# an untied head and biases.
CONFIGS = [
    dict(hidden_size=32, intermediate_size=48, num_hidden_layers=4, num_attention_heads=4, local_attention=8),
    dict(hidden_size=48, intermediate_size=40, num_hidden_layers=3, num_attention_heads=6, local_attention=6,
         global_attn_every_n_layers=2, tie_word_embeddings=False),
    dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, local_attention=12,
         norm_bias=True, attention_bias=True, mlp_bias=True, classifier_bias=True, global_rope_theta=5000.0),
]
CLASSES = [(ModernBertForMaskedLM, ModernBertConfig), (ModernBertDecoderForCausalLM, ModernBertDecoderConfig)]


def _hf_model(model_class: type, config_class: type, kwargs: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    config = config_class(vocab_size=99, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                          cls_token_id=1, sep_token_id=2, **kwargs)
    model = model_class(config).eval()
    with torch.no_grad():  # HF initialises biases and norms to 0 / 1: randomise them so a missed copy shows
        for name, parameter in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                parameter.add_(torch.randn_like(parameter) * 0.1)
    return model


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, 99, (3, 20), generator=g)
    attention_mask = torch.ones(3, 20, dtype=torch.long)
    attention_mask[1, 13:] = 0  # right padding
    attention_mask[2, 4:] = 0
    return input_ids, attention_mask


def _logits(model: BertModel | GptModel, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    out = model(input_ids, mask)
    return out.mlm_logits if isinstance(model, BertModel) else out.logits


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize(("model_class", "config_class"), CLASSES)
@pytest.mark.parametrize("padded", [False, True])
def test_from_hf_matches_hf_logits_and_hidden_states(kwargs: dict, model_class: type, config_class: type,
                                                     padded: bool) -> None:
    hf = _hf_model(model_class, config_class, kwargs)
    ours = from_hf(hf)
    assert isinstance(ours, GptModel if model_class is ModernBertDecoderForCausalLM else BertModel)
    assert not ours.training and any(ours.config.is_local(i) for i in range(ours.config.n_layers))
    input_ids, mask = _batch()
    if not padded:
        mask = torch.ones_like(mask)
    real = mask.bool()
    with torch.no_grad():
        theirs = hf(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        logits, hidden = _logits(ours, input_ids, mask), ours(input_ids, mask).hidden_states
    torch.testing.assert_close(logits[real], theirs.logits[real], atol=TOL, rtol=0)
    torch.testing.assert_close(hidden[real], theirs.hidden_states[-1][real], atol=TOL, rtol=0)


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize(("model_class", "config_class"), CLASSES)
def test_round_trip_reproduces_hf_outputs(kwargs: dict, model_class: type, config_class: type,
                                          assert_hf_round_trip: Callable[..., None]) -> None:
    hf = _hf_model(model_class, config_class, kwargs)
    input_ids, mask = _batch(seed=1)
    assert_hf_round_trip(hf, dict(input_ids=input_ids, attention_mask=mask), ("logits",), TOL)
    back = to_hf(from_hf(hf))
    assert back.config.layer_types == hf.config.layer_types
    assert back.config.rope_parameters == hf.config.rope_parameters


@pytest.mark.parametrize("preset", ["micro", "micro-narrow", "tiny-matched", "mini-matched"])
def test_matched_presets_convert_exactly_both_ways(preset: str) -> None:
    """What the default configs train leaves the suite as ModernBERT / ModernBERT-decoder and comes back."""
    for family, model_class, expected in (("bert", BertModel, ModernBertForMaskedLM),
                                          ("gpt", GptModel, ModernBertDecoderForCausalLM)):
        config = TransformerConfig.from_yaml(MODEL_DIR / f"{family}-{preset}.yaml")
        # A small vocabulary keeps the test fast; a 16-token window makes the sliding layers cut at 40 tokens.
        config.vocab_size, config.max_positions, config.local_window = 120, 48, 16
        torch.manual_seed(0)
        ours = model_class(config).eval()
        hf = to_hf(ours)
        assert type(hf) is expected
        input_ids = torch.randint(3, 120, (2, 40), generator=torch.Generator().manual_seed(0))
        mask = torch.ones_like(input_ids)
        with torch.no_grad():
            torch.testing.assert_close(hf(input_ids=input_ids, attention_mask=mask).logits,
                                       _logits(ours, input_ids, mask), atol=TOL, rtol=0)
            back = from_hf(hf)
            torch.testing.assert_close(_logits(back, input_ids, mask), _logits(ours, input_ids, mask), atol=0, rtol=0)


def test_sliding_window_decoding_with_a_cache_equals_the_full_forward() -> None:
    """Cached keys beyond the window are masked as in the full forward; HF's generate continues alike."""
    hf = _hf_model(ModernBertDecoderForCausalLM, ModernBertDecoderConfig, CONFIGS[0])
    ours = from_hf(hf)
    input_ids, _ = _batch()
    cache = KVCache()
    with torch.no_grad():
        full = ours(input_ids).logits
        steps = [ours(input_ids[:, i : i + 1], cache=cache).logits for i in range(input_ids.shape[1])]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=TOL, rtol=0)
    prompt = input_ids[:2, :6]
    mine = ours.generate(prompt, GenerationConfig(max_new_tokens=10))
    theirs = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10, do_sample=False,
                         pad_token_id=0, eos_token_id=None)[:, prompt.shape[1]:]
    assert torch.equal(mine, theirs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(hidden_activation="silu"), "hidden_activation='silu'"),
        (dict(norm_bias=True), "mixes biases"),
        (dict(decoder_bias=False), "decoder_bias=False"),
        (dict(embedding_dropout=0.1), "embedding_dropout=0.1 differs"),
        (dict(layer_types=["sliding_attention", "full_attention"]), "every-k-th-layer-global"),
    ],
)
def test_from_hf_rejects_what_our_blocks_cannot_express(kwargs: dict, message: str) -> None:
    config = ModernBertConfig(vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                              num_attention_heads=2, pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1,
                              sep_token_id=2, **kwargs)
    with pytest.raises(ValueError, match=message):
        from_hf(ModernBertForMaskedLM(config))


def test_to_hf_names_the_field_that_leaves_both_layouts() -> None:
    """A matched config with one classic field is neither ModernBERT nor HF BERT: the error says which."""
    config = TransformerConfig.from_yaml(MODEL_DIR / "bert-micro.yaml")
    config.final_norm = False
    with pytest.raises(ValueError, match="to_hf\\(BertModel\\) needs"):
        to_hf(BertModel(config))
