"""The three fine-tuning data sets derived from the built-in corpus (distant supervision).

- classification: a docstring paragraph -> the top-level stdlib package it belongs to
  (K most frequent packages; ``classification``);
- NER: docstring sentences, words tagged BIO as PARAM / MODULE / EXCEPTION / TYPE
  mentions (``ner``, rules in ``code_mentions``);
- generation: signature + docstring body -> the docstring's summary (first paragraph; ``generation``).

Splits come from the document buckets in ``pretrain.data.builtin_corpus`` (validation = 62-80,
test = 81-99, train = the rest), so all three tasks evaluate on documents that the
pretraining train split never contains. Classification and NER take several examples
from one docstring; a paragraph (or sentence) that several documents share is kept once,
in the earliest split any of them is in (train, then validation, then test), so no
evaluation example is the text of a training example or of a paragraph (sentence) of
pretraining train (``splits``). On Python 3.11 the splits hold (train / validation / test):
classification 3,109 / 839 / 921, NER 2,091 / 629 / 583, generation 1,794 / 536 / 522.
Every row names its docstring (column ``document``, the corpus id): the comparison's bootstrap resamples
test rows by document, since rows cut from one docstring are not independent
(pretrain.compare.analysis.bootstrap). Each data set is cached on disk next to the parsed corpus and keyed
by its fingerprint.
"""

from tasks.builtin.classification import builtin_classification
from tasks.builtin.code_mentions import NER_LABELS
from tasks.builtin.generation import builtin_generation
from tasks.builtin.ner import builtin_ner

__all__ = ["NER_LABELS", "builtin_classification", "builtin_generation", "builtin_ner"]
