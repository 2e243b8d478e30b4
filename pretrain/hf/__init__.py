"""Weight conversion to and from Hugging Face transformers (BERT and GPT-2).

    ours = from_hf(transformers.BertForPreTraining(...))   # -> pretrain.models.BertModel
    theirs = to_hf(ours)                                    # -> transformers.BertForPreTraining

Users fine-tune from hub checkpoints and publish ours through these two functions.
"""

from __future__ import annotations

from torch import nn
from transformers import BertForPreTraining, GPT2LMHeadModel

from pretrain.hf.bert import bert_config_from_hf, bert_config_to_hf, bert_from_hf, bert_to_hf
from pretrain.hf.gpt2 import gpt2_config_from_hf, gpt2_config_to_hf, gpt2_from_hf, gpt2_to_hf
from pretrain.models.bert import BertModel
from pretrain.models.gpt import GptModel


def from_hf(hf_model: nn.Module) -> BertModel | GptModel:
    """Convert a transformers BertForPreTraining or GPT2LMHeadModel into our BertModel or GptModel."""
    if isinstance(hf_model, BertForPreTraining):
        return bert_from_hf(hf_model)
    if isinstance(hf_model, GPT2LMHeadModel):
        return gpt2_from_hf(hf_model)
    raise ValueError(
        f"from_hf got {type(hf_model).__name__}; supported: BertForPreTraining, GPT2LMHeadModel"
    )


def to_hf(model: nn.Module) -> BertForPreTraining | GPT2LMHeadModel:
    """Convert our BertModel or GptModel into transformers' BertForPreTraining or GPT2LMHeadModel."""
    if isinstance(model, BertModel):
        return bert_to_hf(model)
    if isinstance(model, GptModel):
        return gpt2_to_hf(model)
    raise ValueError(f"to_hf got {type(model).__name__}; supported: BertModel, GptModel")


__all__ = [
    "bert_config_from_hf", "bert_config_to_hf", "from_hf", "gpt2_config_from_hf", "gpt2_config_to_hf", "to_hf",
]
