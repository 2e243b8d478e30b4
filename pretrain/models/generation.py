"""Decoding with a KV cache: greedy, sampling (temperature, top-k, top-p) and beam search.

Model-agnostic: a model supplies `step(tokens) -> logits of the last position`, which feeds
the new tokens through the network and appends their keys/values to the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pretrain.blocks.kv_cache import KVCache

StepFn = Callable[[Tensor], Tensor]  # (B, T_new) -> (B, V)
ReorderFn = Callable[[Tensor], None]


@dataclass
class GenerationConfig:
    max_new_tokens: int = 32
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0  # 0 = no top-k filter
    top_p: float = 1.0  # nucleus sampling (Holtzman et al. 2019, arXiv:1904.09751); 1.0 = off
    num_beams: int = 1
    length_penalty: float = 1.0  # final beam score = log p / length ** length_penalty
    # Never generate an n-gram of this size twice (0 = off): trigram blocking, Paulus et al. 2018
    # (arXiv:1705.04304), against the loops small models fall into. Counted over the generated tokens
    # only, so copying from the prompt stays allowed.
    no_repeat_ngram_size: int = 0
    eos_token_id: int | None = None
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={self.max_new_tokens} must be >= 1")
        if self.temperature <= 0:
            raise ValueError(f"temperature={self.temperature} must be > 0")
        if self.top_k < 0:
            raise ValueError(f"top_k={self.top_k} must be >= 0 (0 disables it)")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p={self.top_p} must be in (0, 1]")
        if self.num_beams < 1:
            raise ValueError(f"num_beams={self.num_beams} must be >= 1")
        if self.no_repeat_ngram_size < 0:
            raise ValueError(f"no_repeat_ngram_size={self.no_repeat_ngram_size} must be >= 0 (0 disables it)")
        if self.num_beams > 1 and self.do_sample:
            raise ValueError("num_beams > 1 is beam search; set do_sample=False or num_beams=1")


def generate(
    step: StepFn, input_ids: Tensor, cache: KVCache, config: GenerationConfig,
    generator: torch.Generator | None = None, on_reorder: ReorderFn | None = None,
) -> Tensor:
    """Return the generated tokens (B, <= max_new_tokens), `pad_token_id` after EOS."""
    if config.num_beams > 1:
        return _beam_search(step, input_ids, cache, config, on_reorder)
    logits = step(input_ids)  # prefill the cache with the whole prompt
    finished = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    tokens: list[Tensor] = []
    for i in range(config.max_new_tokens):
        if tokens:
            logits = ban_repeated_ngrams(logits, torch.stack(tokens, dim=1), config.no_repeat_ngram_size)
        next_token = _choose(logits, config, generator).masked_fill(finished, config.pad_token_id)  # (B,)
        tokens.append(next_token)
        if config.eos_token_id is not None:
            finished |= next_token == config.eos_token_id
        if bool(finished.all()) or i == config.max_new_tokens - 1:
            break
        logits = step(next_token[:, None])
    return torch.stack(tokens, dim=1)


def ban_repeated_ngrams(logits: Tensor, generated: Tensor, n: int) -> Tensor:
    """logits (B, V) with -inf at every token that would complete an n-gram already in `generated` (B, L)."""
    length = generated.shape[1]
    if n < 1 or length < n - 1 or length == 0:
        return logits
    logits = logits.clone()
    for row, history in enumerate(generated.tolist()):
        prefix = history[length - n + 1:] if n > 1 else []
        banned = [history[i + n - 1] for i in range(length - n + 1) if history[i:i + n - 1] == prefix]
        if banned:
            logits[row, banned] = float("-inf")
    return logits


def _choose(logits: Tensor, config: GenerationConfig, generator: torch.Generator | None) -> Tensor:
    if not config.do_sample:
        return logits.argmax(dim=-1)
    logits = logits.float() / config.temperature
    if config.top_k:
        kth = logits.topk(min(config.top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if config.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Drop a token when the tokens ranked above it already hold top_p of the mass;
        # the most likely token is always kept.
        drop_sorted = probs.cumsum(dim=-1) - probs > config.top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def _beam_search(
    step: StepFn, input_ids: Tensor, cache: KVCache, config: GenerationConfig, on_reorder: ReorderFn | None
) -> Tensor:
    """Keep the K best partial hypotheses per example by summed log-probability.

    Finished hypotheses keep their slot and score (extended by padding at no cost); decoding
    stops once no live hypothesis can beat the best finished one; the best one by
    length-normalised score is returned.
    """
    B, K = input_ids.shape[0], config.num_beams
    device = input_ids.device
    logprobs = step(input_ids).float().log_softmax(dim=-1)  # (B, V)
    V = logprobs.shape[-1]
    expand = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,)
    _reorder(cache, on_reorder, expand)
    logprobs = logprobs[expand]  # (B*K, V)
    # Only beam 0 is live at the start, so the first step does not pick K copies of one token.
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0
    sequences = torch.empty(B, K, 0, dtype=torch.long, device=device)
    finished = torch.zeros(B, K, dtype=torch.bool, device=device)
    lengths = torch.zeros(B, K, device=device)
    for i in range(config.max_new_tokens):
        logprobs = ban_repeated_ngrams(logprobs.view(B * K, V), sequences.reshape(B * K, sequences.shape[-1]),
                                      config.no_repeat_ngram_size).view(B, K, V)
        frozen = torch.full((V,), float("-inf"), device=device)
        frozen[config.pad_token_id] = 0.0
        logprobs = torch.where(finished[..., None], frozen, logprobs)
        candidates = (scores[..., None] + logprobs).view(B, K * V)
        scores, flat = candidates.topk(K, dim=-1)  # (B, K)
        beam, token = flat // V, flat % V
        sequences = torch.cat((sequences.gather(1, beam[..., None].expand(-1, -1, sequences.shape[-1])),
                               token[..., None]), dim=-1)
        was_finished = finished.gather(1, beam)
        lengths = lengths.gather(1, beam) + (~was_finished).float()
        finished = was_finished | (token == config.eos_token_id if config.eos_token_id is not None else False)
        if i == config.max_new_tokens - 1 or _beams_settled(scores, lengths, finished, config):
            break
        _reorder(cache, on_reorder, (torch.arange(B, device=device)[:, None] * K + beam).view(-1))
        logprobs = step(token.view(B * K, 1)).float().log_softmax(dim=-1)
    best = (scores / lengths.clamp(min=1) ** config.length_penalty).argmax(dim=-1)  # (B,)
    return sequences[torch.arange(B, device=device), best]


def _beams_settled(scores: Tensor, lengths: Tensor, finished: Tensor, config: GenerationConfig) -> bool:
    """True when no live hypothesis can still beat the best finished one, for every example.

    A live beam's summed log-probability only falls, so with length_penalty >= 0 its final
    normalised score is at most score / max_new_tokens ** length_penalty (the bound Hugging Face
    uses); with a negative penalty we wait until every beam has finished.
    """
    if bool(finished.all()):
        return True
    if config.length_penalty < 0 or not bool(finished.any(dim=1).all()):
        return False
    best_finished = (scores / lengths.clamp(min=1) ** config.length_penalty).masked_fill(~finished, float("-inf"))
    live_bound = (scores / config.max_new_tokens ** config.length_penalty).masked_fill(finished, float("-inf"))
    return bool((best_finished.max(dim=1).values >= live_bound.max(dim=1).values).all())


def _reorder(cache: KVCache, on_reorder: ReorderFn | None, index: Tensor) -> None:
    cache.reorder(index)
    if on_reorder is not None:
        on_reorder(index)
