"""The one configuration every model in the suite is built from.

BERT and GPT differ only in the values below (norm placement, activation,
segment embeddings, ...), never in code: see configs/model/*.yaml for presets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "swiglu")
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
        activation: feed-forward activation: gelu (exact, BERT), gelu_tanh (GPT-2), relu, swiglu
        norm: layernorm or rmsnorm
        norm_eps: the norms' epsilon
        norm_placement: pre (GPT-2, stable at high learning rates) or post (BERT)
        position: learned, sinusoidal or rope positions
        rope_base: RoPE's frequency base
        type_vocab_size: segment (A/B) embeddings: 2 for BERT's sentence pairs, 0 for none
        embedding_norm: normalise the summed embeddings (BERT)
        final_norm: a norm after the last block (pre-norm stacks need it: GPT-2's ln_f)
        bias: biases in linear layers and norms
        dropout: dropout on the embeddings and on each residual branch (attention and feed-forward outputs)
        attention_dropout: dropout on attention probabilities
        tie_embeddings: the output projection shares the input embedding matrix
        initializer_range: standard deviation of the normal weight init
        pad_token_id: the padding token's id
    """

    vocab_size: int = 1024
    max_positions: int = 128
    d_model: int = 32
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 128
    activation: Literal["gelu", "gelu_tanh", "relu", "swiglu"] = "gelu"
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    norm_eps: float = 1e-5
    norm_placement: Literal["pre", "post"] = "pre"
    position: Literal["learned", "sinusoidal", "rope"] = "learned"
    rope_base: float = 10000.0
    type_vocab_size: int = 0
    embedding_norm: bool = False
    final_norm: bool = True
    bias: bool = True
    dropout: float = 0.1
    attention_dropout: float = 0.1
    tie_embeddings: bool = True
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
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id={self.pad_token_id} must be in [0, vocab_size={self.vocab_size})")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

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
