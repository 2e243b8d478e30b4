"""Decoding: greedy, sampling, beam search, EOS handling, left padding, cache vs no cache."""

from __future__ import annotations

import pytest
import torch

from pretrain.blocks import KVCache
from pretrain.models import GenerationConfig, GptModel, TransformerConfig
from pretrain.models.generation import _beam_search, generate

POSITIONS = ["learned", "sinusoidal", "rope"]


def _model(position: str = "learned") -> GptModel:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=50, max_positions=32, d_model=32, n_layers=2, n_heads=4, d_ff=64,
                               position=position, dropout=0.0, attention_dropout=0.0)
    return GptModel(config).eval()


def _argmax_loop(model: GptModel, prompt: torch.Tensor, steps: int) -> torch.Tensor:
    """Reference: re-run the whole sequence each step, no cache."""
    tokens = prompt
    with torch.no_grad():
        for _ in range(steps):
            tokens = torch.cat((tokens, model(tokens).logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return tokens[:, prompt.shape[1]:]


@pytest.mark.parametrize("position", POSITIONS)
def test_greedy_with_cache_equals_argmax_loop_without_cache(position: str) -> None:
    model = _model(position)
    prompt = torch.randint(1, 50, (3, 5))
    out = model.generate(prompt, GenerationConfig(max_new_tokens=10))
    assert out.shape == (3, 10)
    assert torch.equal(out, _argmax_loop(model, prompt, 10))


def test_cached_step_equals_uncached_step() -> None:
    """The generic loop gives the same tokens whether `step` uses the cache or recomputes everything."""
    model = _model()
    prompt = torch.randint(1, 50, (2, 4))
    config = GenerationConfig(max_new_tokens=6)
    history = {"tokens": prompt[:, :0]}

    def uncached(tokens: torch.Tensor) -> torch.Tensor:
        history["tokens"] = torch.cat((history["tokens"], tokens), dim=1)
        return model(history["tokens"]).logits[:, -1]

    with torch.no_grad():
        expected = generate(uncached, prompt, KVCache(), config)
    assert torch.equal(model.generate(prompt, config), expected)


def test_beam_width_one_equals_greedy() -> None:
    model = _model()
    prompt = torch.randint(1, 50, (2, 4))
    greedy = model.generate(prompt, GenerationConfig(max_new_tokens=7))
    # num_beams=1 takes the greedy path; the beam code with K=1 must agree too.
    config = GenerationConfig(max_new_tokens=7, num_beams=1)
    with torch.no_grad():
        cache = KVCache()
        beam = _beam_search(lambda t: model(t, cache=cache).logits[:, -1], prompt, cache, config, None)
    assert torch.equal(model.generate(prompt, config), greedy)
    assert torch.equal(beam, greedy)


def test_beam_search_finds_a_sequence_at_least_as_likely_as_greedy() -> None:
    model = _model()
    prompt = torch.randint(1, 50, (2, 4))

    def logprob(continuation: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat((prompt, continuation), dim=1)
        with torch.no_grad():
            logp = model(tokens).logits[:, prompt.shape[1] - 1 : -1].log_softmax(-1)
        return logp.gather(-1, continuation[..., None]).squeeze(-1).sum(-1)

    greedy = model.generate(prompt, GenerationConfig(max_new_tokens=5))
    beam = model.generate(prompt, GenerationConfig(max_new_tokens=5, num_beams=4, length_penalty=0.0))
    assert beam.shape == (2, 5)
    assert (logprob(beam) >= logprob(greedy) - 1e-5).all()


def test_top_k_one_sampling_equals_greedy() -> None:
    model = _model()
    prompt = torch.randint(1, 50, (2, 4))
    greedy = model.generate(prompt, GenerationConfig(max_new_tokens=6))
    sampled = model.generate(prompt, GenerationConfig(max_new_tokens=6, do_sample=True, top_k=1, temperature=0.7),
                             generator=torch.Generator().manual_seed(1))
    assert torch.equal(sampled, greedy)


def test_sampling_is_reproducible_with_a_generator_and_respects_top_p() -> None:
    model = _model()
    prompt = torch.randint(1, 50, (2, 4))
    config = GenerationConfig(max_new_tokens=6, do_sample=True, top_p=0.9)
    a = model.generate(prompt, config, generator=torch.Generator().manual_seed(3))
    b = model.generate(prompt, config, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    tiny_p = GenerationConfig(max_new_tokens=6, do_sample=True, top_p=1e-6)  # keeps only the top token
    greedy = model.generate(prompt, GenerationConfig(max_new_tokens=6))
    assert torch.equal(model.generate(prompt, tiny_p, generator=torch.Generator().manual_seed(0)), greedy)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_eos_stops_and_pads(num_beams: int) -> None:
    """A synthetic model that always continues with last token + 1: EOS=5 is reached after 3 steps from 2."""
    vocab, eos, pad = 50, 5, 0

    def step(tokens: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot((tokens[:, -1] + 1) % vocab, vocab).float() * 10.0  # (B, V)

    cache = KVCache()
    prompt = torch.tensor([[1, 2], [7, 3], [9, 30]])
    out = generate(step, prompt, cache, GenerationConfig(max_new_tokens=6, num_beams=num_beams, eos_token_id=eos,
                                                         pad_token_id=pad))
    assert out.tolist() == [[3, 4, 5, 0, 0, 0], [4, 5, 0, 0, 0, 0], [31, 32, 33, 34, 35, 36]]
    # Once every row has finished decoding stops; for beam search, once no live beam (log p ~ -10
    # after one unlikely token) can beat the finished one (log p ~ 0).
    finished = generate(step, prompt[:2], KVCache(), GenerationConfig(max_new_tokens=6, num_beams=num_beams,
                                                                       eos_token_id=eos, pad_token_id=pad))
    assert finished.tolist() == [[3, 4, 5], [4, 5, 0]]


def test_generation_stops_early_when_every_row_finished() -> None:
    model = _model()
    prompt = torch.randint(1, 50, (1, 4))
    first = int(model.generate(prompt, GenerationConfig(max_new_tokens=1))[0, 0])
    out = model.generate(prompt, GenerationConfig(max_new_tokens=8, eos_token_id=first))
    assert out.tolist() == [[first]]


@pytest.mark.parametrize("position", POSITIONS)
def test_left_padded_generation_equals_unpadded(position: str) -> None:
    model = _model(position)
    long, short = torch.randint(1, 50, (7,)), torch.randint(1, 50, (3,))
    prompt = torch.zeros(2, 7, dtype=torch.long)
    mask = torch.zeros(2, 7, dtype=torch.long)
    prompt[0], mask[0] = long, 1
    prompt[1, 4:], mask[1, 4:] = short, 1
    config = GenerationConfig(max_new_tokens=6)
    batch = model.generate(prompt, config, attention_mask=mask)
    assert torch.equal(batch[0], model.generate(long[None], config)[0])
    assert torch.equal(batch[1], model.generate(short[None], config)[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(max_new_tokens=0), "max_new_tokens=0 must be >= 1"),
        (dict(temperature=0.0), "temperature=0.0 must be > 0"),
        (dict(top_p=0.0), r"top_p=0.0 must be in \(0, 1\]"),
        (dict(num_beams=2, do_sample=True), "num_beams > 1 is beam search"),
    ],
)
def test_bad_generation_config(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GenerationConfig(**kwargs)


def test_no_repeat_ngram_size_blocks_repeats_but_not_copying_the_prompt() -> None:
    import torch

    from pretrain.blocks.kv_cache import KVCache
    from pretrain.models.generation import GenerationConfig, ban_repeated_ngrams, generate

    # A "model" that always prefers token 7, then 8: greedy loops on 7 7 7 ...
    def step(tokens: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(tokens.shape[0], 10)
        logits[:, 7], logits[:, 8], logits[:, 9] = 3.0, 2.0, 1.0
        return logits

    prompt = torch.tensor([[7, 7, 7]])  # the prompt's own repeats do not count
    looped = generate(step, prompt, KVCache(), GenerationConfig(max_new_tokens=6))
    assert looped.tolist() == [[7] * 6]
    blocked = generate(step, prompt, KVCache(), GenerationConfig(max_new_tokens=6, no_repeat_ngram_size=2))
    bigrams = [tuple(blocked[0, i:i + 2].tolist()) for i in range(5)]
    assert len(set(bigrams)) == len(bigrams) and blocked[0, 0] == 7  # copying the prompt's token stays allowed
    beams = generate(step, prompt, KVCache(), GenerationConfig(max_new_tokens=6, num_beams=2, no_repeat_ngram_size=2))
    assert len({tuple(beams[0, i:i + 2].tolist()) for i in range(5)}) == 5
    history = torch.tensor([[1, 2, 3, 1, 2]])
    banned = ban_repeated_ngrams(torch.zeros(1, 5), history, 3)
    assert torch.isinf(banned[0, 3]) and torch.isfinite(banned[0, [0, 1, 2, 4]]).all()  # "1 2 3" would repeat
