"""LightningModules for BERT and GPT pretraining (and the objectives mixing both), and their callbacks."""

from pretrain.lightning.base import PretrainingModule
from pretrain.lightning.bert import BertPretraining
from pretrain.lightning.gpt import GptPretraining
from pretrain.lightning.mixed import ClmMlmPretraining, GptBertPretraining
from pretrain.lightning.nan_guard import NonFiniteLossGuard
from pretrain.lightning.preemption import PreemptionCheckpoint
from pretrain.lightning.validation_media import ValidationMedia

__all__ = [
    "BertPretraining", "ClmMlmPretraining", "GptBertPretraining", "GptPretraining", "NonFiniteLossGuard",
    "PreemptionCheckpoint", "PretrainingModule",
    "ValidationMedia",
]
