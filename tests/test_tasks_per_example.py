"""Per-example test records recompute each task's test metric exactly, also on a bootstrap resample."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import f1_score

from tasks.ner.metrics import EntityScores, sentence_counts
from tasks.per_example import resampled_metric


def _tags(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) for _ in range(n)]


def test_ner_counts_recompute_entity_f1_on_any_resample() -> None:
    rng = random.Random(0)
    gold = [_tags(rng, rng.randint(1, 10)) for _ in range(40)]
    pred = [[t if rng.random() < 0.6 else rng.choice(_tags(rng, 1)) for t in s] for s in gold]
    per_example = [sentence_counts(p, g) for p, g in zip(pred, gold)]
    metric = EntityScores(["LOC", "PER"])
    metric.update(pred, gold)
    assert resampled_metric("ner", per_example) == pytest.approx(metric.compute()["f1"].item(), abs=1e-6)
    index = [rng.randrange(len(gold)) for _ in range(len(gold))]  # with repeats, as a bootstrap draws
    resampled = resampled_metric("ner", per_example, index)
    assert resampled == pytest.approx(f1_score([gold[i] for i in index], [pred[i] for i in index]), abs=1e-9)
    assert resampled != pytest.approx(resampled_metric("ner", per_example))  # the resample changed it


def test_classification_and_generation_are_means_over_the_index() -> None:
    assert resampled_metric("classification", [1, 0, 1, 1]) == 0.75
    assert resampled_metric("classification", [1, 0, 1, 1], [1, 1, 2]) == pytest.approx(1 / 3)
    rows = [{"rouge1": 0.5, "rouge2": 0.0, "rougeL": 0.4}, {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}]
    assert resampled_metric("generation", rows, [0, 0, 1]) == pytest.approx(0.6)
    assert resampled_metric("ner", [[0, 0, 0]]) == 0.0  # nothing predicted, nothing gold: F1 0, as EntityScores


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="task='qa' is not supported"):
        resampled_metric("qa", [1])
    with pytest.raises(ValueError, match="is empty"):
        resampled_metric("classification", [])
