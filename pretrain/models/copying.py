"""In-context copying: can a pretrained model reproduce a sequence it has just read?

The probe of induction heads (Olsson et al. 2022, "In-context Learning and Induction Heads",
arXiv:2209.11895): a random token sequence is shown twice; a model that copies from its context
predicts the second copy from the first, one that does not scores at chance (1 / vocabulary size),
since random tokens give no other clue. Most generation tasks need this ability (a summary repeats the
names of its source), so the probe tells "the fine-tuning recipe failed" from "the pretrained model
cannot copy yet".

- causal LM: read `x x`; at each position of the second copy but its last, the next token is the
  one that followed the same token in the first copy (every position of the second copy but the
  first is predictable that way).
- masked LM: read `[CLS] x [SEP] x [SEP]` (segments 0 / 1, as a sentence pair in pretraining) with
  every 4th position of the second copy masked, in 4 passes so that each position is masked once
  and its neighbours are visible; the answer is the token at the same offset in the first copy.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pretrain.models.bert import BertModel
from pretrain.models.gpt import GptModel

MASK_STRIDE = 4  # masked LM: mask 1 position in 4 of the second copy per pass (its neighbours stay visible)


def random_sequences(vocab_size: int, special_ids: list[int], rows: int, length: int, seed: int = 0) -> Tensor:
    """(rows, length) ids drawn uniformly from the vocabulary minus its special tokens, the same for a seed."""
    vocabulary = torch.arange(vocab_size)
    allowed = vocabulary[~torch.isin(vocabulary, torch.tensor(special_ids))]
    generator = torch.Generator().manual_seed(seed)
    return allowed[torch.randint(len(allowed), (rows, length), generator=generator)]


@torch.no_grad()
def causal_copy_accuracy(model: GptModel, tokens: Tensor) -> float:
    """Share of the second copy's tokens (from its second on) that the causal LM predicts exactly."""
    length = tokens.shape[1]
    ids = torch.cat([tokens, tokens], dim=1)
    logits = model(ids).logits  # (B, 2L, V); logit t predicts token t + 1
    predicted = logits[:, length:-1].argmax(dim=-1)
    return (predicted == ids[:, length + 1:]).float().mean().item()


@torch.no_grad()
def masked_copy_accuracy(model: BertModel, tokens: Tensor, cls_id: int, sep_id: int, mask_id: int) -> float:
    """Share of the second copy's tokens that the masked LM recovers when each is masked in turn."""
    rows, length = tokens.shape
    cls = tokens.new_full((rows, 1), cls_id)
    sep = tokens.new_full((rows, 1), sep_id)
    ids = torch.cat([cls, tokens, sep, tokens, sep], dim=1)
    second = 2 + length  # first position of the second copy
    # Segment B for the second copy, as for a pretraining pair; none when the model has no segments (MLM only).
    types = ((torch.arange(ids.shape[1], device=ids.device) >= second).long().expand(rows, -1)
             if model.config.type_vocab_size > 1 else None)
    hits = 0
    for offset in range(MASK_STRIDE):
        positions = torch.arange(second + offset, second + length, MASK_STRIDE, device=ids.device)
        selected = torch.zeros_like(ids, dtype=torch.bool)
        selected[:, positions] = True
        # The vocabulary projection only where a token is masked, as in pretraining: (N, V), not (B, T, V).
        logits = model(ids.masked_fill(selected, mask_id), token_type_ids=types, masked_positions=selected).mlm_logits
        hits += int((logits.argmax(dim=-1) == ids[selected]).sum())
    return hits / (rows * length)
