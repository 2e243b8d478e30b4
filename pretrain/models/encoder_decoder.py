"""Encoder-decoder: a bidirectional encoder and a causal decoder that cross-attends to it.

One of BERT's paths to generation (BERT2BERT; the default is MaskedSeq2Seq): both halves are warm-started from a BERT checkpoint and only the
cross-attention is new (Rothe et al. 2020, "Leveraging Pre-trained Checkpoints for Sequence
Generation Tasks", arXiv:1907.12461).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.kv_cache import KVCache
from pretrain.models.generation import GenerationConfig, generate
from pretrain.models.heads import MaskedLMHead
from pretrain.models.init import init_weights
from pretrain.models.outputs import LMOutput
from pretrain.models.stack import TransformerStack


class EncoderDecoderModel(nn.Module):
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

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        decoder_input_ids: Tensor | None = None,
        decoder_attention_mask: Tensor | None = None,
        *,
        encoder_hidden_states: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> LMOutput:
        """Source input_ids (B, S), target decoder_input_ids (B, T) -> logits (B, T, V)."""
        if decoder_input_ids is None:
            raise ValueError("EncoderDecoderModel needs decoder_input_ids (the target, shifted right)")
        if encoder_hidden_states is None:
            encoder_hidden_states = self.encode(input_ids, attention_mask)
        body = self.decoder(
            decoder_input_ids, attention_mask=decoder_attention_mask, context=encoder_hidden_states,
            context_mask=attention_mask, cache=cache,
        )
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
            out = self(
                input_ids, state["mask"], tokens, encoder_hidden_states=state["context"], cache=cache
            )
            return out.logits[:, -1]  # (B, V)

        def reorder(index: Tensor) -> None:
            state["context"] = state["context"].index_select(0, index)
            if state["mask"] is not None:
                state["mask"] = state["mask"].index_select(0, index)

        start = torch.full((input_ids.shape[0], 1), start_token_id, dtype=torch.long, device=input_ids.device)
        return generate(step, start, cache, config, generator, on_reorder=reorder)
