"""Models assembled from the shared blocks: plain nn.Modules, no Lightning."""

from pretrain.blocks.config import TransformerConfig
from pretrain.blocks.kv_cache import KVCache
from pretrain.models.bert import BertModel
from pretrain.models.counting import count_parameters, flops_per_token
from pretrain.models.encoder_decoder import EncoderDecoderModel
from pretrain.models.generation import GenerationConfig, generate
from pretrain.models.gpt import GptModel
from pretrain.models.masked_seq2seq import MaskedSeq2Seq
from pretrain.models.outputs import BertOutput, LMOutput

__all__ = [
    "BertModel", "BertOutput", "EncoderDecoderModel", "GenerationConfig", "GptModel", "KVCache", "LMOutput",
    "MaskedSeq2Seq", "TransformerConfig", "count_parameters", "flops_per_token", "generate",
]
