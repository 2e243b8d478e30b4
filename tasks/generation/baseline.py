"""Generation's trivial baselines: copy the input as the output, and the best constant output: the one training
target that, said for every input, scores best on the training targets (ROUGE against the references,
torchmetrics). A model that has not learned to read its input can still reach the latter."""

from __future__ import annotations

import re
from collections import Counter

from tasks.generation.data import GenerationDataModule
from tasks.generation.rouge import rouge_scores

_WORD = re.compile(r"[a-z0-9]+")  # ROUGE's own normalisation: lower case, alphanumeric runs


def generation_baseline(train_targets: list[str], test_sources: list[str],
                        references: list[list[str]]) -> dict[str, float]:
    """Copy the source, and the best constant output (chosen on the train targets), against each test
    row's references."""
    copy = rouge_scores(test_sources, references)
    constant = rouge_scores([best_constant_output(train_targets)] * len(references), references)
    return {**{f"baseline/copy_{k}": v for k, v in copy.items()},
            **{f"baseline/constant_{k}": v for k, v in constant.items()}}


def copy_and_constant_baseline(data: GenerationDataModule) -> dict[str, float]:
    """Both baselines of `data`: the constant chosen on its train targets, both scored on its test split."""
    test = data.rows("test")
    return generation_baseline([t for r in data.rows("train") for t in data.targets(r)],
                               [data.source_text(r) for r in test], [data.targets(r) for r in test])


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
