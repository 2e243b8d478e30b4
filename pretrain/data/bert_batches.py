"""BERT batches: sentence tokenization, next-sentence-prediction pairs, and MLM masking.

Follows BERT (arXiv:1810.04805, section 3.1 and appendix A): each example is
``[CLS] A [SEP] B [SEP]``; half the time B is the text that follows A in the same
document (``next_sentence_label`` 0, HF convention), otherwise a span from another
document (label 1); pairs longer than the block are truncated longest-first. 15% of
the non-special tokens are chosen for prediction; of those 80% become [MASK], 10% a
random token and 10% stay unchanged.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass

import torch
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|\n\s*\n")
MIN_NSP_TOKENS = 2  # a document needs two tokens to give a non-empty A and B


def split_sentences(text: str) -> list[str]:
    """Sentences and paragraphs, the units NSP segments are built from."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


class SentenceTokenizer:
    """Batched ``datasets.map`` function: ``text`` -> ``sentences`` (token ids per sentence) + size statistics."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast) -> None:
        self.tokenizer = tokenizer

    def __call__(self, batch: dict[str, list[str]]) -> dict[str, list[object]]:
        per_doc = [split_sentences(text) for text in batch["text"]]
        flat = [sentence for sentences in per_doc for sentence in sentences]
        ids = self.tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
        out_sentences, position = [], 0
        for sentences in per_doc:
            out_sentences.append(ids[position : position + len(sentences)])
            position += len(sentences)
        return {
            "sentences": out_sentences,
            "num_bytes": [len(t.encode("utf-8")) for t in batch["text"]],
            "num_words": [len(t.split()) for t in batch["text"]],
            "num_tokens": [sum(len(s) for s in doc) for doc in out_sentences],
        }


def _truncate_pair(a: list[int], b: list[int], limit: int, rng: random.Random, keep_boundary: bool) -> None:
    """Longest-first truncation in place. Random pairs lose tokens at a random end (as in BERT's
    create_pretraining_data.py); continuation pairs lose them away from the A|B boundary so that B
    still starts exactly where A ends."""
    while len(a) + len(b) > limit:
        longer_is_a = len(a) > len(b)
        longer = a if longer_is_a else b
        if keep_boundary:
            from_front = longer_is_a
        else:
            from_front = rng.random() < 0.5
        del longer[0 if from_front else -1]


@dataclass(frozen=True)
class NspPairBuilder:
    """Batched ``datasets.map`` function (``with_indices=True``): documents -> NSP examples.

    Random partners come from other documents of the same map batch; the randomness is
    seeded by (seed, index of the batch's first row), so the pairs are the same in every
    run and for any ``num_proc``. Sentences longer than the block are cut into block-sized
    pieces first (no text is dropped for being long); documents with fewer than
    ``MIN_NSP_TOKENS`` tokens are skipped (the data module counts and reports them).
    """

    max_length: int
    seed: int
    cls_id: int
    sep_id: int

    def __call__(self, batch: dict[str, list[object]], indices: list[int]) -> dict[str, list[object]]:
        rng = random.Random(self.seed * 1_000_003 + indices[0])
        target = self.max_length - 3  # room for [CLS] and two [SEP]
        docs: list[list[list[int]]] = []
        for sentences in batch["sentences"]:
            docs.append([s[i : i + target] for s in sentences for i in range(0, len(s), target) if s])
        out: dict[str, list[object]] = {"input_ids": [], "token_type_ids": [], "next_sentence_label": []}
        for d, pieces in enumerate(docs):
            if sum(len(p) for p in pieces) < MIN_NSP_TOKENS:
                continue
            others = [j for j, other in enumerate(docs) if j != d and other]
            chunk: list[list[int]] = []
            length, i = 0, 0
            while i < len(pieces):
                chunk.append(pieces[i])
                length += len(pieces[i])
                if i == len(pieces) - 1 or length >= target:
                    i -= self._emit(chunk, docs, others, target, rng, out)
                    chunk, length = [], 0
                i += 1
        return out

    def _emit(self, chunk: list[list[int]], docs: list[list[list[int]]], others: list[int], target: int,
              rng: random.Random, out: dict[str, list[object]]) -> int:
        """Append one example from ``chunk``; return how many trailing pieces went unused (to be reused)."""
        if len(chunk) == 1:
            piece = chunk[0]
            if len(piece) < MIN_NSP_TOKENS:
                return 0
            cut = rng.randint(1, len(piece) - 1)  # a single long sentence: split it at a random token
            a_pieces, rest = [piece[:cut]], [piece[cut:]]
        else:
            a_end = rng.randint(1, len(chunk) - 1)
            a_pieces, rest = chunk[:a_end], chunk[a_end:]
        a = [t for p in a_pieces for t in p]
        unused = 0
        if others and rng.random() < 0.5:
            label = 1
            partner = docs[rng.choice(others)]
            start = rng.randrange(len(partner))
            b: list[int] = []
            for p in partner[start:]:
                b.extend(p)
                if len(b) >= target - len(a):
                    break
            unused = len(rest) if len(chunk) > 1 else 0  # the real continuation is reused in the next example
        else:
            label = 0
            b = [t for p in rest for t in p]
        _truncate_pair(a, b, target, rng, keep_boundary=label == 0)
        out["input_ids"].append([self.cls_id, *a, self.sep_id, *b, self.sep_id])
        out["token_type_ids"].append([0] * (len(a) + 2) + [1] * (len(b) + 1))
        out["next_sentence_label"].append(label)
        return unused


@dataclass
class MlmNspCollator(DataCollatorForLanguageModeling):
    """Pads NSP examples and masks them for MLM, extending HF's collator with two options.

    - ``continuation`` (bool per vocabulary id): whole-word masking that keeps BERT's
      80/10/10 per token (HF's own whole-word mode drops it and needs offset mappings);
    - ``fixed_seed``: each example's mask is seeded by (fixed_seed, its token ids), so the
      validation mask is identical across runs, batch sizes and worker counts.
    """

    continuation: torch.Tensor | None = None
    fixed_seed: int | None = None

    def torch_call(self, examples: list[dict[str, object]]) -> dict[str, torch.Tensor]:
        nsp = torch.tensor([int(e["next_sentence_label"]) for e in examples], dtype=torch.long)
        features = [{"input_ids": e["input_ids"], "token_type_ids": e["token_type_ids"]} for e in examples]
        batch = self.tokenizer.pad(features, return_tensors="pt", pad_to_multiple_of=self.pad_to_multiple_of)
        input_ids = batch["input_ids"]
        special = torch.isin(input_ids, torch.tensor(self.tokenizer.all_special_ids))
        if self.fixed_seed is None:
            input_ids, labels = self._mask(input_ids, special)
        else:
            rows = [self._mask_fixed(row, row_special) for row, row_special in zip(input_ids, special)]
            input_ids = torch.stack([r[0] for r in rows])
            labels = torch.stack([r[1] for r in rows])
        return {
            "input_ids": input_ids,
            "attention_mask": batch["attention_mask"],
            "token_type_ids": batch["token_type_ids"],
            "labels": labels,
            "next_sentence_label": nsp,
        }

    def _mask_fixed(self, row: torch.Tensor, special: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        content = row[~special].to(torch.int32).numpy().tobytes()
        self.generator = torch.Generator().manual_seed(self.fixed_seed * 1_000_003 + zlib.crc32(content))
        try:
            masked, labels = self._mask(row[None].clone(), special[None])
        finally:
            self.generator = None
        return masked[0], labels[0]

    def _mask(self, inputs: torch.Tensor, special: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.continuation is None:
            return self.torch_mask_tokens(inputs, special_tokens_mask=special)
        return self._whole_word_mask_tokens(inputs, special)

    def _whole_word_mask_tokens(self, inputs: torch.Tensor, special: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Choose words with probability ``mlm_probability``, predict all their tokens, then 80/10/10 per token."""
        labels = inputs.clone()
        after_special = torch.nn.functional.pad(special[:, :-1], (1, 0), value=True)
        starts = ~special & (~self.continuation[inputs] | after_special)
        word_ids = torch.cumsum(starts.long(), dim=1)  # (B, T); tokens of one word share an id
        probability = torch.full(inputs.shape, self.mlm_probability).masked_fill(~starts, 0.0)
        chosen_starts = torch.bernoulli(probability, generator=self.generator).bool()
        chosen_words = torch.zeros(inputs.shape[0], int(word_ids.max()) + 1, dtype=torch.bool)  # (B, n_words + 1)
        chosen_words[torch.arange(inputs.shape[0])[:, None].expand_as(word_ids)[chosen_starts],
                     word_ids[chosen_starts]] = True
        masked = torch.gather(chosen_words, 1, word_ids) & ~special
        labels[~masked] = -100
        replaced = torch.bernoulli(torch.full(inputs.shape, self.mask_replace_prob), generator=self.generator).bool()
        replaced &= masked
        inputs[replaced] = self.tokenizer.mask_token_id
        random_share = self.random_replace_prob / max(1e-12, 1 - self.mask_replace_prob)
        randomised = torch.bernoulli(torch.full(inputs.shape, random_share), generator=self.generator).bool()
        randomised &= masked & ~replaced
        random_ids = torch.randint(len(self.tokenizer), inputs.shape, generator=self.generator)
        inputs[randomised] = random_ids[randomised]
        return inputs, labels
