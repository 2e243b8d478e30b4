"""Embeddings + a stack of TransformerBlocks: the body of BERT, GPT and both halves of an encoder-decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.attention.flex_attention import BlockMask

from pretrain.blocks.attention import block_mask
from pretrain.blocks.block import TransformerBlock
from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.embeddings import Embeddings
from pretrain.blocks.kv_cache import KVCache
from pretrain.blocks.norms import build_norm
from pretrain.blocks.positions import RotaryEmbedding
from pretrain.models import host_sync


@dataclass
class StackOutput:
    hidden_states: Tensor  # (B, T, D), after the final norm if any
    attentions: list[Tensor] | None  # per layer (B, H, T, S), only when asked


class TransformerStack(nn.Module):
    """Bidirectional (encoder) or causal (decoder) stack; a decoder may cross-attend to a context."""

    def __init__(self, config: TransformerConfig, *, causal: bool, cross_attention: bool = False) -> None:
        super().__init__()
        self.config = config
        self.causal = causal
        self.embeddings = Embeddings(config)
        rope = config.position == "rope"
        self.rotary = RotaryEmbedding(config.head_dim, config.rope_base) if rope else None
        has_local = any(config.is_local(layer) for layer in range(config.n_layers))
        # ModernBERT rotates local layers with a smaller base than global ones (10k vs 160k).
        self.local_rotary = RotaryEmbedding(config.head_dim, config.local_rope_base) if rope and has_local else None
        self.blocks = nn.ModuleList(
            TransformerBlock(config, layer=layer, cross_attention=cross_attention) for layer in range(config.n_layers)
        )
        self.final_norm = build_norm(config) if config.final_norm else None
        # Masks SDPA would take as boolean tensors go to FlexAttention as block masks instead: None = on CUDA only
        # (SDPA stays the reference path on CPUs, where the default plan's numbers were measured); True / False
        # force it (the CPU test of both paths).
        self.flex_attention: bool | None = None

    def forward(
        self,
        input_ids: Tensor,
        *,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> StackOutput:
        """input_ids (B, T). attention_mask (B, S) is 1 for real tokens and 0 for padding, where
        S = cached + T; document_ids (B, T) restricts attention to tokens of the same document;
        context (B, S_ctx, D) with context_mask (B, S_ctx) feeds cross-attention."""
        offset = cache.length if cache is not None else 0
        self._check_inputs(input_ids, token_type_ids, document_ids, offset, position_ids)
        B, T = input_ids.shape
        if position_ids is None:
            position_ids = torch.arange(offset, offset + T, device=input_ids.device).unsqueeze(0)  # (1, T)
        x = self.embeddings(input_ids, position_ids, token_type_ids)
        rope = self.rotary(position_ids) if self.rotary is not None else None
        local_rope = self.local_rotary(position_ids) if self.local_rotary is not None else rope
        mask, is_causal = self._self_attention_mask(attention_mask, document_ids, T, offset, input_ids.device)
        local_mask, local_causal = self._sliding_window_mask(mask, is_causal, T, offset, input_ids.device)
        global_attention: Tensor | BlockMask | None = mask
        local_attention: Tensor | BlockMask | None = local_mask
        if self._flex(input_ids.device, cache, need_weights):
            global_attention = block_mask(mask) if mask is not None else None
            local_attention = (global_attention if local_mask is mask else
                               block_mask(local_mask) if local_mask is not None else None)
        cross_mask = None if context_mask is None else context_mask.bool()[:, None, None, :]  # (B, 1, 1, S_ctx)
        attentions: list[Tensor] | None = [] if need_weights else None
        for block in self.blocks:
            x, weights = block(
                x, mask=local_attention if block.local else global_attention,
                is_causal=local_causal if block.local else is_causal,
                rope=local_rope if block.local else rope, context=context, context_mask=cross_mask,
                cache=cache, need_weights=need_weights,
            )
            if attentions is not None and weights is not None:
                attentions.append(weights)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return StackOutput(hidden_states=x, attentions=attentions)

    def _flex(self, device: torch.device, cache: KVCache | None, need_weights: bool) -> bool:
        """Whether this call's masks go to FlexAttention: on CUDA unless forced either way, never with attention
        weights or a KV cache (decoding steps are one query long), nor with attention dropout in training, which
        FlexAttention does not have."""
        wanted = device.type == "cuda" if self.flex_attention is None else self.flex_attention
        dropout = self.training and self.config.attention_dropout > 0
        return wanted and cache is None and not need_weights and not dropout

    def _check_inputs(
        self, input_ids: Tensor, token_type_ids: Tensor | None, document_ids: Tensor | None, offset: int,
        position_ids: Tensor | None,
    ) -> None:
        """Fail with a readable message before an embedding lookup fails with an index error."""
        config = self.config
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (batch, seq_len), got {tuple(input_ids.shape)}")
        length = offset + input_ids.shape[1]
        if position_ids is not None and host_sync.reads_values(position_ids):
            length = int(position_ids.max()) + 1  # explicit positions may repeat (the masked seq2seq layout)
        if length > config.max_positions:
            raise ValueError(
                f"sequence length {length} exceeds max_positions={config.max_positions}; "
                "truncate the input or use a config with more positions"
            )
        # Value checks read the data: on the CPU only (host_sync), so on a GPU and under torch.compile the ids'
        # range is the data pipeline's (the tokenizer's ids), and a bad one stops the embedding's kernel instead.
        check_values = host_sync.reads_values(input_ids)
        if input_ids.numel() and check_values:
            low, high = torch.stack(torch.aminmax(input_ids)).tolist()
            if low < 0 or high >= config.vocab_size:
                bad = high if high >= config.vocab_size else low
                raise ValueError(f"token id {bad} is outside the vocabulary [0, vocab_size={config.vocab_size})")
        if document_ids is not None and (offset or document_ids.shape != input_ids.shape):
            raise ValueError(
                f"document_ids must have the shape of input_ids {tuple(input_ids.shape)} and no KV cache "
                f"(got {tuple(document_ids.shape)}, cached {offset}); packed documents are a training-time input"
            )
        # Without segment embeddings the ids are ignored: such an encoder tells a pair's texts apart by
        # the [SEP] between them alone, as RoBERTa-style encoders and ModernBERT do.
        if token_type_ids is not None and token_type_ids.numel() and check_values and config.type_vocab_size:
            high = int(token_type_ids.max())
            if high >= config.type_vocab_size:
                raise ValueError(
                    f"token_type_ids value {high} is outside [0, type_vocab_size={config.type_vocab_size})"
                )

    def _padding_is_invisible(self, attention_mask: Tensor, document_ids: Tensor | None, offset: int) -> bool:
        """A causal stack needs no padding mask for right-padded rows without a cache: no real query can see
        a later (pad) key, and pad positions' outputs are never used. Dropping the mask keeps SDPA on its
        fused causal path (measured ~3x faster than a materialised mask on CPU in bf16)."""
        if not self.causal or offset or document_ids is not None:
            return False
        return bool((attention_mask[:, 1:] <= attention_mask[:, :-1]).all())  # (B, T): 1...1 0...0 per row

    def _sliding_window_mask(
        self, mask: Tensor | None, is_causal: bool, T: int, offset: int, device: torch.device
    ) -> tuple[Tensor | None, bool]:
        """The local layers' mask: the global one restricted to the sliding window, as Hugging Face's
        ModernBERT (|i - j| <= local_window // 2) and ModernBERT-decoder (0 <= i - j < local_window // 2)
        define it, counted in sequence positions (query i sits at offset + i). When the window covers the
        whole sequence it changes nothing and the global mask (or SDPA's causal path) is kept."""
        window = self.config.local_window
        S = offset + T
        if window is None or S - 1 < window // 2 or (not self.causal and S - 1 <= window // 2):
            return mask, is_causal
        distance = torch.arange(offset, S, device=device)[:, None] - torch.arange(S, device=device)[None, :]  # (T, S)
        band = distance < window // 2 if self.causal else distance.abs() <= window // 2
        if mask is None:
            mask = torch.ones(1, 1, T, S, dtype=torch.bool, device=device)
            if is_causal:
                mask = mask.tril(diagonal=offset)
        return mask & band, False  # the band holds the diagonal: no query is left without a key

    def _self_attention_mask(
        self, attention_mask: Tensor | None, document_ids: Tensor | None, T: int, offset: int, device: torch.device
    ) -> tuple[Tensor | None, bool]:
        """Boolean mask (B or 1, 1, T, S), True = may attend; or None plus SDPA's causal flag.

        The common cases (no padding, no cache) use SDPA's built-in causal path, which never
        materialises a mask. Otherwise padding, causality and document boundaries are combined
        into one mask built once and shared by all layers.
        """
        if attention_mask is not None and attention_mask.dim() == 4:
            return attention_mask.bool(), False  # a full (B, 1, T, S) layout, used as given
        # Dropping a mask that hides nothing reads it: on the CPU only (host_sync). On a GPU the training modules
        # drop an all-ones mask on the host before the batch moves (PretrainingModule.on_before_batch_transfer).
        if attention_mask is not None and host_sync.reads_values(attention_mask) and (
            bool(attention_mask.all()) or self._padding_is_invisible(attention_mask, document_ids, offset)
        ):
            attention_mask = None
        if attention_mask is None and document_ids is None:
            if not self.causal or T == 1:
                return None, False
            if offset == 0:
                return None, True
        S = offset + T
        mask = torch.ones(1, 1, T, S, dtype=torch.bool, device=device)
        if self.causal:
            mask = mask.tril(diagonal=offset)  # query i sits at position offset + i
        if attention_mask is not None:
            mask = mask & attention_mask.bool()[:, None, None, :]
        if document_ids is not None:
            same_document = document_ids[:, :, None] == document_ids[:, None, :]  # (B, T, T)
            mask = mask & same_document[:, None]
        # A query whose keys are all padding would softmax over nothing (NaN); letting every
        # token see itself keeps padded rows finite without changing any real token's output.
        positions = torch.arange(S, device=device)
        diagonal = positions[None, :] == positions[offset:, None]  # (T, S): key j is query i itself
        return mask | diagonal, False
