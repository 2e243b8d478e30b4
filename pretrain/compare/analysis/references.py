"""Classical references: what a standard method with no neural network scores on the same test rows.

    python -m pretrain.compare.analysis.references   # the built-in tasks' references, as the comparison computes them

Each task's record names its reference (tasks.record.Reference, in the task's package):

- classification: TF-IDF of word unigrams and bigrams + logistic regression (tasks.classification.reference);
- generation: TF-IDF nearest-neighbour retrieval (tasks.generation.reference);
- NER: none. The standard cheap tagger is the unigram tagger, already a trivial baseline
  (tasks.ner.baseline); a CRF would need a new dependency.

Both are fit on the task's training split with scikit-learn, read by the task's own data module (the rows
and label names the trivial baselines read, pretrain.compare.analysis.baselines.task_baseline) and scored on its test
split with the baselines' scorers (`label_scores`, `rouge_scores`: the torchmetrics metrics the models log).

They are references, not baselines a model must beat: a method that memorises the training set is a fair
yardstick of how far a small model is from the data's ceiling, not a floor. So results.json keeps them apart
(TaskResults.references, keys "reference/<name>") and no MetricSpec lists them among its `baseline_keys`:
no verdict or "beats the baseline" note reads them.
"""

from __future__ import annotations

from pretrain.data.sources import DataSource
from tasks.registry import TASKS, task_record

REFERENCE_TASKS = tuple(task for task in TASKS if task_record(task).reference is not None)


def task_reference(task: str, source: DataSource) -> dict[str, float]:
    """The classical reference of `task` on `source` (train split fit, test split scored); {} for a task
    without one (NER)."""
    record = task_record(task)
    if record.reference is None:
        return {}
    return record.reference.score(record.labelled_data(source))


if __name__ == "__main__":
    for name in REFERENCE_TASKS:
        print(name, {key: round(value, 4) for key, value in task_reference(name, DataSource("builtin")).items()})
