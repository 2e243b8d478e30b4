"""The learning rate of each (task, family, pretrained | random-init) group, chosen on validation.

Both families get the same grid and the same selection rule (equal tuning budget): each grid value is
fine-tuned once (first seed, first pretraining seed, final checkpoint) and the value whose restored
best checkpoint scores best on the validation split wins. Test scores are never looked at.
"""

from __future__ import annotations

from pretrain.compare.schema import RunRecord
from tasks.outputs import FinetuneResults
from tasks.registry import task_record


def validation_score(record: RunRecord | None) -> tuple[str, float] | None:
    """(monitor, value) of a finished fine-tuning run, or None when it has none."""
    if record is None or record.status != "done" or not isinstance(record.result, FinetuneResults):
        return None
    monitor = record.result.monitor
    value = record.result.val.get(monitor) if monitor else None
    return None if value is None else (monitor, float(value))


def monitor_higher_is_better(result: FinetuneResults, monitor: str) -> bool:
    """Which way the run's validation monitor is better: its task's record says (tasks.record.Task.metric)."""
    return task_record(result.task).metric(monitor.split("/", 1)[-1]).higher_is_better


def choose_lr(grid: dict[float, RunRecord | None]) -> float | None:
    """The rate with the best validation score; ties go to the smaller rate. None when no grid run finished."""
    scored = {lr: score for lr, score in ((lr, validation_score(r)) for lr, r in grid.items()) if score is not None}
    if not scored:
        return None
    first_lr = next(iter(scored))
    first = grid[first_lr]
    assert first is not None and isinstance(first.result, FinetuneResults)  # validation_score scored it
    sign = 1.0 if monitor_higher_is_better(first.result, scored[first_lr][0]) else -1.0
    return min(scored, key=lambda lr: (-sign * scored[lr][1], lr))
