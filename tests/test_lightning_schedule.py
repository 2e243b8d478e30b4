"""The one lr schedule reproduces, to the bit, both schedules it replaced: pretraining's and transformers'."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import get_linear_schedule_with_warmup

from pretrain.lightning.optim import Optimisation
from pretrain.lightning.schedule import SCHEDULES, LrSchedule


def _previous_pretraining_factor(schedule: str, warmup: int, total: int, min_ratio: float, step: int) -> float:
    """The pretraining modules' schedule as it was written before it moved to LrSchedule."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    shape = 0.5 * (1.0 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress
    return min_ratio + (1.0 - min_ratio) * shape


def _lrs(scheduler: torch.optim.lr_scheduler.LRScheduler, optimizer: torch.optim.Optimizer, steps: int) -> list[float]:
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize(("warmup", "total"), [(0, 7), (3, 3), (3, 10), (10, 101), (17, 333)])
def test_fine_tuning_schedule_is_transformers_linear_to_the_bit(warmup: int, total: int) -> None:
    def optimizer() -> torch.optim.Optimizer:
        return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=3e-5)

    theirs_optimizer, ours_optimizer = optimizer(), optimizer()
    theirs = _lrs(get_linear_schedule_with_warmup(theirs_optimizer, warmup, total), theirs_optimizer, total + 5)
    schedule = LrSchedule("linear", warmup, total, arithmetic="transformers")
    ours = _lrs(schedule.scheduler(ours_optimizer), ours_optimizer, total + 5)
    assert ours == theirs


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("warmup", "total", "min_ratio"), [(0, 7, 0.0), (3, 10, 0.1), (10, 101, 0.1), (17, 333, 0.3)])
def test_pretraining_schedule_is_the_previous_one_to_the_bit(schedule: str, warmup: int, total: int,
                                                             min_ratio: float) -> None:
    ours = LrSchedule(schedule, warmup, total, min_ratio)  # type: ignore[arg-type]
    for step in range(total + 5):
        assert ours.factor(step) == _previous_pretraining_factor(schedule, warmup, total, min_ratio, step), step


def test_the_two_arithmetics_differ_where_they_were_meant_to() -> None:
    # Not interchangeable: the first warmup step and the last bit of the linear decay differ.
    pretraining = LrSchedule("linear", 2, 5)
    transformers = LrSchedule("linear", 2, 5, arithmetic="transformers")
    assert (pretraining.factor(0), transformers.factor(0)) == (0.5, 0.0)
    assert pretraining.factor(3) != transformers.factor(3)
    assert pretraining.factor(3) == pytest.approx(transformers.factor(3))


def test_optimisation_warmup_from_a_ratio_and_a_finite_length() -> None:
    group = Optimisation(lr=5e-5, weight_decay=0.01, warmup_ratio=0.1, arithmetic="transformers")
    assert group.lr_schedule(lambda: 55.0) == LrSchedule("linear", 5, 55, 0.0, "transformers")
    assert Optimisation(lr=1e-3, weight_decay=0.0, warmup_steps=4, max_steps=9).lr_schedule(lambda: 1e9).total == 9
    with pytest.raises(ValueError, match="no finite length"):
        group.lr_schedule(lambda: math.inf)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"lr": 0.0}, "model.lr=0.0 must be > 0"), ({"weight_decay": -1.0}, "model.weight_decay=-1.0"),
     ({"betas": (0.9, 1.0)}, "model.betas="), ({"warmup_ratio": 1.0}, "model.warmup_ratio=1.0"),
     ({"warmup_steps": -1}, "model.warmup_steps=-1"), ({"schedule": "step"}, "model.schedule='step'")],
)
def test_optimisation_rejects_bad_values(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Optimisation(**{"lr": 1e-3, "weight_decay": 0.01, **options})
