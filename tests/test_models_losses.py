"""The chunked LM-head + cross-entropy equals the plain computation, values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pretrain.models import GptModel, TransformerConfig
from pretrain.models.losses import linear_cross_entropy, shift_labels


@pytest.mark.parametrize("chunk_size", [1, 7, 1024])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_cross_entropy_equals_logits_then_cross_entropy(chunk_size: int, with_bias: bool) -> None:
    torch.manual_seed(0)
    hidden = torch.randn(3, 9, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(40, 16, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(40, dtype=torch.float64, requires_grad=True) if with_bias else None
    labels = torch.randint(0, 40, (3, 9))
    labels[0, :4] = -100
    inputs = [t for t in (hidden, weight, bias) if t is not None]
    expected = F.cross_entropy(F.linear(hidden, weight, bias).flatten(0, 1), labels.flatten())
    expected_grads = torch.autograd.grad(3.0 * expected, inputs)
    loss = linear_cross_entropy(hidden, weight, labels, bias, chunk_size=chunk_size)
    grads = torch.autograd.grad(3.0 * loss, inputs)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)


def test_without_grad_it_only_computes_the_loss() -> None:
    hidden, weight = torch.randn(5, 8), torch.randn(11, 8)
    labels = torch.randint(0, 11, (5,))
    with torch.no_grad():
        loss = linear_cross_entropy(hidden, weight, labels)
    torch.testing.assert_close(loss, F.cross_entropy(hidden @ weight.t(), labels))


def test_gpt_lm_loss_equals_shifted_cross_entropy_of_the_logits() -> None:
    torch.manual_seed(0)
    model = GptModel(TransformerConfig(vocab_size=90, dropout=0.0, attention_dropout=0.0)).double()
    input_ids = torch.randint(0, 90, (2, 10))
    mask = torch.ones_like(input_ids)
    mask[1, 7:] = 0
    logits = model(input_ids, mask).logits
    targets = input_ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    expected = F.cross_entropy(logits[:, :-1].flatten(0, 1), targets.flatten())
    params = list(model.parameters())
    expected_grads = torch.autograd.grad(expected, params)
    loss = model.lm_loss(input_ids, attention_mask=mask, chunk_size=6)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(torch.autograd.grad(loss, params), expected_grads):
        torch.testing.assert_close(got, want)


def test_shift_labels_and_bad_shapes() -> None:
    assert shift_labels(torch.tensor([[1, 2, 3]])).tolist() == [[2, 3, -100]]
    with pytest.raises(ValueError, match=r"labels shape \(2,\) must equal hidden's leading shape \(3,\)"):
        linear_cross_entropy(torch.randn(3, 4), torch.randn(5, 4), torch.zeros(2, dtype=torch.long))
    model = GptModel(TransformerConfig())
    with pytest.raises(ValueError, match=r"labels shape \(1, 2\) must equal input_ids shape \(1, 3\)"):
        model.lm_loss(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))
