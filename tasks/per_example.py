"""Per-example test scores: what a paired bootstrap resamples to recompute a task's test metric exactly.

A test pass records one entry per test example, in test-set order, so two runs on the same test
set (BERT vs GPT, pretrained vs random init) pair up by index:

    classification  1 if the predicted label is right, else 0        -> test/acc = mean
    ner             [correct, predicted, gold] entities per sentence -> test/entity_f1 = micro F1
                    (conlleval/seqeval chunks, tasks.ner.metrics)        = 2 sum(correct) / (sum(predicted) + sum(gold))
    generation      {"rouge1", "rouge2", "rougeL"} F-measures, each   -> test/rougeL = mean of "rougeL"
                    against the best of the example's references        (torchmetrics ROUGEScore averages them)

Each task's record says how (Task.per_example) and which metric they recompute (its primary one).
`statistics` turns the records into an (examples, k) array and `metric_from_sums` computes the
metric from its (weighted) column sums: the one formula both `resampled_metric` and the
comparison's bootstrap (pretrain.compare.analysis.bootstrap) use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tasks.registry import task_record


def statistics(task: str, per_example: Sequence[Any]) -> np.ndarray:
    """(examples, k) floats: k = 1 for a mean metric (accuracy, ROUGE-L), k = 3 for NER's count triples."""
    statistic = task_record(task).per_example
    array = np.asarray([statistic.row(record) for record in per_example], dtype=float)
    array = array[:, None] if array.ndim == 1 else array
    if array.ndim != 2 or array.shape[1] != statistic.width:
        raise ValueError(f"{task} per-example records have shape {array.shape}; expected {statistic.description}")
    return array


def metric_from_sums(sums: np.ndarray, count: float | np.ndarray) -> np.ndarray:
    """The metric from column sums (..., k) over `count` examples: their mean for k = 1, micro F1 for k = 3."""
    if sums.shape[-1] == 1:
        return sums[..., 0] / count
    correct, predicted, gold = sums[..., 0], sums[..., 1], sums[..., 2]
    denominator = predicted + gold
    return np.divide(2 * correct, denominator, out=np.zeros_like(correct, dtype=float), where=denominator > 0)


def resampled_metric(task: str, per_example: Sequence[Any], index: Sequence[int] | None = None) -> float:
    """The task's primary test metric (its record's) over the examples at `index` (default: all, once each)."""
    stats = statistics(task, per_example)
    if index is not None:
        stats = stats[np.asarray(index, dtype=int)]
    if not len(stats):
        raise ValueError("per_example (or its resample index) is empty; a metric needs at least one example")
    return float(metric_from_sums(stats.sum(axis=0), len(stats)))
