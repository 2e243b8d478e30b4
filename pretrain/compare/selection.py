"""The learning rate of each (task, family, pretrained | random-init) group, chosen on validation.

Both families get the same grid and the same selection rule (equal tuning budget): each grid value is
fine-tuned once (first seed, first pretraining seed, final checkpoint) and the value whose restored
best checkpoint scores best on the validation split wins. Test scores are never looked at.
"""

from __future__ import annotations

from pretrain.compare.schema import RunRecord
from tasks.outputs import FinetuneResults

# Validation monitors where lower is better (the fine-tuning configs' ModelCheckpoint monitors).
_LOWER_IS_BETTER = ("loss", "ppl")


def validation_score(record: RunRecord | None) -> tuple[str, float] | None:
    """(monitor, value) of a finished fine-tuning run, or None when it has none."""
    if record is None or record.status != "done" or not isinstance(record.result, FinetuneResults):
        return None
    monitor = record.result.monitor
    value = record.result.val.get(monitor) if monitor else None
    return None if value is None else (monitor, float(value))


def choose_lr(grid: dict[float, RunRecord | None]) -> float | None:
    """The rate with the best validation score; ties go to the smaller rate. None when no grid run finished."""
    scored = {lr: score for lr, score in ((lr, validation_score(r)) for lr, r in grid.items()) if score is not None}
    if not scored:
        return None
    lower = any(word in next(iter(scored.values()))[0] for word in _LOWER_IS_BETTER)
    return min(scored, key=lambda lr: ((scored[lr][1] if lower else -scored[lr][1]), lr))
