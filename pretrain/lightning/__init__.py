"""LightningModules for BERT and GPT pretraining, their callbacks, and checkpoint loading."""

from pretrain.lightning.backbone import Backbone, load_backbone, read_checkpoint
from pretrain.lightning.base import PretrainingModule
from pretrain.lightning.bert import BertPretraining
from pretrain.lightning.gpt import GptPretraining

__all__ = ["Backbone", "BertPretraining", "GptPretraining", "PretrainingModule", "load_backbone", "read_checkpoint"]
