"""GPT <-> transformers.GPT2LMHeadModel.

HF's GPT-2 (Radford et al. 2019) is our pre-LN decoder with a final norm (ln_f) and no
embedding norm. Its projections are `Conv1D` modules whose weights are stored (in, out),
the transpose of nn.Linear's (out, in); its fused c_attn splits q, k, v in our order.
"""

from __future__ import annotations

from transformers import GPT2Config, GPT2LMHeadModel

from pretrain.blocks.config import TransformerConfig
from pretrain.hf.state import Rename, check_layout, load_exactly, parameter_dtype, renamed
from pretrain.models.gpt import GptModel

_FROM_HF_ACTIVATION = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu"}
# GPT-2's own name for the tanh approximation, so a round trip keeps the original config.
_TO_HF_ACTIVATION = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}


def gpt2_config_from_hf(hf: GPT2Config) -> TransformerConfig:
    """Our TransformerConfig for an HF GPT2Config; ValueError for what our blocks cannot express."""
    act = hf.activation_function
    if act not in _FROM_HF_ACTIVATION:
        raise ValueError(
            f"GPT2Config.activation_function={act!r} is not supported; choose one of {sorted(_FROM_HF_ACTIVATION)}"
        )
    unsupported = {"scale_attn_weights": (hf.scale_attn_weights, True),
                   "scale_attn_by_inverse_layer_idx": (hf.scale_attn_by_inverse_layer_idx, False),
                   "add_cross_attention": (hf.add_cross_attention, False)}
    for field, (value, needed) in unsupported.items():
        if bool(value) != needed:
            raise ValueError(f"GPT2Config.{field}={value!r} is not supported; our attention needs {needed}")
    if not hf.resid_pdrop == hf.embd_pdrop:
        # One dropout rate serves embeddings and residuals in our blocks.
        raise ValueError(
            f"GPT2Config.embd_pdrop={hf.embd_pdrop} differs from resid_pdrop={hf.resid_pdrop}; "
            "our config has one `dropout`: set both to the same value before converting"
        )
    return TransformerConfig(
        vocab_size=hf.vocab_size, max_positions=hf.n_positions, d_model=hf.n_embd, n_layers=hf.n_layer,
        n_heads=hf.n_head, d_ff=hf.n_inner if hf.n_inner is not None else 4 * hf.n_embd,
        activation=_FROM_HF_ACTIVATION[act], norm="layernorm", norm_eps=hf.layer_norm_epsilon, norm_placement="pre",
        position="learned", type_vocab_size=0, embedding_norm=False, final_norm=True, bias=True,
        dropout=float(hf.resid_pdrop), attention_dropout=float(hf.attn_pdrop),
        tie_embeddings=bool(hf.tie_word_embeddings), initializer_range=hf.initializer_range,
        pad_token_id=hf.pad_token_id if hf.pad_token_id is not None and hf.pad_token_id < hf.vocab_size else 0,
    )


def gpt2_config_to_hf(config: TransformerConfig) -> GPT2Config:
    """The GPT2Config of the same architecture; ValueError where HF's GPT-2 differs from ours."""
    expected = {
        "norm": "layernorm", "norm_placement": "pre", "position": "learned", "type_vocab_size": 0,
        "embedding_norm": False, "final_norm": True, "bias": True,
    }
    check_layout(config, expected, _TO_HF_ACTIVATION, "GptModel", "HF GPT-2")
    return GPT2Config(
        vocab_size=config.vocab_size, n_positions=config.max_positions, n_embd=config.d_model,
        n_layer=config.n_layers, n_head=config.n_heads, n_inner=config.d_ff,
        activation_function=_TO_HF_ACTIVATION[config.activation], resid_pdrop=config.dropout,
        embd_pdrop=config.dropout, attn_pdrop=config.attention_dropout, layer_norm_epsilon=config.norm_eps,
        initializer_range=config.initializer_range, tie_word_embeddings=config.tie_embeddings,
        # GPT-2's default BOS/EOS id 50256 is meaningless in another vocabulary.
        bos_token_id=None, eos_token_id=None, pad_token_id=config.pad_token_id,
    )


def _renames(n_layers: int) -> list[Rename]:
    renames = [
        Rename("decoder.embeddings.tokens.weight", "transformer.wte.weight"),
        Rename("decoder.embeddings.positions.weight", "transformer.wpe.weight"),
        Rename("decoder.final_norm.weight", "transformer.ln_f.weight"),
        Rename("decoder.final_norm.bias", "transformer.ln_f.bias"),
        Rename("lm_head.decoder.weight", "lm_head.weight"),
    ]
    for i in range(n_layers):
        ours, theirs = f"decoder.blocks.{i}", f"transformer.h.{i}"
        for o, t, conv in (
            ("attn_norm", "ln_1", False), ("attn.qkv_proj", "attn.c_attn", True),
            ("attn.out_proj", "attn.c_proj", True),
            ("ffn_norm", "ln_2", False), ("ffn.fc_in", "mlp.c_fc", True), ("ffn.fc_out", "mlp.c_proj", True),
        ):
            renames += [Rename(f"{ours}.{o}.weight", f"{theirs}.{t}.weight", transpose=conv),
                        Rename(f"{ours}.{o}.bias", f"{theirs}.{t}.bias")]
    return renames


def gpt2_from_hf(hf_model: GPT2LMHeadModel) -> GptModel:
    """Our GptModel with the weights of `hf_model` (same dtype and train/eval mode)."""
    config = gpt2_config_from_hf(hf_model.config)
    model = GptModel(config)
    load_exactly(model, renamed(hf_model.state_dict(), _renames(config.n_layers), to_ours=True))
    return model.to(parameter_dtype(hf_model)).train(hf_model.training)


def gpt2_to_hf(model: GptModel) -> GPT2LMHeadModel:
    """transformers.GPT2LMHeadModel with our weights (same dtype and train/eval mode)."""
    hf_model = GPT2LMHeadModel(gpt2_config_to_hf(model.config))
    load_exactly(hf_model, renamed(model.state_dict(), _renames(model.config.n_layers), to_ours=False))
    return hf_model.to(parameter_dtype(model)).train(model.training)
