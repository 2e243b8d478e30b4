"""Which logged metric decides each comparison, which way is better, its trivial baseline and its classical
reference (tasks.metric_spec.MetricSpec): the fine-tuning tasks' from their records, pretraining's per family.

Key names follow the suite's `split/name` convention.
"""

from __future__ import annotations

from pretrain.arms import arm_record
from pretrain.family import MLM_PROBABILITY
from tasks.metric_spec import MetricSpec
from tasks.registry import TASKS, task_record

# The metrics per fine-tuning task (each task's record), its headline metric first; further metrics are reported
# but not judged.
TASK_METRICS: dict[str, tuple[MetricSpec, ...]] = {task: task_record(task).metrics for task in TASKS}

# Pretraining: each family against its own trivial baseline (their objectives differ, so their losses
# are not directly comparable; bits per byte is, for the causal LM only).
PRETRAIN_METRICS: dict[str, tuple[MetricSpec, ...]] = {
    "bert": (
        # Validation masks are seeded ("fixed") and at BERT's rate whatever a run trains at (eval_mlm_probability).
        MetricSpec("val/mlm_acc", f"MLM accuracy (fixed {MLM_PROBABILITY:.0%} mask)", True, ("val/baseline_mlm_acc",)),
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


def arm_pretrain_metrics(arm: str) -> tuple[MetricSpec, ...]:
    """An arm's pretraining metrics, headline first: the families' own for bert and gpt; a masked-only arm BERT's
    without NSP; an arm mixing causal and masked steps its MLM accuracy (it is fine-tuned as an encoder) and GPT's
    causal metrics."""
    if arm in PRETRAIN_METRICS:
        return PRETRAIN_METRICS[arm]
    masked = tuple(spec for spec in PRETRAIN_METRICS["bert"] if spec.key != "val/nsp_acc")
    if arm_record(arm).causal_share == 0.0:
        return masked
    return (*masked[:2], *PRETRAIN_METRICS["gpt"])


def arm_loss_keys(arm: str, keys_by_family: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The loss curve keys of an arm (TRAIN_LOSS_KEYS or VAL_LOSS_KEYS): the families' own for bert and gpt; BERT's
    for a masked-only arm; the masked mode's MLM loss for an arm mixing modes (its train/loss mixes both)."""
    if arm in keys_by_family:
        return keys_by_family[arm]
    if arm_record(arm).causal_share == 0.0:
        return keys_by_family["bert"]
    return tuple(key for key in keys_by_family["bert"] if key.endswith("mlm_loss"))
