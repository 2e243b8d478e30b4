"""BERT <-> transformers.BertForPreTraining.

HF's BERT (arXiv:1810.04805) is our post-LN encoder with embedding LayerNorm and no final
norm; the one structural difference is that HF keeps separate query/key/value projections
where ours are fused into `qkv_proj` (one matmul), so they are concatenated/split here.
"""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForPreTraining

from pretrain.blocks.config import TransformerConfig
from pretrain.hf.state import Rename, check_layout, load_exactly, parameter_dtype, renamed
from pretrain.models.bert import BertModel

# HF activation names (transformers.activations.ACT2FN) that equal one of ours.
_FROM_HF_ACTIVATION = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
_TO_HF_ACTIVATION = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "relu": "relu"}


def bert_config_from_hf(hf: BertConfig) -> TransformerConfig:
    """Our TransformerConfig for an HF BertConfig; ValueError for what our blocks cannot express."""
    act = hf.hidden_act
    if not isinstance(act, str) or act not in _FROM_HF_ACTIVATION:
        raise ValueError(f"BertConfig.hidden_act={act!r} is not supported; choose one of {sorted(_FROM_HF_ACTIVATION)}")
    position = getattr(hf, "position_embedding_type", "absolute")
    if position != "absolute":
        raise ValueError(f"BertConfig.position_embedding_type={position!r} is not supported; only 'absolute'")
    if hf.is_decoder or hf.add_cross_attention:
        raise ValueError("BertConfig with is_decoder/add_cross_attention is not a BERT encoder; convert an encoder")
    return TransformerConfig(
        vocab_size=hf.vocab_size, max_positions=hf.max_position_embeddings, d_model=hf.hidden_size,
        n_layers=hf.num_hidden_layers, n_heads=hf.num_attention_heads, d_ff=hf.intermediate_size,
        activation=_FROM_HF_ACTIVATION[act], norm="layernorm", norm_eps=hf.layer_norm_eps, norm_placement="post",
        position="learned", type_vocab_size=hf.type_vocab_size, embedding_norm=True, final_norm=False, bias=True,
        dropout=float(hf.hidden_dropout_prob), attention_dropout=float(hf.attention_probs_dropout_prob),
        tie_embeddings=bool(hf.tie_word_embeddings), initializer_range=hf.initializer_range,
        pad_token_id=hf.pad_token_id if hf.pad_token_id is not None else 0,
    )


def bert_config_to_hf(config: TransformerConfig) -> BertConfig:
    """The BertConfig of the same architecture; ValueError where HF's BERT differs from ours."""
    expected = {
        "norm": "layernorm", "norm_placement": "post", "position": "learned",
        "embedding_norm": True, "final_norm": False, "bias": True,
    }
    check_layout(config, expected, _TO_HF_ACTIVATION, "BertModel", "HF BERT")
    return BertConfig(
        vocab_size=config.vocab_size, hidden_size=config.d_model, num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads, intermediate_size=config.d_ff,
        hidden_act=_TO_HF_ACTIVATION[config.activation], hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.attention_dropout, max_position_embeddings=config.max_positions,
        # HF always has a segment table; a model without segments maps to one all-zero row.
        type_vocab_size=max(config.type_vocab_size, 1), initializer_range=config.initializer_range,
        layer_norm_eps=config.norm_eps, pad_token_id=config.pad_token_id, tie_word_embeddings=config.tie_embeddings,
    )


