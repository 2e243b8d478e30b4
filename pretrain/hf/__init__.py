"""Weight conversion to and from Hugging Face transformers.

    ours = from_hf(transformers.ModernBertForMaskedLM(...))   # -> pretrain.models.BertModel
    theirs = to_hf(ours)                                       # -> transformers.ModernBertForMaskedLM

The matched layout (the default presets) converts to ModernBertForMaskedLM (BERT) and
ModernBertDecoderForCausalLM (GPT), the classic layouts to BertForPreTraining and GPT2LMHeadModel;
`to_hf` picks the class from the model's config. Users fine-tune from hub checkpoints and publish
ours through these two functions.
"""

from __future__ import annotations

from torch import nn
from transformers import BertForPreTraining, GPT2LMHeadModel, ModernBertDecoderForCausalLM, ModernBertForMaskedLM

from pretrain.hf.bert import bert_config_from_hf, bert_config_to_hf, bert_from_hf, bert_to_hf
from pretrain.hf.gpt2 import gpt2_config_from_hf, gpt2_config_to_hf, gpt2_from_hf, gpt2_to_hf
from pretrain.hf.modernbert import is_modernbert_layout, modernbert_from_hf, modernbert_to_hf
from pretrain.models.bert import BertModel
from pretrain.models.gpt import GptModel

HfModel = BertForPreTraining | GPT2LMHeadModel | ModernBertForMaskedLM | ModernBertDecoderForCausalLM
SUPPORTED = "BertForPreTraining, GPT2LMHeadModel, ModernBertForMaskedLM, ModernBertDecoderForCausalLM"


def from_hf(hf_model: nn.Module) -> BertModel | GptModel:
    """Convert a transformers model of one of the SUPPORTED classes into our BertModel or GptModel."""
    if isinstance(hf_model, BertForPreTraining):
        return bert_from_hf(hf_model)
    if isinstance(hf_model, GPT2LMHeadModel):
        return gpt2_from_hf(hf_model)
    if isinstance(hf_model, (ModernBertForMaskedLM, ModernBertDecoderForCausalLM)):
        return modernbert_from_hf(hf_model)
    raise ValueError(f"from_hf got {type(hf_model).__name__}; supported: {SUPPORTED}")


def to_hf(model: nn.Module) -> HfModel:
    """Convert our BertModel or GptModel into the transformers class of its layout (ModernBERT's for the
    matched layout, BERT's / GPT-2's for the classic ones)."""
    if not isinstance(model, (BertModel, GptModel)):
        raise ValueError(f"to_hf got {type(model).__name__}; supported: BertModel, GptModel")
    if is_modernbert_layout(model.config):
        return modernbert_to_hf(model)
    return bert_to_hf(model) if isinstance(model, BertModel) else gpt2_to_hf(model)


__all__ = [
    "SUPPORTED", "bert_config_from_hf", "bert_config_to_hf", "from_hf", "gpt2_config_from_hf", "gpt2_config_to_hf",
    "to_hf",
]
