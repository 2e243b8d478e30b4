"""Data layer: built-in corpus, any-text loading, tokenizers, BERT/GPT batches, DataModules."""

from pretrain.data.builtin_corpus import load_builtin_corpus
from pretrain.data.datamodules import BertDataModule, GptDataModule, PretrainDataModule
from pretrain.data.sources import load_corpus
from pretrain.data.tokenizer import SPECIAL_TOKENS, build_tokenizer, wrap_tokenizer

__all__ = [
    "SPECIAL_TOKENS",
    "BertDataModule",
    "GptDataModule",
    "PretrainDataModule",
    "build_tokenizer",
    "load_builtin_corpus",
    "load_corpus",
    "wrap_tokenizer",
]
