"""The matched layout <-> transformers' ModernBertForMaskedLM (BERT) and ModernBertDecoderForCausalLM (GPT).

ModernBERT (Warner et al. 2024, arXiv:2412.13663) and its decoder twin, the layout of Ettin's paired
encoders and decoders (Weller et al. 2025, arXiv:2507.11412), are our pre-LN stack with GeGLU,
bias-free linear layers and norms, an embedding norm that stands in for the first block's attention
norm, a final norm, rotary positions with one base for global and one for sliding-window layers
(every `global_every`-th layer global), and a dense -> GELU -> norm head before the tied vocabulary
projection with a bias. The encoder's q/k/v are fused in one `Wqkv` in our order; the decoder's are
three matrices, concatenated/split here. Our BERT's NSP pooler and classifier have no place in
ModernBertForMaskedLM: `to_hf` leaves them out and `from_hf` keeps them at their initialisation.
"""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import (
    ModernBertConfig,
    ModernBertDecoderConfig,
    ModernBertDecoderForCausalLM,
    ModernBertForMaskedLM,
)

from pretrain.blocks.config import TransformerConfig
from pretrain.hf.state import Rename, check_layout, load_exactly, parameter_dtype, renamed
from pretrain.models.bert import BertModel
from pretrain.models.gpt import GptModel

HfConfig = ModernBertConfig | ModernBertDecoderConfig
HfModel = ModernBertForMaskedLM | ModernBertDecoderForCausalLM
# Our parameters with no ModernBERT counterpart: BERT's next-sentence pooler and classifier.
_NSP_PARAMETERS = ("pooler.dense.weight", "pooler.dense.bias", "nsp_head.weight", "nsp_head.bias")
_LAYOUT = {
    "norm": "layernorm", "norm_placement": "pre", "position": "rope", "type_vocab_size": 0,
    "embedding_norm": True, "final_norm": True, "first_attention_norm": False,
}


def _layer_types(config: TransformerConfig) -> list[str]:
    return ["sliding_attention" if config.is_local(i) else "full_attention" for i in range(config.n_layers)]


def _global_every(layer_types: list[str]) -> int:
    """Our `global_every` for HF's per-layer list, which must follow ModernBERT's pattern (layer 0 global)."""
    later_global = [i for i, kind in enumerate(layer_types) if kind == "full_attention" and i]
    every = later_global[0] if later_global else max(len(layer_types), 1)
    expected = ["sliding_attention" if i % every else "full_attention" for i in range(len(layer_types))]
    if layer_types != expected:
        raise ValueError(
            f"layer_types={layer_types} is not an every-k-th-layer-global pattern starting at layer 0; "
            "our stacks express only that pattern (global_every)"
        )
    return every


