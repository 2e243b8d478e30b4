"""Paired hierarchical bootstrap: how much a difference in score could come from chance, at every level it has.

Two groups of runs (BERT vs GPT, pretrained vs random-init, one arm vs another) are scored on the same test
rows. A score varies with the pretraining seed, with the fine-tuning seed given that checkpoint, and with
the finite test set, so each bootstrap replicate resamples all three, top down (the two-stage resampling of
Davison & Hinkley 1997, section 3.8; the "multi-bootstrap" over pretraining seeds and test examples of
Sellam et al. 2022, "The MultiBERTs: BERT Reproductions for Robustness Analysis"):

1. each group's pretraining seeds, with replacement;
2. within each drawn pretraining seed, its fine-tuning seeds, with replacement (a seed drawn twice
   draws its fine-tuning seeds twice);
3. the test set by documents, with replacement: every row of a drawn document comes along. The built-in
   tasks cut several rows from one docstring, and rows of one document share its vocabulary and topic, so
   they are not independent; resampling rows alone would understate the test set's variance (the cluster
   bootstrap, Field & Welsh 2007, "Bootstrapping clustered data"). Results without document ids (written
   before they were recorded) make every row its own document.

Each run's metric is recomputed on the replicate's rows from its per-example statistics, averaged over
the drawn fine-tuning seeds of each drawn pretraining seed and then over pretraining seeds, and the two
groups' averages are subtracted. The design stays paired: both groups see the same test documents in
every replicate, and where their seeds are the same (BERT and GPT pretrained and fine-tuned with seeds
0, 1, 2) the same seed draws too (a random-init control, which has no pretraining seed, pairs on its
fine-tuning seeds with a group of one pretraining seed); groups of other seeds draw their own. The 95%
percentile interval of the differences covers what was resampled: `PairedDifference.covers` says which
(one pretraining seed: fine-tuning seeds and test documents; one run per group: test documents only).
Resampling every level rather than only the top one makes the interval somewhat wider than the variance
of the mean (Davison & Hinkley 1997, section 3.8); with as few as 2-3 pretraining seeds, on the other
hand, resampling them recovers only (n - 1) / n of their variance. Neither matters to the verdict rule
alone: it also asks Welch's test over runs (verdict.py), whose t interval is the small-sample one.

Each run is an (examples, k) array of per-example statistics (`tasks.per_example.statistics`): one
number per example for a mean metric (accuracy, ROUGE-L), or per sentence [true positives, predicted
entities, gold entities] for entity F1; the metric of a resample comes from its weighted column sums
(`tasks.per_example.metric_from_sums`: the mean over the resampled rows, or micro F1 as conlleval).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pretrain.compare.analysis.stats import CONFIDENCE
from tasks.per_example import metric_from_sums

REPLICATES = 2000
SEED = 0  # fixed: the same results give the same interval on every machine and rerun
TEST_ROWS_ONLY = "test examples only"  # what the bootstrap of results written before this one covered


@dataclass(frozen=True)
class SeededRun:
    """One fine-tuning run's per-example statistics and the seeds it came from; `pretrain_seed` is None for a
    run with no pretraining (a random-init control)."""

    statistics: np.ndarray  # (examples, k), or (examples,) for one number per example
    seed: int | None = None
    pretrain_seed: int | None = None


@dataclass(frozen=True)
class PairedDifference:
    """mean(first group) - mean(second group) on the full test set, with its bootstrap interval."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float  # two-sided: how often the resampled difference falls on the other side of 0
    n_examples: int
    replicates: int
    n_documents: int | None = None  # test documents resampled (None: no documents named, each row its own)
    covers: str = TEST_ROWS_ONLY  # the variance the interval covers, e.g. "fine-tuning seeds and test documents"

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def scope(self) -> str:
        """What the interval covers and over how much test data: "fine-tuning seeds and test documents (412
        documents, 921 test rows)"."""
        documents = f"{self.n_documents} documents, " if self.n_documents is not None else ""
        return f"{self.covers} ({documents}{self.n_examples} test rows)"

    @property
    def p_text(self) -> str:
        """The p-value as a report prints it: "p < 0.0005" where no replicate crossed zero (never "p = 0")."""
        return format_p(self.p_value, self.replicates)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_p(p: float, replicates: int | None = None, name: str = "p", bound: bool = False) -> str:
    """`name = p`; a bootstrap p-value from `replicates` resamples below their resolution is "< 1/replicates"
    (no replicate crossed zero: the p-value is small, not 0), and an upper `bound` (a Holm-adjusted value
    computed from such a bound) is "<= p"."""
    if replicates and p < 1.0 / replicates:
        return f"{name} < {1.0 / replicates:.2g}"
    return f"{name} {'<=' if bound else '='} {p:.3g}"


