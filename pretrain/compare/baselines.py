"""Trivial baselines every downstream score is shown next to.

- classification: always predict the training set's majority class;
- NER: a unigram tagger (each word gets its most frequent training tag, unseen words "O"),
  the classic CoNLL baseline (Tjong Kim Sang & De Meulder 2003), scored with seqeval;
- generation: copy the input as the output, and the best constant output: the one training target
  that, said for every input, scores best on the training targets (ROUGE against the references,
  torchmetrics). A model that has not learned to read its input can still reach the latter.

Every baseline is scored on the test split the fine-tuned models are scored on.
"""

from __future__ import annotations

import re
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


ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")
_WORD = re.compile(r"[a-z0-9]+")  # ROUGE's own normalisation: lower case, alphanumeric runs


def generation_baseline(data: DatasetDict, source: str = "source", target: str = "target") -> dict[str, float]:
    references = list(data["test"][target])
    copy = ROUGEScore(rouge_keys=ROUGE_KEYS)(list(data["test"][source]), references)
    constant_text = best_constant_output(list(data["train"][target]))
    constant = ROUGEScore(rouge_keys=ROUGE_KEYS)([constant_text] * len(references), references)
    return {
        **{f"baseline/copy_{k}": float(copy[f"{k}_fmeasure"]) for k in ROUGE_KEYS},
        **{f"baseline/constant_{k}": float(constant[f"{k}_fmeasure"]) for k in ROUGE_KEYS},
    }


def best_constant_output(targets: list[str], candidates: int = 100, judges: int = 300) -> str:
    """The training target with the highest mean ROUGE-L against training targets.

    Exact over all pairs is quadratic, so: the `candidates` targets closest to the training set's
    word distribution (unigram F1 against the average bag of words), each scored by ROUGE-L F against
    `judges` evenly spaced training targets. Deterministic: ties go to the earlier target.
    """
    words = [_WORD.findall(t.lower()) for t in targets]
    frequency = Counter(w for ws in words for w in set(ws))
    mean_length = sum(len(ws) for ws in words) / max(1, len(words))

    def closeness(ws: list[str]) -> float:  # expected unigram F1 with a random target, roughly
        if not ws:
            return 0.0
        hits = sum(frequency[w] for w in set(ws)) / len(targets)
        return 2 * hits / (len(ws) + mean_length)

    shortlist = sorted(range(len(targets)), key=lambda i: (-closeness(words[i]), i))[:candidates]
    step = max(1, len(targets) // judges)
    panel = [words[i] for i in range(0, len(targets), step)][:judges]
    return targets[max(shortlist, key=lambda i: (sum(_lcs_f1(words[i], ref) for ref in panel), -i))]


def _lcs_f1(a: list[str], b: list[str]) -> float:
    """ROUGE-L F-measure of two word lists (longest common subsequence, Lin 2004)."""
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    return 0.0 if lcs == 0 else 2 * lcs / (len(a) + len(b))


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
