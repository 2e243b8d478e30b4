"""BERT as a sequence-to-sequence model with no new parameters: source and target in one bidirectional
stack, each target token predicted by BERT's own MLM head from a [MASK] placed at its position.

The attention layout is UniLM's sequence-to-sequence mask (Dong et al. 2019, "Unified Language Model
Pre-training for Natural Language Understanding and Generation", arXiv:1905.03197): source tokens see the
whole source; target tokens see the source and the target to their left. Training predicts every target
token at once with s2s-ft's pseudo-masking (Bao et al. 2021, arXiv:2110.13640, section 3.2): the sequence
holds the real target tokens and, beside them, one [MASK] per target position; the [MASK] for token t sits
at token t's position and sees the source, the real tokens before t and itself, which is exactly what it
sees when decoding appends one [MASK] after the tokens generated so far. The pretrained weights therefore
do what they were trained for, fill a [MASK] from context; BERT2BERT instead runs BERT's layers as a
causal language model and adds a randomly initialised cross-attention, which a small budget cannot train.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pretrain.blocks.kv_cache import KVCache
from pretrain.models.bert import BertModel
from pretrain.models.generation import GenerationConfig, generate
from pretrain.models.outputs import LMOutput
from pretrain.models.seq2seq import Seq2SeqModel


class MaskedSeq2Seq(Seq2SeqModel):
    """Wraps a BertModel: (source, shifted target) -> logits (B, T, V) for each target token."""

    def __init__(self, bert: BertModel, mask_token_id: int) -> None:
        super().__init__()
        self.bert = bert
        self.config = bert.config
        self.mask_token_id = mask_token_id

    def target_logits(self, input_ids: Tensor, attention_mask: Tensor | None, decoder_input_ids: Tensor,
                      decoder_attention_mask: Tensor | None) -> LMOutput:
        """The source must be right-padded: the target continues right after each row's own source."""
        B, S = input_ids.shape
        T = decoder_input_ids.shape[1]
        device = input_ids.device
        source = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        target = (torch.ones_like(decoder_input_ids, dtype=torch.bool) if decoder_attention_mask is None
                  else decoder_attention_mask.bool())
        masks = torch.full_like(decoder_input_ids, self.mask_token_id)
        ids = torch.cat([input_ids, decoder_input_ids, masks], dim=1)  # (B, S + 2T)
        # Positions: the target continues right after each row's own source (right padding leaves no gap);
        # the [MASK] for target token t + 1 sits at that token's position.
        steps = torch.arange(T, device=device)
        real_positions = source.sum(dim=1, keepdim=True) + steps  # (B, T)
        positions = torch.cat([torch.arange(S, device=device).expand(B, S), real_positions, real_positions + 1], 1)
        types = (torch.arange(S + 2 * T, device=device) >= S).long().expand(B, -1) if self.config.type_vocab_size > 1 \
            else None  # segment A = source, B = target
        mask = self._attention_mask(source, target)
        body = self.bert.encoder(ids, attention_mask=mask, token_type_ids=types, position_ids=positions)
        hidden = body.hidden_states[:, S + T:]  # (B, T, D): the [MASK] queries
        return LMOutput(logits=self.bert.mlm_head(hidden), hidden_states=hidden, cache=None)

    @staticmethod
    def _attention_mask(source: Tensor, target: Tensor) -> Tensor:
        """(B, 1, L, L) bool, L = S + 2T, True where a query may attend a key."""
        B, S = source.shape
        T = target.shape[1]
        L = S + 2 * T
        device = source.device
        causal = torch.ones(T, T, dtype=torch.bool, device=device).tril()  # (T, T): key t' <= query t
        allowed = torch.zeros(B, L, L, dtype=torch.bool, device=device)
        allowed[:, :, :S] = source[:, None, :]  # every query sees the real source (source queries: only it)
        allowed[:, S:S + T, S:S + T] = causal & target[:, None, :]  # real target: its left context
        allowed[:, S + T:, S:S + T] = causal & target[:, None, :]  # [MASK] t: the real tokens up to t
        allowed |= torch.eye(L, dtype=torch.bool, device=device)  # each query sees itself ([MASK]s, padding)
        return allowed[:, None]

    @torch.no_grad()
    def generate(
        self, input_ids: Tensor, config: GenerationConfig, attention_mask: Tensor | None = None,
        *, start_token_id: int, generator: torch.Generator | None = None,
    ) -> Tensor:
        """Decode a target for each right-padded source (B, S), starting from `start_token_id`.

        KV-cached: the source is encoded once (its tokens never see the target), then each step feeds
        the newest real token and one [MASK] after it, reads the [MASK]'s prediction and drops the
        [MASK]'s keys and values from the cache, so the cache holds exactly the keys the training layout
        lets the next tokens see.
        """
        B, S = input_ids.shape
        device = input_ids.device
        source = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        segments = self.config.type_vocab_size > 1
        cache = KVCache()
        itself = torch.eye(S, dtype=torch.bool, device=device)
        self.bert.encoder(
            input_ids, attention_mask=(source[:, None, :] | itself)[:, None],
            token_type_ids=torch.zeros_like(input_ids) if segments else None,
            position_ids=torch.arange(S, device=device).expand(B, S), cache=cache,
        )
        state = {"visible": source, "next_position": source.sum(dim=1, keepdim=True)}  # (B, K), (B, 1)

        def step(tokens: Tensor) -> Tensor:
            visible, position = state["visible"], state["next_position"]
            rows, cached = visible.shape
            ids = torch.cat([tokens, torch.full_like(tokens, self.mask_token_id)], dim=1)  # (B, 2)
            mask = torch.zeros(rows, 2, cached + 2, dtype=torch.bool, device=device)
            mask[:, :, :cached] = visible[:, None, :]
            mask[:, :, cached] = True  # both see the real token
            mask[:, 1, cached + 1] = True  # the [MASK] sees itself
            body = self.bert.encoder(
                ids, attention_mask=mask[:, None], token_type_ids=torch.ones_like(ids) if segments else None,
                position_ids=position + torch.arange(2, device=device), cache=cache,
            )
            cache.crop(cached + 1)
            state["visible"] = torch.cat([visible, visible.new_ones(rows, 1)], dim=1)
            state["next_position"] = position + 1
            return self.bert.mlm_head(body.hidden_states[:, 1])  # (B, V)

        def reorder(index: Tensor) -> None:
            for key, value in state.items():
                state[key] = value.index_select(0, index)

        start = torch.full((B, 1), start_token_id, dtype=torch.long, device=device)
        return generate(step, start, cache, config, generator, on_reorder=reorder)