def paired_difference(
    first: Sequence[SeededRun | np.ndarray | Sequence[Any]], second: Sequence[SeededRun | np.ndarray | Sequence[Any]],
    *, documents: Sequence[Hashable] | None = None, replicates: int = REPLICATES, confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> PairedDifference:
    """Bootstrap the difference of two groups' mean metric (module docstring). A group is a list of runs:
    `SeededRun`s, or plain (examples, k) arrays (then each is one fine-tuning seed of one pretraining seed).
    `documents` names each test row's document (rows of one document are resampled together); None: each
    row is its own."""
    if not first or not second:
        raise ValueError("paired_difference() needs at least one run in each group")
    group_a, group_b = _seeded(first), _seeded(second)
    stats = [run.statistics for run in (*group_a, *group_b)]
    n = len(stats[0])
    if any(len(s) != n for s in stats) or len({s.shape[1] for s in stats}) != 1:
        raise ValueError(f"runs were scored on different test sets (example counts {sorted({len(s) for s in stats})}); "
                         "a paired bootstrap needs the same rows in the same order")
    if documents is not None and len(documents) != n:
        raise ValueError(f"{len(documents)} document ids for {n} test rows: they must name the rows in test-set order")
    cluster = np.arange(n) if documents is None else np.unique(np.asarray([str(d) for d in documents]),
                                                              return_inverse=True)[1]
    n_clusters = int(cluster.max()) + 1
    test_seed, first_seed, other_seed = np.random.SeedSequence(seed).spawn(3)
    # Test level, shared by both groups: draws[b, c] = how often document c is drawn in replicate b; a row
    # weighs what its document does, and a replicate's row count varies with the documents drawn.
    draws = np.zeros((replicates, n_clusters))
    drawn = np.random.default_rng(test_seed).integers(0, n_clusters, (replicates, n_clusters))
    np.add.at(draws, (np.arange(replicates)[:, None], drawn), 1.0)
    row_weights = draws[:, cluster]
    row_counts = row_weights.sum(axis=1)

    def group_mean(group: list[SeededRun], levels: list[list[int]], seeds: np.random.SeedSequence) -> tuple[
            float, np.ndarray]:
        """The group's mean on the full test set and on each replicate (its seed levels drawn from `seeds`)."""
        full = metric_from_sums(np.stack([run.statistics.sum(axis=0) for run in group]), n)  # (runs,)
        per_run = np.stack([metric_from_sums(row_weights @ run.statistics, row_counts) for run in group], axis=1)
        resampled = _resampled_weights(levels, len(group), replicates, np.random.default_rng(seeds))
        return float(_level_weights(levels, len(group)) @ full), (resampled * per_run).sum(axis=1)

    levels_a, levels_b = _levels(group_a), _levels(group_b)
    # Seed levels: the same draws for both groups where their seeds are the same (paired), else each its own.
    paired = _paired_seeds(group_a, levels_a, group_b, levels_b)
    full_a, boot_a = group_mean(group_a, levels_a, first_seed)
    full_b, boot_b = group_mean(group_b, levels_b, first_seed if paired else other_seed)
    diffs = boot_a - boot_b
    alpha = 1.0 - confidence
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    p_value = min(1.0, 2.0 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0))))
    clustered = documents is not None
    return PairedDifference(full_a - full_b, float(low), float(high), p_value, n, replicates,
                            n_clusters if clustered else None, _covers(levels_a, levels_b, clustered=clustered))