def config_from_hf(hf: HfConfig) -> TransformerConfig:
    """Our TransformerConfig for an HF ModernBert(Decoder)Config; ValueError for what our blocks cannot express."""
    name = type(hf).__name__
    for field in ("hidden_activation", "classifier_activation"):
        if getattr(hf, field) != "gelu":
            raise ValueError(f"{name}.{field}={getattr(hf, field)!r} is not supported; our GeGLU and head use 'gelu'")
    biases = {field: bool(getattr(hf, field)) for field in ("norm_bias", "attention_bias", "mlp_bias",
                                                            "classifier_bias")}
    if len(set(biases.values())) > 1:
        raise ValueError(f"{name} mixes biases {biases}; our config has one `bias` for every linear layer and norm")
    if not hf.decoder_bias:
        raise ValueError(f"{name}.decoder_bias=False is not supported; our vocabulary projection has a bias")
    if hf.embedding_dropout != hf.mlp_dropout:
        raise ValueError(
            f"{name}.embedding_dropout={hf.embedding_dropout} differs from mlp_dropout={hf.mlp_dropout}; "
            "our config has one `dropout`: set both to the same value before converting"
        )
    for kind, parameters in hf.rope_parameters.items():
        if parameters.get("rope_type", "default") != "default":
            raise ValueError(f"{name}.rope_parameters[{kind!r}] is {parameters}; only default rotary is supported")
    layer_types = list(hf.layer_types)
    has_local = "sliding_attention" in layer_types
    return TransformerConfig(
        vocab_size=hf.vocab_size, max_positions=hf.max_position_embeddings, d_model=hf.hidden_size,
        n_layers=hf.num_hidden_layers, n_heads=hf.num_attention_heads, d_ff=hf.intermediate_size,
        activation="geglu", norm="layernorm", norm_eps=hf.norm_eps, norm_placement="pre", position="rope",
        rope_base=float(hf.rope_parameters["full_attention"]["rope_theta"]),
        local_window=hf.local_attention if has_local else None,
        global_every=_global_every(layer_types) if has_local else 1,
        local_rope_base=float(hf.rope_parameters.get("sliding_attention", {}).get("rope_theta", 10000.0)),
        first_attention_norm=False, type_vocab_size=0, embedding_norm=True, final_norm=True,
        bias=biases["norm_bias"], dropout=float(hf.embedding_dropout), attention_dropout=float(hf.attention_dropout),
        tie_embeddings=bool(hf.tie_word_embeddings), head_transform=True, initializer_range=hf.initializer_range,
        pad_token_id=hf.pad_token_id if hf.pad_token_id is not None and hf.pad_token_id < hf.vocab_size else 0,
    )


def config_to_hf(config: TransformerConfig, *, causal: bool) -> HfConfig:
    """The ModernBertConfig (encoder) or ModernBertDecoderConfig (causal) of our config; ValueError where
    ModernBERT's layout differs from ours."""
    model = "GptModel" if causal else "BertModel"
    expected = dict(_LAYOUT, head_transform=True) if causal else _LAYOUT
    check_layout(config, expected, {"geglu": "gelu"}, model, "ModernBERT")
    has_local = config.local_window is not None and any(config.is_local(i) for i in range(config.n_layers))
    rope = {"full_attention": {"rope_type": "default", "rope_theta": config.rope_base},
            "sliding_attention": {"rope_type": "default", "rope_theta": config.local_rope_base}}
    kwargs = dict(
        vocab_size=config.vocab_size, hidden_size=config.d_model, intermediate_size=config.d_ff,
        num_hidden_layers=config.n_layers, num_attention_heads=config.n_heads, hidden_activation="gelu",
        max_position_embeddings=config.max_positions, initializer_range=config.initializer_range,
        norm_eps=config.norm_eps, norm_bias=config.bias, attention_bias=config.bias, mlp_bias=config.bias,
        classifier_bias=config.bias, classifier_activation="gelu", decoder_bias=True,
        attention_dropout=config.attention_dropout, embedding_dropout=config.dropout, mlp_dropout=config.dropout,
        layer_types=_layer_types(config), rope_parameters=rope, tie_word_embeddings=config.tie_embeddings,
        pad_token_id=config.pad_token_id,
    )
    # ModernBERT's default special ids (50281...) mean nothing in another vocabulary: the pad id stands in
    # (the decoder's config types them as ints) until the exporter sets them from the tokenizer.
    kwargs.update({f"{name}_token_id": config.pad_token_id for name in ("bos", "eos", "cls", "sep")})
    if causal:
        return ModernBertDecoderConfig(local_attention=config.local_window if has_local else None, **kwargs)
    return ModernBertConfig(local_attention=config.local_window or config.max_positions, **kwargs)


