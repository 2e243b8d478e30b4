"""The in-context copying probe: a model that copies scores 1, one that cannot scores ~0, the tokens are fixed."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor, nn

from pretrain.models import BertModel, GptModel, TransformerConfig
from pretrain.models.copying import causal_copy_accuracy, masked_copy_accuracy, random_sequences

VOCAB, CLS, SEP, MASK = 64, 2, 3, 4


def _one_hot(predicted: Tensor) -> Tensor:
    return nn.functional.one_hot(predicted, VOCAB).float()


class CausalCopier(nn.Module):
    """An induction head written out: predict what followed the current token's earlier occurrence."""

    def forward(self, ids: Tensor) -> SimpleNamespace:
        predicted = torch.zeros_like(ids)
        for row in range(ids.shape[0]):
            for t in range(ids.shape[1]):
                earlier = (ids[row, :t] == ids[row, t]).nonzero()
                if len(earlier):
                    predicted[row, t] = ids[row, int(earlier[0]) + 1]
        return SimpleNamespace(logits=_one_hot(predicted))


class MaskedCopier(nn.Module):
    """Fill a [MASK] with what followed its left neighbour earlier (or preceded its right one)."""

    config = SimpleNamespace(type_vocab_size=2)

    def forward(self, ids: Tensor, token_type_ids: Tensor | None = None, *,
                masked_positions: Tensor) -> SimpleNamespace:
        predicted = ids.clone()
        for row, p in (ids == MASK).nonzero().tolist():
            left, right = int(ids[row, p - 1]), int(ids[row, p + 1])
            earlier_left = (ids[row, : p - 1] == left).nonzero()
            earlier_right = (ids[row, :p] == right).nonzero()
            predicted[row, p] = (ids[row, int(earlier_left[0]) + 1] if len(earlier_left)
                                 else ids[row, int(earlier_right[0]) - 1])
        return SimpleNamespace(mlm_logits=_one_hot(predicted[masked_positions]))  # (N, V), as BertModel


def _distinct_tokens(rows: int, length: int) -> Tensor:
    """No token twice in a row, so that copying has one right answer."""
    generator = torch.Generator().manual_seed(1)
    return torch.stack([torch.randperm(VOCAB - 8, generator=generator)[:length] + 8 for _ in range(rows)])


def test_a_model_that_copies_scores_one() -> None:
    tokens = _distinct_tokens(3, 10)
    assert causal_copy_accuracy(CausalCopier(), tokens) == 1.0  # type: ignore[arg-type]
    assert masked_copy_accuracy(MaskedCopier(), tokens, CLS, SEP, MASK) == 1.0  # type: ignore[arg-type]


def test_untrained_models_score_near_chance() -> None:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=VOCAB, max_positions=64, d_model=32, n_layers=2, n_heads=4, d_ff=64,
                               dropout=0.0, attention_dropout=0.0, type_vocab_size=2)
    tokens = random_sequences(VOCAB, [0, 1, CLS, SEP, MASK, 5], rows=16, length=12)
    assert causal_copy_accuracy(GptModel(config).eval(), tokens) < 0.1
    assert masked_copy_accuracy(BertModel(config).eval(), tokens, CLS, SEP, MASK) < 0.1


def test_random_sequences_leave_out_special_tokens_and_repeat_for_a_seed() -> None:
    special = [0, 1, 2, 3, 4, 5]
    tokens = random_sequences(VOCAB, special, rows=32, length=24)
    assert tokens.shape == (32, 24) and not torch.isin(tokens, torch.tensor(special)).any()
    assert int(tokens.max()) < VOCAB and len(tokens.unique()) > VOCAB // 2
    assert torch.equal(tokens, random_sequences(VOCAB, special, rows=32, length=24))
    assert not torch.equal(tokens, random_sequences(VOCAB, special, rows=32, length=24, seed=1))
