"""EncoderDecoderModel: cross-attention over a source of another length, KV cache, generation."""

from __future__ import annotations

import pytest
import torch

from pretrain.models import EncoderDecoderModel, GenerationConfig, KVCache, TransformerConfig


def _model(position: str = "learned") -> EncoderDecoderModel:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=60, max_positions=24, d_model=32, n_layers=2, n_heads=4, d_ff=64,
                               position=position, dropout=0.0, attention_dropout=0.0)
    return EncoderDecoderModel(config).eval()


def test_logits_shape_with_source_and_target_of_different_lengths() -> None:
    model = _model()
    out = model(torch.randint(0, 60, (2, 11)), decoder_input_ids=torch.randint(0, 60, (2, 4)))
    assert out.logits.shape == (2, 4, 60) and out.hidden_states.shape == (2, 4, 32)
    assert model.decoder.blocks[0].cross_attn is not None and model.encoder.blocks[0].cross_attn is None


def test_padded_source_equals_unpadded() -> None:
    model = _model()
    source, target = torch.randint(1, 60, (1, 5)), torch.randint(0, 60, (1, 4))
    padded = torch.cat((source, torch.zeros(1, 3, dtype=torch.long)), dim=1)
    mask = torch.tensor([[1] * 5 + [0] * 3])
    torch.testing.assert_close(
        model(padded, mask, decoder_input_ids=target).logits, model(source, decoder_input_ids=target).logits,
        atol=1e-5, rtol=1e-5,
    )


@pytest.mark.parametrize("num_beams", [1, 3])
def test_batched_right_padded_generation_equals_each_source_alone(num_beams: int) -> None:
    model = _model()
    lengths = [8, 3, 5]
    sources = [torch.randint(1, 60, (n,)) for n in lengths]
    batch = torch.zeros(3, 8, dtype=torch.long)
    mask = torch.zeros(3, 8, dtype=torch.long)
    for row, source in enumerate(sources):  # right padding: every source starts at position 0
        batch[row, :len(source)], mask[row, :len(source)] = source, 1
    config = GenerationConfig(max_new_tokens=5, num_beams=num_beams)
    together = model.generate(batch, config, mask, start_token_id=2)
    with torch.no_grad():
        states = model.encode(batch, mask)
    for row, source in enumerate(sources):
        with torch.no_grad():
            torch.testing.assert_close(states[row, :len(source)], model.encode(source[None])[0], atol=1e-5, rtol=1e-5)
        assert torch.equal(together[row], model.generate(source[None], config, start_token_id=2)[0])


@pytest.mark.parametrize("position", ["learned", "sinusoidal", "rope"])
def test_kv_cache_decoding_equals_full_forward(position: str) -> None:
    model = _model(position)
    source, target = torch.randint(0, 60, (2, 9)), torch.randint(0, 60, (2, 6))
    full = model(source, decoder_input_ids=target).logits
    context = model.encode(source)
    cache = KVCache()
    steps = [model.decode(target[:, t : t + 1], context, cache=cache).logits for t in range(6)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_greedy_generation_equals_argmax_loop_and_beam_one() -> None:
    model = _model()
    source = torch.randint(1, 60, (2, 8))
    out = model.generate(source, GenerationConfig(max_new_tokens=5), start_token_id=2)
    tokens = torch.full((2, 1), 2)
    with torch.no_grad():
        for _ in range(5):
            next_token = model(source, decoder_input_ids=tokens).logits[:, -1].argmax(-1, keepdim=True)
            tokens = torch.cat((tokens, next_token), dim=1)
    assert torch.equal(out, tokens[:, 1:])
    beams = model.generate(source, GenerationConfig(max_new_tokens=5, num_beams=3), start_token_id=2)
    assert beams.shape == (2, 5)


def test_missing_target_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs decoder_input_ids"):
        _model()(torch.zeros(1, 3, dtype=torch.long))
