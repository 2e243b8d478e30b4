"""GptModel.lm_loss (LM head fused into torch's chunked linear_cross_entropy) equals the plain computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pretrain.models import GptModel, TransformerConfig
from pretrain.models.loss import next_token_targets, token_cross_entropy


@pytest.mark.parametrize("chunk_size", [None, 5])
@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("packed", [False, True])
def test_lm_loss_equals_shifted_cross_entropy_of_the_logits(chunk_size: int | None, tied: bool, packed: bool) -> None:
    torch.manual_seed(0)
    model = GptModel(TransformerConfig(vocab_size=90, dropout=0.0, attention_dropout=0.0, tie_embeddings=tied))
    model = model.double()
    input_ids = torch.randint(0, 90, (2, 10))
    labels = input_ids.clone()
    labels[0, 3] = -100
    mask = torch.ones_like(input_ids)
    mask[1, 7:] = 0  # right padding: targets there are ignored
    # Pretraining packs documents into one row; each attends to itself only.
    document_ids = torch.tensor([[0] * 4 + [1] * 6, [0] * 10]) if packed else None
    logits = model(input_ids, mask, document_ids=document_ids).logits
    targets = labels[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    expected = F.cross_entropy(logits[:, :-1].flatten(0, 1), targets.flatten())
    params = list(model.parameters())
    expected_grads = torch.autograd.grad(expected, params)
    loss = model.lm_loss(input_ids, labels, mask, document_ids=document_ids, chunk_size=chunk_size)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(torch.autograd.grad(loss, params), expected_grads):
        torch.testing.assert_close(got, want)
    # The logits path (evaluation, where Perplexity needs the logits) is the same computation.
    torch.testing.assert_close(token_cross_entropy(logits[:, :-1], next_token_targets(labels, mask)), expected)


def test_lm_loss_defaults_to_input_ids_and_checks_shapes() -> None:
    model = GptModel(TransformerConfig(dropout=0.0, attention_dropout=0.0)).eval()
    input_ids = torch.randint(0, 1024, (2, 6))
    with torch.no_grad():
        torch.testing.assert_close(model.lm_loss(input_ids), model.lm_loss(input_ids, input_ids.clone()))
    with pytest.raises(ValueError, match=r"labels shape \(1, 2\) must equal input_ids shape \(1, 3\)"):
        model.lm_loss(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="chunk_size=0 must be >= 1"):
        model.lm_loss(input_ids, chunk_size=0)
