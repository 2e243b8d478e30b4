"""Trivial baselines every downstream score is shown next to.

- classification: always predict the training set's majority class;
- NER: a unigram tagger (each word gets its most frequent training tag, unseen words "O"),
  the classic CoNLL baseline (Tjong Kim Sang & De Meulder 2003), scored with seqeval;
- generation: copy the input as the output, and the best constant output: the one training target
  that, said for every input, scores best on the training targets (ROUGE against the references,
  torchmetrics). A model that has not learned to read its input can still reach the latter.

Every baseline reads the task's rows with the task's own data module (pretrain.data.sources.DataSource:
built-in, local files or a hub set) and is scored on the test split the fine-tuned models are scored on.
Pretraining's trivial baselines (most frequent token, unigram perplexity) are computed by the pretraining
modules on their own validation data (pretrain.lightning.metrics), for any source.
"""

from __future__ import annotations

import re
from collections import Counter

import torch
from seqeval.metrics import f1_score
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score
from torchmetrics.text import ROUGEScore

from pretrain.compare.source_check import task_data_module
from pretrain.data.sources import DataSource
from tasks.generation.module import ROUGE_KEYS  # the keys the generation module logs: one list for both


def label_scores(predicted: list[str], gold: list[str], names: list[str]) -> dict[str, float]:
    """Accuracy and macro F1 of predicted label names over the label set `names`, with the torchmetrics
    averages the classification module logs as test/acc and test/macro_f1 (micro accuracy, macro F1)."""
    index = {name: i for i, name in enumerate(names)}
    preds, target = torch.tensor([index[p] for p in predicted]), torch.tensor([index[g] for g in gold])
    return {"acc": float(multiclass_accuracy(preds, target, len(names), average="micro")),
            "macro_f1": float(multiclass_f1_score(preds, target, len(names), average="macro"))}


def rouge_scores(outputs: list[str], references: list[list[str]]) -> dict[str, float]:
    """ROUGE F-measures of one output per test row against its references (torchmetrics' ROUGEScore, the
    scorer of the generation module's test/rouge*: the best reference per row, averaged over rows)."""
    scores = ROUGEScore(rouge_keys=ROUGE_KEYS)(outputs, references)
    return {key: float(scores[f"{key}_fmeasure"]) for key in ROUGE_KEYS}


def classification_baseline(train: list[str], test: list[str]) -> dict[str, float]:
    """Majority class of the train labels, scored on the test labels (label names)."""
    majority = Counter(train).most_common(1)[0][0]
    scores = label_scores([majority] * len(test), test, sorted(set(train) | set(test)))
    return {"baseline/majority_acc": scores["acc"], "baseline/majority_macro_f1": scores["macro_f1"]}


def ner_baseline(train: list[tuple[list[str], list[str]]], test: list[tuple[list[str], list[str]]]) -> dict[str, float]:
    """Unigram tagger over (words, tags) sentences: each word's most frequent train tag, unseen words "O"."""
    counts: dict[str, Counter[str]] = {}
    for words, tags in train:
        for word, tag in zip(words, tags, strict=True):
            counts.setdefault(word, Counter())[tag] += 1
    gold = [tags for _, tags in test]
    pred = [[counts[w].most_common(1)[0][0] if w in counts else "O" for w in words] for words, _ in test]
    return {"baseline/unigram_tagger_f1": float(f1_score(gold, pred))}


_WORD = re.compile(r"[a-z0-9]+")  # ROUGE's own normalisation: lower case, alphanumeric runs


def generation_baseline(train_targets: list[str], test_sources: list[str],
                        references: list[list[str]]) -> dict[str, float]:
    """Copy the source, and the best constant output (chosen on the train targets), against each test
    row's references."""
    copy = rouge_scores(test_sources, references)
    constant = rouge_scores([best_constant_output(train_targets)] * len(references), references)
    return {**{f"baseline/copy_{k}": v for k, v in copy.items()},
            **{f"baseline/constant_{k}": v for k, v in constant.items()}}


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


def task_baseline(task: str, source: DataSource) -> dict[str, float]:
    """The trivial baselines of `task` on `source`, read by the task's data module (its splits, columns and
    label names), on its test split."""
    module = task_data_module(task, source)
    module.prepare_labels()
    train, test = module.rows("train"), module.rows("test")
    if task == "classification":
        return classification_baseline([module.label_text(r) for r in train], [module.label_text(r) for r in test])
    if task == "ner":
        return ner_baseline([(module.words(r), module.tags(r)) for r in train],
                            [(module.words(r), module.tags(r)) for r in test])
    if task == "generation":
        return generation_baseline([t for r in train for t in module.targets(r)],
                                   [module.source_text(r) for r in test], [module.targets(r) for r in test])
    raise ValueError(f"unknown task {task!r}")
