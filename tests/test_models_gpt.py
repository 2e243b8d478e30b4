"""GptModel: head shape, causal no-leak, padding invariance, KV cache equals the full forward, bad input."""

from __future__ import annotations

from unittest import mock

import pytest
import torch

from pretrain.models import GptModel, KVCache, TransformerConfig

POSITIONS = ["learned", "sinusoidal", "rope"]


def _model(position: str = "learned", **overrides: object) -> GptModel:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=100, max_positions=24, d_model=32, n_layers=2, n_heads=4, d_ff=64, position=position,
        dropout=0.0, attention_dropout=0.0, **overrides,  # type: ignore[arg-type]
    )
    return GptModel(config).eval()


def test_head_shape_and_tied_weights() -> None:
    model = _model()
    out = model(torch.randint(0, 100, (3, 7)))
    assert out.logits.shape == (3, 7, 100) and out.hidden_states.shape == (3, 7, 32)
    assert model.lm_head.decoder.weight is model.decoder.embeddings.tokens.weight


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("with_documents", [False, True])
def test_changing_token_t_plus_1_leaves_outputs_up_to_t_unchanged(position: str, with_documents: bool) -> None:
    model = _model(position)
    input_ids = torch.randint(0, 100, (2, 12))
    document_ids = torch.tensor([[0] * 5 + [1] * 7, [0] * 12]) if with_documents else None
    base = model(input_ids, document_ids=document_ids).logits
    for t in (0, 5, 10):
        changed = input_ids.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % 100
        out = model(changed, document_ids=document_ids).logits
        torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1])
        assert not torch.allclose(out[:, t + 1], base[:, t + 1])


@pytest.mark.parametrize("position", POSITIONS)
def test_document_ids_isolate_packed_documents(position: str) -> None:
    """A packed second document sees nothing of the first: equal to running it alone (at its positions)."""
    model = _model(position)
    first, second = torch.randint(0, 100, (1, 5)), torch.randint(0, 100, (1, 7))
    packed = torch.cat((first, second), dim=1)
    document_ids = torch.tensor([[0] * 5 + [1] * 7])
    out = model(packed, document_ids=document_ids).logits
    positions = torch.arange(5, 12)[None]
    alone = model(second, position_ids=positions).logits
    torch.testing.assert_close(out[:, 5:], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("position", POSITIONS)
def test_right_padded_batch_equals_each_sequence_alone(position: str) -> None:
    model = _model(position)
    lengths = [9, 4, 1]
    sequences = [torch.randint(1, 100, (n,)) for n in lengths]
    input_ids = torch.zeros(3, 9, dtype=torch.long)
    mask = torch.zeros(3, 9, dtype=torch.long)
    for i, seq in enumerate(sequences):
        input_ids[i, : len(seq)], mask[i, : len(seq)] = seq, 1
    batch = model(input_ids, mask).logits
    assert torch.isfinite(batch).all()
    for i, seq in enumerate(sequences):
        torch.testing.assert_close(batch[i, : len(seq)], model(seq[None]).logits[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("chunks", [[1] * 10, [4, 1, 1, 3, 1]])
def test_kv_cache_decoding_equals_full_forward(position: str, chunks: list[int]) -> None:
    model = _model(position)
    input_ids = torch.randint(0, 100, (2, 10))
    full = model(input_ids).logits
    cache = KVCache()
    pieces, start = [], 0
    for n in chunks:
        out = model(input_ids[:, start : start + n], cache=cache)
        assert out.cache is cache and cache.length == start + n
        pieces.append(out.logits)
        start += n
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


def test_bad_input_raises_before_any_kernel() -> None:
    model = _model()
    tokens = model.decoder.embeddings.tokens
    with mock.patch.object(tokens, "forward", wraps=tokens.forward) as embed:
        with pytest.raises(ValueError, match="sequence length 25 exceeds max_positions=24"):
            model(torch.zeros(1, 25, dtype=torch.long))
        with pytest.raises(ValueError, match=r"token id 100 is outside the vocabulary \[0, vocab_size=100\)"):
            model(torch.tensor([[3, 100]]))
        cache = KVCache()
        model(torch.zeros(1, 20, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="sequence length 25 exceeds max_positions=24"):
            model(torch.zeros(1, 5, dtype=torch.long), cache=cache)  # cached 20 + 5 new
    assert embed.call_count == 1  # only the valid call reached the embedding


def test_document_ids_with_a_cache_are_rejected() -> None:
    model = _model()
    cache = KVCache()
    model(torch.zeros(1, 3, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match=r"document_ids must have the shape of input_ids \(1, 2\) and no KV cache"):
        model(torch.zeros(1, 2, dtype=torch.long), document_ids=torch.zeros(1, 2, dtype=torch.long), cache=cache)


def test_right_padding_takes_the_fused_causal_path_and_changes_nothing() -> None:
    """Right-padded causal batches need no padding mask (no real query sees a later pad); left padding does."""
    import torch

    from pretrain.blocks.config import TransformerConfig
    from pretrain.models import GptModel

    torch.manual_seed(0)
    model = GptModel(TransformerConfig(vocab_size=64, dropout=0.0, attention_dropout=0.0)).eval()
    ids = torch.randint(6, 64, (2, 7))
    right = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    left = right.flip(1)
    stack = model.decoder
    assert stack._self_attention_mask(right, None, 7, 0, ids.device) == (None, True)
    mask, is_causal = stack._self_attention_mask(left, None, 7, 0, ids.device)
    assert mask is not None and not is_causal
    padded = model(ids, right).logits[1, :4]
    alone = model(ids[1:, :4]).logits[0]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)
    # The fused loss scores only labelled rows and still equals the plain computation.
    labels = ids.masked_fill(right == 0, -100)
    plain = torch.nn.functional.cross_entropy(model(ids, right).logits[:, :-1].reshape(-1, 64),
                                              labels[:, 1:].reshape(-1), ignore_index=-100)
    torch.testing.assert_close(model.lm_loss(ids, labels, right), plain, atol=1e-5, rtol=1e-5)
