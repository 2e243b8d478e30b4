"""Trivial baselines every downstream score is shown next to (DESIGN.md section 5).

- classification: always predict the training set's majority class;
- NER: a unigram tagger (each word gets its most frequent training tag, unseen words "O"),
  the classic CoNLL baseline (Tjong Kim Sang & De Meulder 2003), scored with seqeval;
- generation: copy the input as the output (ROUGE against the reference, torchmetrics).
"""

from __future__ import annotations

from collections import Counter

import torch
from datasets import DatasetDict
from seqeval.metrics import f1_score
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score
from torchmetrics.text import ROUGEScore


def classification_baseline(data: DatasetDict, label_column: str = "label") -> dict[str, float]:
    train, test = data["train"][label_column], data["test"][label_column]
    majority = Counter(train).most_common(1)[0][0]
    n = max(max(train), max(test)) + 1
    target = torch.tensor(test)
    preds = torch.full_like(target, majority)
    return {
        "baseline/majority_acc": float(multiclass_accuracy(preds, target, n, average="micro")),
        "baseline/majority_macro_f1": float(multiclass_f1_score(preds, target, n, average="macro")),
    }


def ner_baseline(data: DatasetDict) -> dict[str, float]:
    names = data["train"].features["ner_tags"].feature.names
    counts: dict[str, Counter[int]] = {}
    for row in data["train"]:
        for word, tag in zip(row["tokens"], row["ner_tags"], strict=True):
            counts.setdefault(word, Counter())[tag] += 1
    outside = names.index("O")
    gold, pred = [], []
    for row in data["test"]:
        gold.append([names[t] for t in row["ner_tags"]])
        tags = [counts[w].most_common(1)[0][0] if w in counts else outside for w in row["tokens"]]
        pred.append([names[t] for t in tags])
    return {"baseline/unigram_tagger_f1": float(f1_score(gold, pred))}


def generation_baseline(data: DatasetDict, source: str = "source", target: str = "target") -> dict[str, float]:
    rouge = ROUGEScore(rouge_keys=("rouge1", "rouge2", "rougeL"))
    scores = rouge(list(data["test"][source]), list(data["test"][target]))
    return {f"baseline/copy_{k}": float(scores[f"{k}_fmeasure"]) for k in ("rouge1", "rouge2", "rougeL")}


def builtin_baseline(task: str) -> dict[str, float]:
    """The baseline of a built-in task, on its test split."""
    from pretrain.data import builtin_classification, builtin_generation, builtin_ner

    if task == "classification":
        return classification_baseline(builtin_classification())
    if task == "ner":
        return ner_baseline(builtin_ner())
    if task == "generation":
        return generation_baseline(builtin_generation())
    raise ValueError(f"unknown task {task!r}")
