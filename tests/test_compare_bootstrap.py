"""Paired hierarchical bootstrap: exact on degenerate cases, calibrated against the normal theory, wider where the
test rows cluster by document or the pretraining seeds disagree."""

import math

import numpy as np
import pytest

from pretrain.compare.analysis.bootstrap import SeededRun, paired_difference
from tasks.per_example import resampled_metric


def test_the_metric_is_the_mean_or_the_micro_f1() -> None:
    assert resampled_metric("classification", [1, 0, 1, 1]) == 0.75
    # F1 from [tp, predicted, gold] per sentence: 2*3 / (4 + 5) = 0.666...
    assert resampled_metric("ner", [[1, 2, 2], [2, 2, 3], [0, 0, 0]]) == pytest.approx(6 / 9)
    assert resampled_metric("ner", [[1, 2, 2], [2, 2, 3]], index=[1, 1]) == pytest.approx(8 / 10)
    assert resampled_metric("generation", [{"rougeL": 0.5}, {"rougeL": 0.25}]) == 0.375


def test_identical_groups_give_zero_and_p_one() -> None:
    run = list(np.random.default_rng(1).integers(0, 2, 300))
    result = paired_difference([run], [run])
    assert result.difference == 0 and result.ci_low == 0 and result.ci_high == 0
    assert result.p_value == 1.0 and not result.excludes_zero


def test_a_sure_difference_is_significant() -> None:
    result = paired_difference([[1] * 50], [[0] * 50])
    assert result.difference == 1.0 and (result.ci_low, result.ci_high) == (1.0, 1.0)
    assert result.p_value == 0.0 and result.excludes_zero


def test_interval_matches_normal_theory_for_accuracy() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    a, b = (rng.random(n) < 0.7).astype(float), (rng.random(n) < 0.6).astype(float)
    result = paired_difference([a], [b], replicates=4000)
    half = 1.96 * np.std(a - b, ddof=1) / math.sqrt(n)
    assert result.difference == pytest.approx(a.mean() - b.mean())
    assert (result.ci_high - result.ci_low) / 2 == pytest.approx(half, rel=0.1)
    assert result.excludes_zero and result.p_value < 0.01


def test_groups_average_their_runs_and_f1_is_recomputed_per_replicate() -> None:
    gold = [[1, 1, 1]] * 40 + [[0, 1, 1]] * 40  # each run: tp 40 of 80 predicted, 80 gold -> F1 0.5
    perfect = [[1, 1, 1]] * 80  # F1 1.0
    result = paired_difference([perfect, gold], [gold])
    assert result.difference == pytest.approx((1.0 + 0.5) / 2 - 0.5)
    # The first group's fine-tuning seeds are resampled too: a quarter of the replicates draw its worse run twice,
    # which is no better than the other group, so the interval reaches zero.
    assert result.ci_low == pytest.approx(0.0) and result.ci_high > 0.5
    assert result.covers == "fine-tuning seeds and test examples"


def test_same_inputs_same_interval_and_mismatched_rows_are_refused() -> None:
    rng = np.random.default_rng(3)
    a, b = list(rng.random(100)), list(rng.random(100))
    assert paired_difference([a], [b]) == paired_difference([a], [b])
    runs = [SeededRun(rng.random(100), seed, pretrain) for pretrain in (0, 1) for seed in (0, 1, 2)]
    others = [SeededRun(rng.random(100), seed, pretrain) for pretrain in (0, 1) for seed in (0, 1, 2)]
    documents = [f"doc{i // 4}" for i in range(100)]
    first = paired_difference(runs, others, documents=documents)
    assert first == paired_difference(runs, others, documents=documents)  # a fixed seed: the same interval
    assert first != paired_difference(runs, others, documents=documents, seed=1)
    with pytest.raises(ValueError, match="different test sets"):
        paired_difference([a], [b[:99]])
    with pytest.raises(ValueError, match="99 document ids for 100 test rows"):
        paired_difference([a], [b], documents=documents[:99])


def _clustered_runs(rng: np.random.Generator, documents: int, rows_per_document: int) -> tuple[np.ndarray, ...]:
    """Two runs whose right and wrong answers come a whole document at a time (rows of one document agree)."""
    a = np.repeat((rng.random(documents) < 0.7).astype(float), rows_per_document)
    b = np.repeat((rng.random(documents) < 0.6).astype(float), rows_per_document)
    return a, b


def test_rows_of_one_document_are_resampled_together() -> None:
    a, b = _clustered_runs(np.random.default_rng(0), documents=60, rows_per_document=10)
    documents = [i // 10 for i in range(600)]
    flat = paired_difference([a], [b])
    clustered = paired_difference([a], [b], documents=documents)
    assert clustered.difference == flat.difference
    # 60 independent documents, not 600 independent rows: about sqrt(10) times the width.
    width = {name: r.ci_high - r.ci_low for name, r in (("flat", flat), ("clustered", clustered))}
    assert 2.2 < width["clustered"] / width["flat"] < 4.5
    assert (clustered.n_documents, clustered.n_examples, clustered.covers) == (60, 600, "test documents only")
    assert flat.covers == "test examples only" and flat.n_documents is None
    # Documents that hold one row each are rows: the interval is the row bootstrap's.
    one_each = paired_difference([a], [b], documents=[f"d{i}" for i in range(600)])
    assert one_each.ci_high - one_each.ci_low == pytest.approx(width["flat"], rel=0.1)


def test_the_interval_covers_pretraining_seed_variance() -> None:
    """BERT's pretraining seeds disagree far more than the test set could explain: the test-only interval excludes
    zero, the hierarchical one (pretraining seeds, then fine-tuning seeds, then test rows) does not."""
    rng = np.random.default_rng(1)
    n = 3000

    def runs(accuracies: dict[int, float]) -> list[SeededRun]:
        return [SeededRun((rng.random(n) < accuracy + 0.005 * seed).astype(float), seed, pretrain_seed)
                for pretrain_seed, accuracy in accuracies.items() for seed in (0, 1)]

    bert, gpt = runs({0: 0.55, 1: 0.85, 2: 0.75}), runs({0: 0.66, 1: 0.64, 2: 0.65})
    hierarchical = paired_difference(bert, gpt)
    flat = paired_difference([np.mean([r.statistics for r in bert], axis=0)],
                             [np.mean([r.statistics for r in gpt], axis=0)])
    assert hierarchical.difference == pytest.approx(flat.difference) and flat.difference > 0.04
    assert flat.excludes_zero and not hierarchical.excludes_zero
    assert hierarchical.covers == "pretraining seeds, fine-tuning seeds and test examples"
    # Three seeds of spread 0.15: the interval is as wide as the seed means' spread, not the test set's 0.01.
    assert hierarchical.ci_high - hierarchical.ci_low > 0.15 > 5 * (flat.ci_high - flat.ci_low)


def test_groups_with_the_same_seeds_share_every_draw() -> None:
    """The paired design: two groups of the same seeds draw the same seeds and documents in every replicate, so
    identical groups differ by exactly zero; a group of other seeds (a random-init control) draws its own."""
    rng = np.random.default_rng(4)
    runs = [SeededRun(rng.random(60), seed, pretrain_seed) for pretrain_seed in (0, 1) for seed in (0, 1)]
    documents = [i // 3 for i in range(60)]
    same = paired_difference(runs, list(runs), documents=documents)
    assert (same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 1.0)
    control = [SeededRun(r.statistics, r.seed, None) for r in runs[:2]]  # one level: no pretraining seed
    unpaired = paired_difference(runs, control, documents=documents)
    assert unpaired.ci_low < 0 < unpaired.ci_high
