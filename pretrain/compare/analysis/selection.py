"""The learning rate of each (task, arm, pretrained | random-init) group, chosen on validation.

Every group starts from the same grid and follows the same rule (equal tuning budget): each rate is
fine-tuned once (first seed, first pretraining seed, final checkpoint; a random-init control from the same
architecture) and the rate whose restored best checkpoint scores best on the validation split wins. When the
winner is an edge of the rates tried, the grid is extended one step past it (`bracket`), within the plan's
bounds, until the choice is bracketed. Test scores are never looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Bracket:
    """Where a group's learning-rate search stands.

    `tried`: every rate of the group so far (the plan's grid and its extensions), ascending. `lr`: the rate
    chosen on validation once the search has ended, else None. `next_lr`: the rate to run next (the grid
    extended one step past the edge the best rate sits on), else None. `pending`: some tried rate has no
    finished run yet. `on_edge`: the final choice is still an edge of `tried` (the bound stopped the
    extension), which the report flags.
    """

    tried: list[float]
    lr: float | None = None
    next_lr: float | None = None
    pending: bool = False
    on_edge: bool = False


def extension(tried: list[float], lr: float) -> float | None:
    """The rate one step past `lr` when it is an edge of `tried` (at least two rates), with the ratio of the two
    rates at that edge, to two significant digits; None when `lr` is inside the grid."""
    if len(tried) < 2 or lr not in (tried[0], tried[-1]):
        return None
    edge, neighbour = (tried[0], tried[1]) if lr == tried[0] else (tried[-1], tried[-2])
    return float(f"{edge * edge / neighbour:.2g}")


def bracket(grid: list[float], bounds: tuple[float, float],
            record_of: Callable[[float], RunRecord | None]) -> Bracket:
    """Choose a group's rate so that it is not on an edge of what was tried.

    Start from `grid`; while the best rate on validation is the lowest or highest tried, extend the grid one step
    past it (within `bounds`, inclusive) and choose again. Fine-tuning optima move with the model and with
    pretraining (a random-init control usually wants a larger rate than its pretrained twin), so a fixed grid
    whose choice lands on its edge has not found the optimum, only a side of it."""
    low, high = bounds
    tried = sorted(grid)
    while True:
        records = {lr: record_of(lr) for lr in tried}
        if any(record is None for record in records.values()):
            return Bracket(tried, pending=True)
        lr = choose_lr(records)
        if lr is None:
            return Bracket(tried)
        step = extension(tried, lr)
        if step is None:
            return Bracket(tried, lr)
        if not low * (1 - 1e-9) <= step <= high * (1 + 1e-9):
            return Bracket(tried, lr, on_edge=True)
        tried = sorted([*tried, step])
        if record_of(step) is None:
            return Bracket(tried, next_lr=step)


def settled_choice(grid: list[float], bounds: tuple[float, float],
                   records: dict[float, RunRecord]) -> tuple[float | None, bool]:
    """(rate, on an edge) of a finished search, read from its runs: the bracket's choice, or, where the search
    stopped before it was bracketed (a plan interrupted, or one from before grids were extended), the best rate
    among the runs there are, flagged when it is an edge of them."""
    state = bracket(grid, bounds, records.get)
    if state.lr is not None:
        return state.lr, state.on_edge
    lr = choose_lr(records)
    return lr, lr is not None and len(records) > 1 and lr in (min(records), max(records))
