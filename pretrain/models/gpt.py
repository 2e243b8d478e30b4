"""GPT: a causal decoder with a tied language-model head (Radford et al. 2018, 2019)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.kv_cache import KVCache
from pretrain.models import host_sync
from pretrain.models.generation import GenerationConfig, generate
from pretrain.models.heads import LMHead
from pretrain.models.init import init_weights
from pretrain.models.loss import IGNORE_INDEX, next_token_targets
from pretrain.models.outputs import LMOutput
from pretrain.models.stack import TransformerStack

# torch's fallback chunking for fp32 on CPU picks ~32-row chunks (at V/D = 32); on 2 busy cores
# that measured ~10x slower than 2048-row chunks, which beat the unfused loss at 1 and 2 threads.
CPU_CHUNK_ROWS = 2048


def _chunking(chunk_size: int | None, device: torch.device) -> torch.nn.LinearCrossEntropyOptions:
    if chunk_size is None and device.type == "cuda":
        return torch.nn.LinearCrossEntropyOptions()  # torch's per-dtype choice, tuned on A100
    return torch.nn.LinearCrossEntropyOptions(batch_chunk_size=chunk_size or CPU_CHUNK_ROWS, chunking_method=None)


class GptModel(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.decoder = TransformerStack(config, causal=True)
        self.lm_head = LMHead(config, self.decoder.embeddings.tokens)
        init_weights(self, config)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        *,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> LMOutput:
        """input_ids (B, T) -> logits (B, T, V). Logit t predicts token t + 1; the loss shifts."""
        body = self.decoder(
            input_ids, attention_mask=attention_mask, position_ids=position_ids, document_ids=document_ids,
            cache=cache, need_weights=need_weights,
        )
        return LMOutput(
            logits=self.lm_head(body.hidden_states), hidden_states=body.hidden_states,
            attentions=body.attentions, cache=cache,
        )

    def lm_loss(
        self,
        input_ids: Tensor,
        labels: Tensor | None = None,
        attention_mask: Tensor | None = None,
        *,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
        chunk_size: int | None = None,
        shift: bool = True,
    ) -> Tensor:
        """Mean next-token cross-entropy with the LM head fused into the loss: no (B, T, V) logits are kept.

        labels (B, T) default to input_ids and are shifted here (the target of position t is
        labels[t + 1]); IGNORE_INDEX and padded positions (attention_mask == 0) are ignored. With
        `shift=False` position t is scored against labels[t] itself: a masked LM read through the same
        head (the clm-mlm objective's second phase). Equals
        `token_cross_entropy(self(input_ids, attention_mask).logits[:, :-1], next_token_targets(labels,
        attention_mask))`.
        Uses torch's chunked `linear_cross_entropy`, which never keeps the logits for backward;
        shifting the labels, not slicing the logits, also avoids copying them. chunk_size (rows per
        chunk) None means torch's own choice on CUDA and CPU_CHUNK_ROWS elsewhere.
        """
        labels = input_ids if labels is None else labels
        if labels.shape != input_ids.shape:
            raise ValueError(f"labels shape {tuple(labels.shape)} must equal input_ids shape {tuple(input_ids.shape)}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size={chunk_size} must be >= 1 (or None for torch's choice)")
        body = self.decoder(
            input_ids, attention_mask=attention_mask, position_ids=position_ids, document_ids=document_ids,
        )
        if shift:
            targets = next_token_targets(labels, attention_mask)  # (B, T-1)
            targets = F.pad(targets, (0, 1), value=IGNORE_INDEX).reshape(-1)  # (B*T,): the last has no target
        else:
            targets = labels if attention_mask is None else labels.masked_fill(attention_mask == 0, IGNORE_INDEX)
            targets = targets.reshape(-1)  # (B*T,)
        hidden = body.hidden_states.reshape(-1, body.hidden_states.shape[-1])  # (B*T, D)
        scored = targets != IGNORE_INDEX
        if host_sync.reads_values(scored) and not bool(scored.all()):
            # Only scored rows go through the vocabulary projection: fine-tuning on source -> target
            # scores the target alone (~1/4 of the rows), padding never. Choosing them reads the targets, so on a
            # GPU (host_sync) every row is projected and the ignored ones weigh nothing in the loss.
            hidden, targets = hidden[scored], targets[scored]
        return F.linear_cross_entropy(
            self.lm_head.features(hidden), self.lm_head.decoder.weight, targets, linear_bias=self.lm_head.bias,
            ignore_index=IGNORE_INDEX, options=_chunking(chunk_size, hidden.device),
        )

    @torch.no_grad()
    def generate(
        self, input_ids: Tensor, config: GenerationConfig, attention_mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Continue each prompt (B, T); prompts of different lengths are left-padded with a mask.

        Returns the new tokens only (B, <= max_new_tokens), padded with `config.pad_token_id`
        after EOS.
        """
        cache = KVCache()
        state = {"mask": attention_mask if attention_mask is not None else torch.ones_like(input_ids)}

        def step(tokens: Tensor) -> Tensor:
            if cache.length:
                state["mask"] = torch.cat((state["mask"], state["mask"].new_ones(tokens.shape)), dim=1)
            mask = state["mask"]
            # Left padding shifts real tokens right; positions count real tokens only.
            positions = (mask.cumsum(dim=1) - 1).clamp(min=0)[:, -tokens.shape[1]:]
            return self(tokens, mask, position_ids=positions, cache=cache).logits[:, -1]  # (B, V)

        def reorder(index: Tensor) -> None:
            state["mask"] = state["mask"].index_select(0, index)

        return generate(step, input_ids, cache, config, generator, on_reorder=reorder)
