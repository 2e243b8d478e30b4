"""Encoder-decoder: a bidirectional encoder and a causal decoder that cross-attends to it.

One of BERT's paths to generation (BERT2BERT; the default is MaskedSeq2Seq): both halves are warm-started
from a BERT checkpoint and only the cross-attention is new (Rothe et al. 2020, "Leveraging Pre-trained
Checkpoints for Sequence Generation Tasks", arXiv:1907.12461).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.kv_cache import KVCache
from pretrain.models.generation import GenerationConfig, generate
from pretrain.models.heads import MaskedLMHead
from pretrain.models.init import init_weights
from pretrain.models.outputs import LMOutput
from pretrain.models.seq2seq import Seq2SeqModel
from pretrain.models.stack import TransformerStack


class EncoderDecoderModel(Seq2SeqModel):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = TransformerStack(config, causal=False)
        self.decoder = TransformerStack(config, causal=True, cross_attention=True)
        # BERT's MLM head is a language-model head over the same vocabulary: reusing its
        # shape lets the warm start copy it too (Rothe et al. 2020, section 3).
        self.lm_head = MaskedLMHead(config, self.decoder.embeddings.tokens)
        init_weights(self, config)

    def encode(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        return self.encoder(input_ids, attention_mask=attention_mask).hidden_states  # (B, S, D)

    def target_logits(self, input_ids: Tensor, attention_mask: Tensor | None, decoder_input_ids: Tensor,
                      decoder_attention_mask: Tensor | None) -> LMOutput:
        context = self.encode(input_ids, attention_mask)
        return self.decode(decoder_input_ids, context, attention_mask, decoder_attention_mask)

    def decode(
        self, target: Tensor, context: Tensor, context_mask: Tensor | None = None, target_mask: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> LMOutput:
        """Target tokens (B, T) cross-attending to the encoded source `context` (B, S, D) -> logits (B, T, V);
        with a `cache`, the target is the next tokens after those cached (KV-cached decoding)."""
        body = self.decoder(target, attention_mask=target_mask, context=context, context_mask=context_mask,
                            cache=cache)
        return LMOutput(logits=self.lm_head(body.hidden_states), hidden_states=body.hidden_states, cache=cache)

    @torch.no_grad()
    def generate(
        self, input_ids: Tensor, config: GenerationConfig, attention_mask: Tensor | None = None,
        *, start_token_id: int, generator: torch.Generator | None = None,
    ) -> Tensor:
        """Decode a target for each source (B, S), starting from `start_token_id` ([CLS] for BERT)."""
        context = self.encode(input_ids, attention_mask)
        cache = KVCache()
        state = {"context": context, "mask": attention_mask}

        def step(tokens: Tensor) -> Tensor:
            return self.decode(tokens, state["context"], state["mask"], cache=cache).logits[:, -1]  # (B, V)

        def reorder(index: Tensor) -> None:
            state["context"] = state["context"].index_select(0, index)
            if state["mask"] is not None:
                state["mask"] = state["mask"].index_select(0, index)

        start = torch.full((input_ids.shape[0], 1), start_token_id, dtype=torch.long, device=input_ids.device)
        return generate(step, start, cache, config, generator, on_reorder=reorder)