def _renames(config: TransformerConfig, *, causal: bool) -> list[Rename]:
    body, owner = ("decoder", "lm_head") if causal else ("encoder", "mlm_head")
    head = f"{owner}.transform" if causal else owner  # where the dense -> GELU -> norm transform lives
    kinds = ("weight", "bias") if config.bias else ("weight",)
    pairs = [
        (f"{body}.embeddings.tokens.weight", "model.embeddings.tok_embeddings.weight"),
        (f"{owner}.decoder.weight", "decoder.weight"),
        (f"{owner}.bias", "decoder.bias"),
    ]
    modules = [(f"{body}.embeddings.norm", "model.embeddings.norm"), (f"{body}.final_norm", "model.final_norm"),
               (f"{head}.dense", "lm_head.dense" if causal else "head.dense"),
               (f"{head}.norm", "lm_head.norm" if causal else "head.norm")]
    for i in range(config.n_layers):
        ours, theirs = f"{body}.blocks.{i}", f"model.layers.{i}"
        modules += [(f"{ours}.attn.out_proj", f"{theirs}.attn.Wo"), (f"{ours}.ffn_norm", f"{theirs}.mlp_norm"),
                    (f"{ours}.ffn.fc_in", f"{theirs}.mlp.Wi"), (f"{ours}.ffn.fc_out", f"{theirs}.mlp.Wo")]
        if i:  # the first block has no attention norm (see first_attention_norm)
            modules.append((f"{ours}.attn_norm", f"{theirs}.attn_norm"))
        if not causal:
            modules.append((f"{ours}.attn.qkv_proj", f"{theirs}.attn.Wqkv"))
    pairs += [(f"{o}.{kind}", f"{t}.{kind}") for o, t in modules for kind in kinds]
    return [Rename(o, t) for o, t in pairs]


def _decoder_qkv(config: TransformerConfig) -> list[tuple[str, list[str]]]:
    """Our fused qkv_proj parameter and the decoder's three (q, k, v), per layer and kind."""
    kinds = ("weight", "bias") if config.bias else ("weight",)
    return [(f"decoder.blocks.{i}.attn.qkv_proj.{kind}",
             [f"model.layers.{i}.attn.{name}_proj.{kind}" for name in ("q", "k", "v")])
            for i in range(config.n_layers) for kind in kinds]


def modernbert_from_hf(hf_model: HfModel) -> BertModel | GptModel:
    """Our BertModel (from ModernBertForMaskedLM) or GptModel (from ModernBertDecoderForCausalLM) with the
    weights of `hf_model` (same dtype and train/eval mode)."""
    causal = isinstance(hf_model, ModernBertDecoderForCausalLM)
    config = config_from_hf(hf_model.config)
    theirs = hf_model.state_dict()
    state = renamed(theirs, _renames(config, causal=causal), to_ours=True)
    model: BertModel | GptModel
    if causal:
        for fused, parts in _decoder_qkv(config):
            state[fused] = torch.cat([theirs[p] for p in parts], dim=0)  # (3D, D): q, k, v as our chunk(3) splits
        model = GptModel(config)
    else:
        model = BertModel(config)
        state.update({name: tensor for name, tensor in model.state_dict().items() if name in _NSP_PARAMETERS})
    load_exactly(model, state)
    return model.to(parameter_dtype(hf_model)).train(hf_model.training)


def modernbert_to_hf(model: BertModel | GptModel) -> HfModel:
    """ModernBertForMaskedLM (our BertModel) or ModernBertDecoderForCausalLM (our GptModel) with our weights
    (same dtype and train/eval mode)."""
    causal = isinstance(model, GptModel)
    config = model.config
    hf_config = config_to_hf(config, causal=causal)  # validates before any copying
    ours: dict[str, Tensor] = model.state_dict()
    state = renamed(ours, _renames(config, causal=causal), to_ours=False)
    if causal:
        for fused, parts in _decoder_qkv(config):
            state.update(zip(parts, ours[fused].chunk(3, dim=0)))
    hf_model = (ModernBertDecoderForCausalLM if causal else ModernBertForMaskedLM)(hf_config)
    load_exactly(hf_model, state)
    return hf_model.to(parameter_dtype(model)).train(model.training)


def is_modernbert_layout(config: TransformerConfig) -> bool:
    """Our config has ModernBERT's fixed layout (what to_hf dispatches on: matched presets convert here)."""
    return all(getattr(config, field) == value for field, value in _LAYOUT.items()) and config.activation == "geglu"
