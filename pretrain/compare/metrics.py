"""Which logged metric decides each comparison, which way is better, its trivial baseline and its classical
reference.

Key names follow the suite's `split/name` convention.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    key: str  # as logged, e.g. "test/entity_f1"
    label: str  # for tables and plots
    higher_is_better: bool
    baseline_keys: tuple[str, ...] = ()  # the trivial baselines' keys in the same results, if any
    # The classical reference's key (pretrain.compare.references): shown beside the scores, never judged against.
    reference_key: str | None = None

    def strongest_baseline(self, values: dict[str, float]) -> tuple[str, float] | None:
        """The best of this metric's trivial baselines that `values` holds: the one a model must beat."""
        known = [(key, values[key]) for key in self.baseline_keys if key in values]
        if not known:
            return None
        return (max if self.higher_is_better else min)(known, key=lambda kv: kv[1])


# The headline metric per fine-tuning task, first; further metrics are reported but not judged.
TASK_METRICS: dict[str, tuple[MetricSpec, ...]] = {
    "classification": (
        MetricSpec("test/acc", "accuracy", True, ("baseline/majority_acc",), "reference/tfidf_logreg_acc"),
        MetricSpec("test/macro_f1", "macro F1", True, ("baseline/majority_macro_f1",),
                   "reference/tfidf_logreg_macro_f1"),
    ),
    "ner": (
        MetricSpec("test/entity_f1", "entity F1", True, ("baseline/unigram_tagger_f1",)),
    ),
    "generation": (
        MetricSpec("test/rougeL", "ROUGE-L", True, ("baseline/copy_rougeL", "baseline/constant_rougeL"),
                   "reference/tfidf_retrieval_rougeL"),
        MetricSpec("test/rouge1", "ROUGE-1", True, ("baseline/copy_rouge1", "baseline/constant_rouge1"),
                   "reference/tfidf_retrieval_rouge1"),
        MetricSpec("test/bleu", "BLEU", True),
    ),
}

# Pretraining: each family against its own trivial baseline (their objectives differ, so their losses
# are not directly comparable; bits per byte is, for the causal LM only).
PRETRAIN_METRICS: dict[str, tuple[MetricSpec, ...]] = {
    "bert": (
        MetricSpec("val/mlm_acc", "MLM accuracy (fixed 15% mask)", True, ("val/baseline_mlm_acc",)),
        MetricSpec("val/nsp_acc", "NSP accuracy", True),
        MetricSpec("val/mlm_loss", "MLM loss", False),
        MetricSpec("val/copy_acc", "in-context copy accuracy", True),
    ),
    "gpt": (
        MetricSpec("val/ppl", "perplexity", False, ("val/baseline_ppl",)),
        MetricSpec("val/bits_per_byte", "bits per byte", False),
        MetricSpec("val/loss", "LM loss", False),
        MetricSpec("val/copy_acc", "in-context copy accuracy", True),
    ),
}

# The pretraining loss of each family, plotted against tokens seen.
TRAIN_LOSS_KEYS: dict[str, tuple[str, ...]] = {
    "bert": ("train/loss", "train/mlm_loss"),
    "gpt": ("train/loss",),
}
VAL_LOSS_KEYS: dict[str, tuple[str, ...]] = {"bert": ("val/loss", "val/mlm_loss"), "gpt": ("val/loss",)}
