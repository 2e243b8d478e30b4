"""Before fine-tuning a task whose outputs repeat words of its input: can the backbone copy from its context?

Pretraining logs the copying probe at every validation as `val/copy_acc` (pretrain.models.copying: a random
sequence shown twice, the second copy predicted from the first; the induction-head test of Olsson et al.
2022), and its run folder's metrics.json keeps the last value. A backbone near zero there cannot copy
yet, so on generation, whose summaries repeat the names of their source, fine-tuning will stay near the
copy baseline whatever the recipe: `finetune` says so in one line before training, and goes on.
"""

from __future__ import annotations

from pathlib import Path

from pretrain.checkpoint import HF_PREFIX
from pretrain.run_layout import RunLayout
from pretrain.run_record import read_run_metrics
from tasks.registry import task_record

COPY_ACC_KEY = "val/copy_acc"
CANNOT_COPY_BELOW = 0.05  # copy accuracy under which a model cannot copy (chance: 1 / vocabulary size)


def backbone_copy_accuracy(checkpoint: str) -> float | None:
    """The last `val/copy_acc` of the pretraining run that wrote `checkpoint`, from the metrics.json of its run
    folder (<run>/checkpoints/*.ckpt, or the checkpoint's own folder); None when there is none: a Hugging Face
    backbone (hf:), a checkpoint moved out of its run, a run from before the probe, an unreadable file."""
    if not checkpoint or checkpoint.startswith(HF_PREFIX):
        return None
    try:
        value = read_run_metrics(RunLayout.of_checkpoint(Path(checkpoint)).root).get(COPY_ACC_KEY)
    except (OSError, ValueError):  # a damaged metrics.json must not stop a fine-tuning run
        return None
    return float(value) if isinstance(value, int | float) else None


def copy_warning(task: str, checkpoint: str, random_init: bool) -> str | None:
    """One warning line when `task` copies from its source (its record's `copies_source`; the report cites the
    probe too where a model misses a baseline) and the pretrained backbone cannot copy; None when
    the task does not copy, the weights are random anyway (the control), or the probe is absent or above
    CANNOT_COPY_BELOW."""
    if not task_record(task).copies_source or random_init:
        return None
    value = backbone_copy_accuracy(checkpoint)
    if value is None or value >= CANNOT_COPY_BELOW:
        return None
    return (f"warning: backbone {checkpoint} has in-context copy accuracy {value:.3f} ({COPY_ACC_KEY}, below "
            f"{CANNOT_COPY_BELOW}); {task} tasks that copy from the source will stay near the copy baseline")
