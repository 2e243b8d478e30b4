"""Multi-head attention and the block: masks, cross-attention, returned weights, positions, norms."""

from __future__ import annotations

import pytest
import torch

from pretrain.blocks import (
    FeedForward,
    KVCache,
    MultiHeadAttention,
    RotaryEmbedding,
    TransformerBlock,
    TransformerConfig,
    apply_rotary,
    build_norm,
)

CONFIG = TransformerConfig(d_model=32, n_heads=4, dropout=0.0, attention_dropout=0.0)


def test_cross_attention_reads_a_context_of_another_length() -> None:
    torch.manual_seed(0)
    block = TransformerBlock(CONFIG, cross_attention=True).eval()
    x, context = torch.randn(2, 5, 32), torch.randn(2, 9, 32)
    out, _ = block(x, is_causal=True, context=context)
    assert out.shape == (2, 5, 32)
    # A context key hidden by context_mask has no effect on the output.
    context_mask = torch.ones(2, 1, 1, 9, dtype=torch.bool)
    context_mask[:, ..., 6:] = False
    changed = context.clone()
    changed[:, 6:] = torch.randn(2, 3, 32)
    a, _ = block(x, is_causal=True, context=context, context_mask=context_mask)
    b, _ = block(x, is_causal=True, context=changed, context_mask=context_mask)
    torch.testing.assert_close(a, b)
    c, _ = block(x, is_causal=True, context=changed)
    assert not torch.allclose(a, c)


def test_cross_attention_caches_its_context_keys_once() -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(CONFIG, cross=True).eval()
    cache = KVCache()
    x, context = torch.randn(1, 1, 32), torch.randn(1, 7, 32)
    first, _ = attn(x, context=context, cache=cache)
    second, _ = attn(x, cache=cache)  # no context: reuses the cached keys/values
    torch.testing.assert_close(first, second)
    stored = cache.context(attn)
    assert stored is not None and stored[0].shape == (1, 4, 7, 8)
    assert cache.length == 0  # cross-attention entries are not decoded positions


def test_kv_cache_keeps_one_entry_per_attention_module() -> None:
    """Modules sharing a cache each keep their own keys; reorder acts on every entry, crop on self-attention."""
    torch.manual_seed(0)
    first, second = MultiHeadAttention(CONFIG).eval(), MultiHeadAttention(CONFIG).eval()
    cross = MultiHeadAttention(CONFIG, cross=True).eval()
    x, y, context = torch.randn(3, 5, 32), torch.randn(3, 5, 32), torch.randn(3, 4, 32)
    cache = KVCache()
    steps = []
    for t in range(5):
        first(x[:, t : t + 1], cache=cache)
        steps.append(second(y[:, t : t + 1], cache=cache)[0])
    # Interleaved modules never see each other's keys: step by step equals one causal pass.
    torch.testing.assert_close(torch.cat(steps, dim=1), second(y, is_causal=True)[0], atol=1e-6, rtol=1e-5)
    cross(x[:, :1], context=context, cache=cache)
    assert cache.length == 5
    # Keep rows 2 and 0 (a beam step) and the first 3 positions, then decode one more token.
    index = torch.tensor([2, 0])
    cache.reorder(index)
    cache.crop(3)
    assert cache.length == 3
    z = torch.randn(2, 1, 32)
    expected = first(torch.cat((x[index, :3], z), dim=1), is_causal=True)[0][:, -1:]
    torch.testing.assert_close(first(z, cache=cache)[0], expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(cross(z, cache=cache)[0], cross(z, context=context[index])[0])


@pytest.mark.parametrize("is_causal", [False, True])
def test_returned_weights_match_the_sdpa_path(is_causal: bool) -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(CONFIG).eval()
    x = torch.randn(2, 6, 32)
    mask = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    mask[1, ..., 4:] = False
    fast, none = attn(x, mask=mask, is_causal=is_causal)
    slow, weights = attn(x, mask=mask, is_causal=is_causal, need_weights=True)
    assert none is None and weights is not None and weights.shape == (2, 4, 6, 6)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6))
    assert weights[1, :, :, 4:].abs().max() == 0
    if is_causal:
        assert weights.triu(diagonal=1).abs().max() == 0


def test_rotary_scores_depend_only_on_relative_position() -> None:
    torch.manual_seed(0)
    rotary = RotaryEmbedding(8)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(i: int, j: int) -> torch.Tensor:
        cq, sq = rotary(torch.tensor([[i]]))
        ck, sk = rotary(torch.tensor([[j]]))
        return (apply_rotary(q, cq, sq) * apply_rotary(k, ck, sk)).sum()

    torch.testing.assert_close(score(3, 1), score(10, 8))
    assert not torch.allclose(score(3, 1), score(3, 2))


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh", "relu", "swiglu"])
def test_feed_forward_shapes(activation: str) -> None:
    config = TransformerConfig(d_ff=48, activation=activation)
    ffn = FeedForward(config)
    assert ffn.fc_in.out_features == (96 if activation == "swiglu" else 48)
    assert ffn(torch.randn(2, 3, 32)).shape == (2, 3, 32)


def test_norms_by_name() -> None:
    assert isinstance(build_norm(TransformerConfig(norm="rmsnorm")), torch.nn.RMSNorm)
    norm = build_norm(TransformerConfig(norm_eps=1e-12))
    assert isinstance(norm, torch.nn.LayerNorm) and norm.eps == 1e-12


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_block_placement(placement: str) -> None:
    """Post-LN output is normalised (zero mean, unit variance per token); pre-LN output is not."""
    torch.manual_seed(0)
    block = TransformerBlock(TransformerConfig(norm_placement=placement, dropout=0.0, attention_dropout=0.0))
    out, _ = block(torch.randn(2, 4, 32) * 5)
    means = out.mean(-1).abs().max()
    if placement == "post":
        assert means < 1e-5
    else:
        assert means > 1e-3
