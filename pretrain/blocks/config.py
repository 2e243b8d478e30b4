"""The one configuration every model in the suite is built from.

BERT and GPT differ only in the values below (norm placement, activation,
segment embeddings, ...), never in code: see configs/model/*.yaml for presets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "swiglu", "geglu")
NORMS = ("layernorm", "rmsnorm")
NORM_PLACEMENTS = ("pre", "post")
POSITIONS = ("learned", "sinusoidal", "rope")


@dataclass
class TransformerConfig:
    """Hyperparameters of a transformer stack and its embeddings.

    Defaults are the `tiny` preset used by tests; real sizes live in YAML.

    Args:
        vocab_size: embedding rows (linked from the tokenizer by the commands)
        max_positions: the longest sequence, in tokens
        d_model: model width
        n_layers: transformer blocks
        n_heads: attention heads (d_model must divide by it)
        d_ff: feed-forward hidden width
        activation: feed-forward activation: gelu (exact, BERT), gelu_tanh (GPT-2), relu, or a gated unit:
            swiglu (LLaMA) or geglu (ModernBERT; Shazeer 2020, arXiv:2002.05202)
        norm: layernorm or rmsnorm
        norm_eps: the norms' epsilon
        norm_placement: pre (GPT-2, stable at high learning rates) or post (BERT)
        position: learned, sinusoidal or rope positions
        rope_base: RoPE's frequency base (of the global-attention layers when the pattern has local ones)
        local_window: None for global attention in every layer; otherwise the width of the sliding window of
            the local layers (ModernBERT's `local_attention`, arXiv:2412.13663): an encoder's token sees
            the tokens within local_window // 2 on either side, a decoder's the local_window // 2 tokens
            ending at itself, as Hugging Face's ModernBERT and ModernBERT-decoder define them
        global_every: with a local_window, layer i attends globally when i % global_every == 0 and through
            the sliding window otherwise (ModernBERT: every third layer global, the first one included)
        local_rope_base: RoPE's base in the local layers (ModernBERT: 10,000 there, 160,000 in global ones)
        first_attention_norm: the first block normalises its attention input; ModernBERT leaves it out
            because the embedding norm right before it does the same
        type_vocab_size: segment (A/B) embeddings: 2 for BERT's sentence pairs, 0 for none
        embedding_norm: normalise the summed embeddings (BERT)
        final_norm: a norm after the last block (pre-norm stacks need it: GPT-2's ln_f)
        bias: biases in linear layers and norms
        dropout: dropout on the embeddings and on each residual branch (attention and feed-forward outputs)
        attention_dropout: dropout on attention probabilities
        tie_embeddings: the output projection shares the input embedding matrix
        head_transform: a causal LM's head applies dense -> activation -> norm and a vocabulary bias before the
            projection, as BERT's MLM head always does and ModernBERT-decoder's LM head does (so the two
            families' heads are built alike in the matched layout); False is GPT-2's bare projection
        initializer_range: standard deviation of the normal weight init
        pad_token_id: the padding token's id
    """

    vocab_size: int = 1024
    max_positions: int = 128
    d_model: int = 32
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 128
    activation: Literal["gelu", "gelu_tanh", "relu", "swiglu", "geglu"] = "gelu"
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    norm_eps: float = 1e-5
    norm_placement: Literal["pre", "post"] = "pre"
    position: Literal["learned", "sinusoidal", "rope"] = "learned"
    rope_base: float = 10000.0
    local_window: int | None = None
    global_every: int = 1
    local_rope_base: float = 10000.0
    first_attention_norm: bool = True
    type_vocab_size: int = 0
    embedding_norm: bool = False
    final_norm: bool = True
    bias: bool = True
    dropout: float = 0.1
    attention_dropout: float = 0.1
    tie_embeddings: bool = True
    head_transform: bool = False
    initializer_range: float = 0.02
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_positions", "d_model", "n_layers", "n_heads", "d_ff"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be a positive integer")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("norm_placement", self.norm_placement, NORM_PLACEMENTS)
        _check_choice("position", self.position, POSITIONS)
        if self.position == "rope" and self.head_dim % 2:
            raise ValueError(f"position='rope' needs an even head dim, got d_model/n_heads={self.head_dim}")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}={getattr(self, name)} must be in [0, 1)")
        if self.type_vocab_size < 0:
            raise ValueError(f"type_vocab_size={self.type_vocab_size} must be >= 0")
        if self.local_window is not None and self.local_window < 2:
            raise ValueError(f"local_window={self.local_window} must be >= 2 (or null for global attention only)")
        if not self.first_attention_norm and (self.norm_placement != "pre" or not self.embedding_norm):
            raise ValueError(
                "first_attention_norm=False needs norm_placement='pre' and embedding_norm=True "
                "(the embedding norm then normalises the first block's input)"
            )
        if self.global_every < 1:
            raise ValueError(f"global_every={self.global_every} must be >= 1 (1: every layer global)")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id={self.pad_token_id} must be in [0, vocab_size={self.vocab_size})")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def gated(self) -> bool:
        """The feed-forward is a gated linear unit: its input projection is 2 * d_ff wide."""
        return self.activation in ("swiglu", "geglu")

    def is_local(self, layer: int) -> bool:
        """Layer `layer` attends through the sliding window (see local_window, global_every)."""
        return self.local_window is not None and layer % self.global_every != 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_yaml(cls, path: str | Path) -> TransformerConfig:
        """Read a preset (configs/model/*.yaml: a plain mapping of field names), naming the file on error."""
        data = yaml.safe_load(Path(path).read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of TransformerConfig fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {unknown}; TransformerConfig fields are {sorted(known)}")
        try:
            return cls(**data)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: {error}") from error


def _check_choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{field}={value!r} is not supported; choose one of {', '.join(allowed)}")
