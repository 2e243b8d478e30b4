"""Trivial baselines every downstream score is shown next to (each task's record names its own, in the task's
package):

- classification: always predict the training set's majority class (tasks.classification.baseline);
- NER: a unigram tagger (each word gets its most frequent training tag, unseen words "O"),
  the classic CoNLL baseline (Tjong Kim Sang & De Meulder 2003), scored with seqeval (tasks.ner.baseline);
- generation: copy the input as the output, and the best constant output: the one training target
  that, said for every input, scores best on the training targets (ROUGE against the references,
  torchmetrics). A model that has not learned to read its input can still reach the latter
  (tasks.generation.baseline).

Every baseline reads the task's rows with the task's own data module (pretrain.data.sources.DataSource:
built-in, local files or a hub set) and is scored on the test split the fine-tuned models are scored on.
Pretraining's trivial baselines (most frequent token, unigram perplexity) are computed by the pretraining
modules on their own validation data (pretrain.lightning.metrics), for any source.
"""

from __future__ import annotations

from pretrain.data.sources import DataSource
from tasks.registry import task_record


def task_baseline(task: str, source: DataSource) -> dict[str, float]:
    """The trivial baselines of `task` on `source`, read by the task's data module (its splits, columns and
    label names), on its test split."""
    record = task_record(task)
    return record.baseline(record.labelled_data(source))
