"""BERT's masking of a batch (Devlin et al. 2018, section 3.1: 80% [MASK], 10% random, 10% unchanged), seeded
per example, for every objective that masks: BERT's MLM + NSP pairs (bert_batches.MlmNspCollator) and the masked
copies of packed causal blocks (MaskedBlockCollator: the mlm share of clm-mlm, gpt-bert's masked next tokens).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch
from transformers import DataCollatorForLanguageModeling

from pretrain.data.gpt_batches import CausalCollator
from pretrain.models.loss import IGNORE_INDEX


@dataclass
class SeededMasking(DataCollatorForLanguageModeling):
    """HF's MLM collator with two options, and masks that do not depend on where an example lands.

    - ``continuation`` (bool per vocabulary id): whole-word masking that keeps BERT's
      80/10/10 per token (HF's own whole-word mode drops it and needs offset mappings);
    - ``fixed_seed``: each example's mask is seeded by (fixed_seed, its token ids), so the
      validation mask is identical across runs, batch sizes and worker counts.

    Otherwise an example carrying a ``draw_seed`` (training draws, ``global_batches``) is masked
    with a generator of that seed, so its mask does not depend on which process or batch it lands
    in; without one the batch is masked from torch's global generator.
    """

    continuation: torch.Tensor | None = None
    fixed_seed: int | None = None

    def mask_rows(self, examples: list[dict[str, object]],
                  input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked input ids, labels: the original id where masked, IGNORE_INDEX elsewhere); special tokens stay."""
        special = torch.isin(input_ids, torch.tensor(self.tokenizer.all_special_ids))
        seeds = self._row_seeds(examples, input_ids, special)
        if seeds is None:
            return self._mask(input_ids, special)
        rows = [self._mask_seeded(row, row_special, seed) for row, row_special, seed in zip(input_ids, special, seeds)]
        return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])

    def _row_seeds(self, examples: list[dict[str, object]], input_ids: torch.Tensor,
                   special: torch.Tensor) -> list[int] | None:
        """One mask seed per row (fixed by content, or the draw's), or None to mask from the global generator."""
        if self.fixed_seed is not None:
            return [self.fixed_seed * 1_000_003 + zlib.crc32(row[~row_special].to(torch.int32).numpy().tobytes())
                    for row, row_special in zip(input_ids, special)]
        if all("draw_seed" in e for e in examples):
            return [int(e["draw_seed"]) for e in examples]
        return None

    def _mask_seeded(self, row: torch.Tensor, special: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.generator = torch.Generator().manual_seed(seed)
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
        labels[~masked] = IGNORE_INDEX
        replaced = torch.bernoulli(torch.full(inputs.shape, self.mask_replace_prob), generator=self.generator).bool()
        replaced &= masked
        inputs[replaced] = self.tokenizer.mask_token_id
        random_share = self.random_replace_prob / max(1e-12, 1 - self.mask_replace_prob)
        randomised = torch.bernoulli(torch.full(inputs.shape, random_share), generator=self.generator).bool()
        randomised &= masked & ~replaced
        random_ids = torch.randint(len(self.tokenizer), inputs.shape, generator=self.generator)
        inputs[randomised] = random_ids[randomised]
        return inputs, labels


@dataclass
class MaskedBlockCollator(SeededMasking):
    """Packed causal blocks (gpt_batches.CausalCollator's batch) plus a masked copy of each: ``masked_input_ids``
    and ``masked_labels`` (the original token where masked, IGNORE_INDEX elsewhere). The objectives that train
    one decoder on both read the copy they need at each step (pretrain.lightning.mixed)."""

    document_mask: bool = False

    def torch_call(self, examples: list[dict[str, object]]) -> dict[str, torch.Tensor]:
        batch = CausalCollator(document_mask=self.document_mask)(examples)
        batch["masked_input_ids"], batch["masked_labels"] = self.mask_rows(examples, batch["input_ids"].clone())
        return batch
