"""Per-example test scores: what a paired bootstrap resamples to recompute a task's test metric exactly.

A test pass records one entry per test example, in test-set order, so two runs on the same test
set (BERT vs GPT, pretrained vs random init) pair up by index:

    classification  1 if the predicted label is right, else 0        -> test/acc = mean
    ner             [correct, predicted, gold] entities per sentence -> test/entity_f1 = micro F1
                    (conlleval/seqeval chunks, tasks.ner.metrics)        = 2 sum(correct) / (sum(predicted) + sum(gold))
    generation      {"rouge1", "rouge2", "rougeL"} F-measures, each   -> test/rougeL = mean of "rougeL"
                    against the best of the example's references        (torchmetrics ROUGEScore averages them)

`resampled_metric(task, per_example, index)` recomputes the metric on a resample of the indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The test metric each task's per-example records recompute.
PER_EXAMPLE_METRIC = {"classification": "test/acc", "ner": "test/entity_f1", "generation": "test/rougeL"}


def resampled_metric(task: str, per_example: Sequence[Any], index: Sequence[int] | None = None) -> float:
    """The task's test metric (PER_EXAMPLE_METRIC) over the examples at `index` (default: all, once each)."""
    if task not in PER_EXAMPLE_METRIC:
        raise ValueError(f"task={task!r} has no per-example metric; expected one of {', '.join(PER_EXAMPLE_METRIC)}")
    rows = [per_example[i] for i in index] if index is not None else list(per_example)
    if not rows:
        raise ValueError("per_example (or its resample index) is empty; a metric needs at least one example")
    if task == "classification":
        return sum(rows) / len(rows)
    if task == "ner":
        correct, predicted, gold = (sum(column) for column in zip(*rows))
        return 2 * correct / (predicted + gold) if predicted + gold else 0.0
    return sum(row["rougeL"] for row in rows) / len(rows)
