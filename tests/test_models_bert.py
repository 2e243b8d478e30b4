"""BertModel: head shapes, masked positions, padding invariance, bad input."""

from __future__ import annotations

from unittest import mock

import pytest
import torch

from pretrain.models import BertModel, TransformerConfig

CONFIG = TransformerConfig(
    vocab_size=100, max_positions=16, d_model=32, n_layers=2, n_heads=4, d_ff=64, norm_placement="post",
    final_norm=False, embedding_norm=True, type_vocab_size=2, dropout=0.0, attention_dropout=0.0,
)


@pytest.fixture(scope="module")
def model() -> BertModel:
    torch.manual_seed(0)
    return BertModel(CONFIG).eval()


def test_head_shapes(model: BertModel) -> None:
    input_ids = torch.randint(0, 100, (3, 10))
    out = model(input_ids, torch.ones_like(input_ids), torch.zeros_like(input_ids), need_weights=True)
    assert out.mlm_logits.shape == (3, 10, 100)
    assert out.nsp_logits.shape == (3, 2)
    assert out.hidden_states.shape == (3, 10, 32)
    assert out.attentions is not None and len(out.attentions) == 2 and out.attentions[0].shape == (3, 4, 10, 10)


def test_masked_positions_select_rows_of_the_full_logits(model: BertModel) -> None:
    input_ids = torch.randint(0, 100, (2, 10))
    selected = torch.zeros(2, 10, dtype=torch.bool)
    selected[0, [1, 4]] = True
    selected[1, 9] = True
    full = model(input_ids).mlm_logits
    sparse = model(input_ids, masked_positions=selected).mlm_logits
    assert sparse.shape == (3, 100)
    torch.testing.assert_close(sparse, full[selected])


def test_is_bidirectional(model: BertModel) -> None:
    input_ids = torch.randint(0, 100, (1, 8))
    changed = input_ids.clone()
    changed[0, -1] = (changed[0, -1] + 1) % 100
    assert not torch.allclose(model(input_ids).hidden_states[:, 0], model(changed).hidden_states[:, 0])


def test_right_padded_batch_equals_each_sequence_alone(model: BertModel) -> None:
    lengths = [10, 6, 3]
    sequences = [torch.randint(5, 100, (n,)) for n in lengths]
    segments = [torch.cat((torch.zeros(n - n // 2), torch.ones(n // 2))).long() for n in lengths]
    input_ids = torch.zeros(3, 10, dtype=torch.long)
    token_type_ids = torch.zeros(3, 10, dtype=torch.long)
    mask = torch.zeros(3, 10, dtype=torch.long)
    for i, (seq, seg) in enumerate(zip(sequences, segments)):
        input_ids[i, : len(seq)], token_type_ids[i, : len(seq)], mask[i, : len(seq)] = seq, seg, 1
    batch = model(input_ids, mask, token_type_ids)
    for i, (seq, seg) in enumerate(zip(sequences, segments)):
        alone = model(seq[None], None, seg[None])
        n = len(seq)
        torch.testing.assert_close(batch.mlm_logits[i, :n], alone.mlm_logits[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(batch.nsp_logits[i], alone.nsp_logits[0], atol=1e-5, rtol=1e-5)
    assert torch.isfinite(batch.mlm_logits).all()


def test_segment_embeddings_matter(model: BertModel) -> None:
    input_ids = torch.randint(0, 100, (1, 6))
    a = model(input_ids, token_type_ids=torch.zeros_like(input_ids)).hidden_states
    b = model(input_ids, token_type_ids=torch.ones_like(input_ids)).hidden_states
    torch.testing.assert_close(model(input_ids).hidden_states, a)  # missing token_type_ids = segment A
    assert not torch.allclose(a, b)


def test_tied_mlm_decoder() -> None:
    model = BertModel(CONFIG)
    assert model.mlm_head.decoder.weight is model.encoder.embeddings.tokens.weight


@pytest.mark.parametrize(
    ("input_ids", "token_type_ids", "message"),
    [
        (torch.zeros(1, 17, dtype=torch.long), None, "sequence length 17 exceeds max_positions=16"),
        (torch.tensor([[1, 100]]), None, r"token id 100 is outside the vocabulary \[0, vocab_size=100\)"),
        (torch.tensor([[1, -1]]), None, "token id -1 is outside the vocabulary"),
        (torch.tensor([[1, 2]]), torch.tensor([[0, 2]]), r"token_type_ids value 2 is outside \[0, type_vocab_size=2\)"),
        (torch.tensor([1, 2]), None, r"input_ids must have shape \(batch, seq_len\), got \(2,\)"),
    ],
)
def test_bad_input_raises_before_any_kernel(
    input_ids: torch.Tensor, token_type_ids: torch.Tensor | None, message: str
) -> None:
    model = BertModel(CONFIG)
    tokens = model.encoder.embeddings.tokens
    with mock.patch.object(tokens, "forward", wraps=tokens.forward) as embed, pytest.raises(ValueError, match=message):
        model(input_ids, token_type_ids=token_type_ids)
    assert embed.call_count == 0  # rejected before the token embedding


def test_without_nsp_no_pooler_or_head_is_built_or_run(model: BertModel) -> None:
    without = BertModel(CONFIG, nsp=False).eval()
    assert without.pooler is None and without.nsp_head is None
    assert set(model.state_dict()) - set(without.state_dict()) == {
        "pooler.dense.weight", "pooler.dense.bias", "nsp_head.weight", "nsp_head.bias"}
    without.load_state_dict({k: v for k, v in model.state_dict().items() if k in without.state_dict()})
    input_ids = torch.randint(0, 100, (2, 10))
    out = without(input_ids)
    assert out.nsp_logits is None
    torch.testing.assert_close(out.mlm_logits, model(input_ids).mlm_logits)
