"""Classification's trivial baseline: always predict the training set's majority class."""

from __future__ import annotations

from collections import Counter

import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

from tasks.classification.data import ClassificationDataModule


def label_scores(predicted: list[str], gold: list[str], names: list[str]) -> dict[str, float]:
    """Accuracy and macro F1 of predicted label names over the label set `names`, with the torchmetrics
    averages the classification module logs as test/acc and test/macro_f1 (micro accuracy, macro F1)."""
    index = {name: i for i, name in enumerate(names)}
    preds, target = torch.tensor([index[p] for p in predicted]), torch.tensor([index[g] for g in gold])
    return {"acc": float(multiclass_accuracy(preds, target, len(names), average="micro")),
            "macro_f1": float(multiclass_f1_score(preds, target, len(names), average="macro"))}


def classification_baseline(train: list[str], test: list[str]) -> dict[str, float]:
    """Majority class of the train labels, scored on the test labels (label names)."""
    majority = Counter(train).most_common(1)[0][0]
    scores = label_scores([majority] * len(test), test, sorted(set(train) | set(test)))
    return {"baseline/majority_acc": scores["acc"], "baseline/majority_macro_f1": scores["macro_f1"]}


def majority_baseline(data: ClassificationDataModule) -> dict[str, float]:
    """The majority class of `data`'s train split, scored on its test split."""
    return classification_baseline([data.label_text(r) for r in data.rows("train")],
                                   [data.label_text(r) for r in data.rows("test")])
