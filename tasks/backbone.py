"""Where a fine-tuning run starts: a suite checkpoint made by `pretrain`, or a local Hugging Face model.

    load_backbone("runs/bert/checkpoints/last.ckpt")   # suite checkpoint (pretrain.lightning.load_backbone)
    load_backbone("hf:/models/bert-tiny")              # a directory holding a transformers BertForPreTraining
                                                       # or GPT2LMHeadModel + its tokenizer (from_pretrained)

Both give a `Backbone`: family ("bert" | "gpt"), the plain nn.Module, its TransformerConfig and the
tokenizer the model was trained with, so every task runs for both families from either source.
`random_weights(backbone)` keeps the architecture and tokenizer but not the weights: the control
that measures what pretraining adds.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from transformers import PreTrainedTokenizerBase

from pretrain.blocks.config import TransformerConfig

FAMILIES = ("bert", "gpt")
HF_PREFIX = "hf:"
# transformers' `model_type` in config.json -> our family.
_HF_MODEL_TYPES = {"bert": "bert", "gpt2": "gpt"}


@dataclass
class Backbone:
    """Same fields as pretrain.lightning's Backbone, so either can be passed where one is expected."""

    family: str
    model: nn.Module
    config: TransformerConfig
    tokenizer: PreTrainedTokenizerBase


def check_family(family: str | None) -> None:
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family={family!r} is not supported; choose one of {', '.join(FAMILIES)} (or leave it unset)")


def load_backbone(checkpoint: str, expected_family: str | None = None) -> Backbone:
    """Load a pretrained model and its tokenizer; `expected_family` rejects a checkpoint of the wrong kind."""
    check_family(expected_family)
    if not checkpoint:
        raise ValueError("model.checkpoint is empty; give a `pretrain` checkpoint (.ckpt) or hf:<local directory>")
    if checkpoint.startswith(HF_PREFIX):
        backbone = _load_hf(Path(checkpoint[len(HF_PREFIX):]))
    else:
        # Imported here: pretrain.lightning pulls in the whole pretraining stack, which hf: runs do not need.
        from pretrain.lightning import load_backbone as load_suite_backbone

        suite = load_suite_backbone(checkpoint, expected_family=expected_family)
        backbone = Backbone(family=suite.family, model=suite.model, config=suite.config, tokenizer=suite.tokenizer)
    if expected_family is not None and backbone.family != expected_family:
        raise ValueError(f"{checkpoint} holds a {backbone.family} model, but family={expected_family!r} was expected")
    return backbone


def random_weights(backbone: Backbone) -> Backbone:
    """The same architecture with fresh weights from the model's own initialisation (its constructor's
    `init_weights`), drawn from torch's global RNG, so `seed_everything(s)` fixes them and different
    seeds give different random models. A fresh model rather than `init_weights` on the loaded one:
    parameters outside init_weights' reach (the MLM head's output bias) would otherwise keep
    their pretrained values."""
    model = type(backbone.model)(backbone.config).eval()  # eval like a loaded backbone
    return dataclasses.replace(backbone, model=model)


def _load_hf(directory: Path) -> Backbone:
    """A transformers model saved with save_pretrained (no hub access: local files only)."""
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise ValueError(f"hf:{directory}: no config.json there; save the model with save_pretrained(directory)")
    model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    family = _HF_MODEL_TYPES.get(model_type)
    if family is None:
        raise ValueError(
            f"{config_file}: model_type={model_type!r} is not supported; expected one of {', '.join(_HF_MODEL_TYPES)}"
        )
    from transformers import AutoTokenizer, BertForPreTraining, GPT2LMHeadModel

    from pretrain.hf import from_hf

    hf_class = BertForPreTraining if family == "bert" else GPT2LMHeadModel
    hf_model = hf_class.from_pretrained(directory, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = from_hf(hf_model)
    return Backbone(family=family, model=model, config=model.config, tokenizer=tokenizer)


def body(backbone: Backbone) -> nn.Module:
    """The transformer stack without pretraining heads: BERT's encoder or GPT's decoder."""
    stack = getattr(backbone.model, "encoder" if backbone.family == "bert" else "decoder", None)
    if stack is None:
        raise ValueError(f"a {backbone.family} backbone must be a BertModel or GptModel, got {type(backbone.model).__name__}")
    return stack
