"""Data layer: built-in corpus and derived tasks, any-text loading, tokenizers, BERT/GPT batches, DataModules."""

from pretrain.data.builtin_corpus import load_builtin_corpus
from pretrain.data.builtin_tasks import builtin_classification, builtin_generation, builtin_ner
from pretrain.data.code_mentions import NER_LABELS
from pretrain.data.datamodules import BertDataModule, GptDataModule, PretrainDataModule
from pretrain.data.sources import load_corpus
from pretrain.data.tokenizer import SPECIAL_TOKENS, build_tokenizer, wrap_tokenizer

__all__ = [
    "NER_LABELS",
    "SPECIAL_TOKENS",
    "BertDataModule",
    "GptDataModule",
    "PretrainDataModule",
    "build_tokenizer",
    "builtin_classification",
    "builtin_generation",
    "builtin_ner",
    "load_builtin_corpus",
    "load_corpus",
    "wrap_tokenizer",
]