def _covers(*groups: list[list[int]], clustered: bool) -> str:
    """The variance a bootstrap over groups of these seed levels covers (see `_levels`)."""
    sources = (["pretraining seeds"] if any(len(levels) > 1 for levels in groups) else []) \
        + (["fine-tuning seeds"] if any(len(runs) > 1 for levels in groups for runs in levels) else [])
    test = "test documents" if clustered else "test examples"
    return f"{test} only" if not sources else f"{', '.join(sources)} and {test}"


def _seeded(group: Sequence[SeededRun | np.ndarray | Sequence[Any]]) -> list[SeededRun]:
    runs = []
    for i, run in enumerate(group):
        seeded = run if isinstance(run, SeededRun) else SeededRun(np.asarray(run), seed=i)
        stats = np.asarray(seeded.statistics, dtype=float)
        runs.append(SeededRun(stats[:, None] if stats.ndim == 1 else stats, seeded.seed, seeded.pretrain_seed))
    return runs


def _levels(group: list[SeededRun]) -> list[list[int]]:
    """The runs' positions per pretraining seed, seeds in order, fine-tuning seeds in order within each."""
    by_seed: dict[int | None, list[int]] = {}
    for i in sorted(range(len(group)), key=lambda i: (_order(group[i].pretrain_seed), _order(group[i].seed))):
        by_seed.setdefault(group[i].pretrain_seed, []).append(i)
    return list(by_seed.values())


def _order(seed: int | None) -> int:
    return -1 if seed is None else seed


def _paired_seeds(group_a: list[SeededRun], levels_a: list[list[int]], group_b: list[SeededRun],
                  levels_b: list[list[int]]) -> bool:
    """Whether two groups share their seeds level by level (a group without pretraining, a random-init control,
    pairs on its fine-tuning seeds with a group of one pretraining seed)."""
    def fine_tuning(group: list[SeededRun], levels: list[list[int]]) -> list[list[int | None]]:
        return [[group[i].seed for i in runs] for runs in levels]

    pretraining_a, pretraining_b = ([group[runs[0]].pretrain_seed for runs in levels]
                                    for group, levels in ((group_a, levels_a), (group_b, levels_b)))
    return fine_tuning(group_a, levels_a) == fine_tuning(group_b, levels_b) and (
        pretraining_a == pretraining_b or None in pretraining_a + pretraining_b)


def _level_weights(levels: list[list[int]], n_runs: int) -> np.ndarray:
    """Each run's weight in the group mean: pretraining seeds count equally, and fine-tuning seeds equally
    within one (the plain mean over runs when every pretraining seed has as many fine-tuning runs)."""
    weights = np.zeros(n_runs)
    for runs in levels:
        weights[runs] = 1.0 / (len(levels) * len(runs))
    return weights


def _resampled_weights(levels: list[list[int]], n_runs: int, replicates: int,
                       rng: np.random.Generator) -> np.ndarray:
    """(replicates, runs): each run's weight in each replicate's group mean after the two seed levels' draws."""
    weights = np.zeros((replicates, n_runs))
    rows = np.arange(replicates)[:, None]
    top = rng.integers(0, len(levels), (replicates, len(levels)))
    for slot in range(len(levels)):
        for index, runs in enumerate(levels):
            # Drawn for every replicate so that the stream does not depend on the draws; kept where drawn.
            inner = np.asarray(runs)[rng.integers(0, len(runs), (replicates, len(runs)))]
            chosen = (top[:, slot] == index)[:, None] / (len(levels) * len(runs))
            np.add.at(weights, (np.broadcast_to(rows, inner.shape), inner), np.broadcast_to(chosen, inner.shape))
    return weights