def _renames(n_layers: int) -> list[Rename]:
    pairs = [
        ("encoder.embeddings.tokens.weight", "bert.embeddings.word_embeddings.weight"),
        ("encoder.embeddings.positions.weight", "bert.embeddings.position_embeddings.weight"),
        ("encoder.embeddings.norm.weight", "bert.embeddings.LayerNorm.weight"),
        ("encoder.embeddings.norm.bias", "bert.embeddings.LayerNorm.bias"),
        ("pooler.dense.weight", "bert.pooler.dense.weight"),
        ("pooler.dense.bias", "bert.pooler.dense.bias"),
        ("mlm_head.dense.weight", "cls.predictions.transform.dense.weight"),
        ("mlm_head.dense.bias", "cls.predictions.transform.dense.bias"),
        ("mlm_head.norm.weight", "cls.predictions.transform.LayerNorm.weight"),
        ("mlm_head.norm.bias", "cls.predictions.transform.LayerNorm.bias"),
        ("mlm_head.decoder.weight", "cls.predictions.decoder.weight"),
        ("mlm_head.bias", "cls.predictions.bias"),
        ("nsp_head.weight", "cls.seq_relationship.weight"),
        ("nsp_head.bias", "cls.seq_relationship.bias"),
    ]
    for i in range(n_layers):
        ours, theirs = f"encoder.blocks.{i}", f"bert.encoder.layer.{i}"
        # Post-LN: our attn_norm/ffn_norm follow each residual, where HF's two output LayerNorms sit.
        for o, t in (
            ("attn.out_proj", "attention.output.dense"), ("attn_norm", "attention.output.LayerNorm"),
            ("ffn.fc_in", "intermediate.dense"), ("ffn.fc_out", "output.dense"), ("ffn_norm", "output.LayerNorm"),
        ):
            pairs += [(f"{ours}.{o}.weight", f"{theirs}.{t}.weight"), (f"{ours}.{o}.bias", f"{theirs}.{t}.bias")]
    return [Rename(o, t) for o, t in pairs]


def bert_from_hf(hf_model: BertForPreTraining) -> BertModel:
    """Our BertModel with the weights of `hf_model` (same dtype and train/eval mode)."""
    config = bert_config_from_hf(hf_model.config)
    theirs = hf_model.state_dict()
    state = renamed(theirs, _renames(config.n_layers), to_ours=True)
    state["encoder.embeddings.segments.weight"] = theirs["bert.embeddings.token_type_embeddings.weight"]
    for i in range(config.n_layers):
        prefix = f"bert.encoder.layer.{i}.attention.self"
        for kind in ("weight", "bias"):
            state[f"encoder.blocks.{i}.attn.qkv_proj.{kind}"] = torch.cat(
                [theirs[f"{prefix}.{name}.{kind}"] for name in ("query", "key", "value")], dim=0
            )  # (3D, D) / (3D,): q, k, v in the order our chunk(3) splits them
    model = BertModel(config)
    load_exactly(model, state)
    return model.to(parameter_dtype(hf_model)).train(hf_model.training)


def bert_to_hf(model: BertModel) -> BertForPreTraining:
    """transformers.BertForPreTraining with our weights (same dtype and train/eval mode)."""
    config = model.config
    hf_config = bert_config_to_hf(config)  # validates before any copying
    ours = model.state_dict()
    renames = [r for r in _renames(config.n_layers) if model.nsp or not r.ours.startswith(("pooler.", "nsp_head."))]
    state = renamed(ours, renames, to_ours=False)
    state["cls.predictions.decoder.bias"] = ours["mlm_head.bias"]  # HF ties it to cls.predictions.bias
    if config.type_vocab_size:
        state["bert.embeddings.token_type_embeddings.weight"] = ours["encoder.embeddings.segments.weight"]
    else:
        state["bert.embeddings.token_type_embeddings.weight"] = ours["encoder.embeddings.tokens.weight"].new_zeros(
            1, config.d_model
        )
    for i in range(config.n_layers):
        prefix = f"bert.encoder.layer.{i}.attention.self"
        for kind in ("weight", "bias"):
            q, k, v = ours[f"encoder.blocks.{i}.attn.qkv_proj.{kind}"].chunk(3, dim=0)
            state.update({f"{prefix}.query.{kind}": q, f"{prefix}.key.{kind}": k, f"{prefix}.value.{kind}": v})
    hf_model = BertForPreTraining(hf_config)
    if not model.nsp:  # pretrained without NSP: the pooler and NSP classifier keep Hugging Face's initialisation
        nsp = {rename.theirs for rename in _renames(0) if rename.ours.startswith(("pooler.", "nsp_head."))}
        state.update({name: tensor for name, tensor in hf_model.state_dict().items() if name in nsp})
    load_exactly(hf_model, state)
    return hf_model.to(parameter_dtype(model)).train(model.training)
