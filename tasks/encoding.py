"""How each family sees a task input: special tokens, text pairs, truncation, padding and attention masks.

The layout per family is its `InputFormat` (pretrain.family): BERT reads `[CLS] a [SEP] b [SEP]` with
segment ids 0/1, GPT reads `a [SEP] b <|endoftext|>` (GPT-1's delimiter and extract token).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from transformers import PreTrainedTokenizerBase

from pretrain.data.tokenizer import CLS, EOS, PAD, SEP
from pretrain.family import family_record
from pretrain.models.loss import IGNORE_INDEX as IGNORE_INDEX  # re-exported: task data and modules label with it


@dataclass(frozen=True)
class SpecialTokens:
    cls: int
    sep: int
    eos: int
    pad: int

    @classmethod
    def of(cls, tokenizer: PreTrainedTokenizerBase, family_name: str) -> SpecialTokens:
        """The suite's tokenizers hold all of [CLS] [SEP] [PAD] <|endoftext|>; a Hugging Face GPT-2
        tokenizer has only <|endoftext|>, which then also serves as delimiter and padding."""
        layout = family_record(family_name).input_format
        vocab = tokenizer.get_vocab()
        eos = vocab.get(EOS, tokenizer.eos_token_id)
        sep = vocab.get(SEP, tokenizer.sep_token_id)
        start = vocab.get(CLS, tokenizer.cls_token_id)
        pad = vocab.get(PAD, tokenizer.pad_token_id)
        if layout.end == "sep":  # BERT: [SEP] closes the input, after a leading [CLS]
            if start is None or sep is None:
                raise ValueError(f"a {family_name.upper()} tokenizer needs [CLS] and [SEP] tokens; "
                                 "this one has neither in its vocabulary")
            return cls(cls=start, sep=sep, eos=sep, pad=pad if pad is not None else 0)
        if eos is None:
            eos = sep
        if eos is None:
            raise ValueError(f"a {family_name.upper()} tokenizer needs <|endoftext|> (or [SEP]); this one has neither")
        return cls(cls=start if start is not None else eos, sep=sep if sep is not None else eos, eos=eos,
                   pad=pad if pad is not None else eos)


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> list[list[int]]:
    """Sub-word ids without special tokens: this module adds them per family."""
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def truncate_pair(a: list[int], b: list[int] | None, budget: int) -> tuple[list[int], list[int] | None, bool]:
    """Drop tokens from the end of the longer side until both fit in `budget` ("longest first",
    as transformers' truncation does); returns whether anything was dropped."""
    if budget < 2:
        raise ValueError(f"max_length leaves {budget} tokens for the text; raise max_length")
    n_b = len(b) if b is not None else 0
    n_a = len(a)
    truncated = n_a + n_b > budget
    while n_a + n_b > budget:
        if n_a >= n_b:
            n_a -= 1
        else:
            n_b -= 1
    return a[:n_a], (b[:n_b] if b is not None else None), truncated


def build_input(
    a: list[int], b: list[int] | None, family_name: str, special: SpecialTokens
) -> tuple[list[int], list[int]]:
    """(input_ids, token_type_ids) for one example in the family's input format (see InputFormat);
    without segment ids (GPT) the token types are all zero."""
    layout = family_record(family_name).input_format
    head = [special.cls] if layout.starts_with_cls else []
    head += a if b is None else [*a, special.sep]
    tail = [special.eos] if b is None else [*b, special.eos]  # special.eos is BERT's closing [SEP]
    second = 1 if b is not None and layout.segment_ids else 0
    return head + tail, [0] * len(head) + [second] * len(tail)


def n_special(family_name: str, pair: bool) -> int:
    return family_record(family_name).input_format.n_special(pair)


def pad(sequences: Sequence[Sequence[int]], value: int, left: bool = False) -> Tensor:
    """(B, T_max) long tensor; `left` padding is what batched causal generation needs."""
    tensors = [torch.tensor(s, dtype=torch.long) for s in sequences]
    return pad_sequence(tensors, batch_first=True, padding_value=value, padding_side="left" if left else "right")


def pad_with_mask(sequences: Sequence[Sequence[int]], value: int, left: bool = False) -> tuple[Tensor, Tensor]:
    """`pad`'s (B, T_max) ids and the (B, T_max) long attention mask: 1 on real tokens, 0 on padding."""
    ids = pad(sequences, value, left=left)
    lengths = torch.tensor([len(s) for s in sequences])
    positions = torch.arange(ids.shape[1])[None, :]
    mask = positions >= ids.shape[1] - lengths[:, None] if left else positions < lengths[:, None]
    return ids, mask.long()
