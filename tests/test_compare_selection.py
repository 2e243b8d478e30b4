"""The learning-rate search: the best rate on validation, and a grid extended past the edge it lands on."""

from __future__ import annotations

from pretrain.compare.analysis.selection import bracket, choose_lr, extension, settled_choice
from pretrain.compare.running.run_identity import RunIdentity
from pretrain.compare.schema import RunRecord
from tasks.outputs import FinetuneResults


def run(lr: float, val: float, task: str = "classification", monitor: str = "val/acc") -> RunRecord:
    identity = RunIdentity.finetuning("bert", task, 0, 0, lr, False, 8, True)
    result = FinetuneResults(task=task, family="bert", checkpoint="c", finetuned_checkpoint=None, seed=0, data="d",
                             truncated=0, metrics={}, monitor=monitor, val={monitor: val})
    return RunRecord(identity.run_id, "done", identity, 1.0, result)


def scores(curve: dict[float, float]) -> dict[float, RunRecord]:
    return {lr: run(lr, value) for lr, value in curve.items()}


def test_the_best_validation_score_wins_and_ties_go_to_the_smaller_rate() -> None:
    assert choose_lr(scores({1e-3: 0.7, 3e-3: 0.8, 1e-2: 0.6})) == 3e-3
    assert choose_lr(scores({1e-3: 0.8, 3e-3: 0.8})) == 1e-3
    loss = {lr: run(lr, v, "classification", "val/loss") for lr, v in {1e-3: 0.5, 3e-3: 0.4}.items()}
    assert choose_lr(loss) == 3e-3  # a loss monitor: lower is better


def test_an_edge_is_extended_by_the_ratio_at_that_edge() -> None:
    assert extension([3e-4, 1e-3, 3e-3], 3e-3) == 9e-3
    assert extension([3e-4, 1e-3, 3e-3], 3e-4) == 9e-5
    assert extension([3e-4, 1e-3, 3e-3], 1e-3) is None
    assert extension([1e-3], 1e-3) is None  # one rate: nothing to extend by


def test_the_search_extends_until_the_choice_is_bracketed() -> None:
    # Validation accuracy peaks at 1e-2: the grid [3e-4, 1e-3, 3e-3] must grow upwards twice.
    truth = {3e-4: 0.5, 1e-3: 0.6, 3e-3: 0.7, 9e-3: 0.8, 2.7e-2: 0.75}
    done: dict[float, RunRecord] = {lr: run(lr, truth[lr]) for lr in (3e-4, 1e-3, 3e-3)}
    first = bracket([3e-4, 1e-3, 3e-3], (1e-5, 1e-1), done.get)
    assert first.next_lr == 9e-3 and first.lr is None and not first.pending
    done[9e-3] = run(9e-3, truth[9e-3])
    second = bracket([3e-4, 1e-3, 3e-3], (1e-5, 1e-1), done.get)
    assert second.next_lr == 2.7e-2
    done[2.7e-2] = run(2.7e-2, truth[2.7e-2])
    final = bracket([3e-4, 1e-3, 3e-3], (1e-5, 1e-1), done.get)
    assert final.lr == 9e-3 and not final.on_edge and final.next_lr is None
    assert final.tried == [3e-4, 1e-3, 3e-3, 9e-3, 2.7e-2]


def test_a_bound_stops_the_search_and_the_choice_is_flagged() -> None:
    done = scores({3e-4: 0.5, 1e-3: 0.6, 3e-3: 0.7})
    state = bracket([3e-4, 1e-3, 3e-3], (1e-4, 5e-3), done.get)
    assert state.lr == 3e-3 and state.on_edge and state.next_lr is None
    assert settled_choice([3e-4, 1e-3, 3e-3], (1e-4, 5e-3), done) == (3e-3, True)


def test_a_search_waits_for_its_runs_and_reads_an_unfinished_one_as_flagged() -> None:
    done = scores({3e-4: 0.5, 1e-3: 0.6})
    assert bracket([3e-4, 1e-3, 3e-3], (1e-5, 1e-1), done.get).pending
    done[3e-3] = run(3e-3, 0.7)  # the edge wins, the extension never ran: the choice is reported as on the edge
    assert settled_choice([3e-4, 1e-3, 3e-3], (1e-5, 1e-1), done) == (3e-3, True)
    done[9e-3] = run(9e-3, 0.65)
    assert settled_choice([3e-4, 1e-3, 3e-3], (1e-5, 1e-1), done) == (3e-3, False)
