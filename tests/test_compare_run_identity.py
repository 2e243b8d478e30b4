"""A run's typed identity: the ledger's "meta" keys of its stage, its run id, and the grid-run rule."""

import json
from pathlib import Path

import pytest

from pretrain.compare.running.ledger import Ledger
from pretrain.compare.running.run_identity import RunIdentity, grid_run_id
from pretrain.compare.running.runs import curve, tokens_at_checkpoint
from pretrain.compare.schema import RunRecord

GRID = RunIdentity.finetuning("bert", "ner", seed=0, pretrain_seed=0, lr=1e-3, random_init=False, probe_step=8,
                              final=True)


def test_each_stage_writes_the_ledger_keys_it_always_had() -> None:
    assert RunIdentity.for_task("baseline", "ner").to_dict() == {"stage": "baseline", "task": "ner"}
    assert list(RunIdentity.pretraining("gpt", 1, 80).to_dict().items()) == [
        ("stage", "pretrain"), ("family", "gpt"), ("seed", 1), ("max_steps", 80)]
    assert list(GRID.to_dict()) == ["stage", "family", "task", "seed", "pretrain_seed", "lr", "random_init",
                                    "probe_step", "final"]  # no budget before the pretraining run finished
    budgeted = GRID.with_probe_budget(0.0, 0.0).to_dict()  # a zero budget (from_pretrained) is still written
    assert (budgeted["probe_tokens"], budgeted["probe_flops"]) == (0.0, 0.0)
    control = RunIdentity.finetuning("gpt", "ner", 1, 0, 3e-4, True, None, True)
    assert control.to_dict()["stage"] == "control" and control.to_dict()["probe_step"] is None


@pytest.mark.parametrize("identity", [RunIdentity.for_task("reference", "classification"),
                                      RunIdentity.pretraining("bert", 0, 40), GRID,
                                      GRID.with_probe_budget(1280.0, 9.5e6)])
def test_identity_round_trips_through_the_ledger(tmp_path: Path, identity: RunIdentity) -> None:
    ledger = Ledger(tmp_path / "ledger.json")
    ledger.save(RunRecord(identity.run_id, "done", identity, 1.0))
    raw = json.loads((tmp_path / "ledger.json").read_text())["runs"][identity.run_id]
    assert raw["meta"] == identity.to_dict()
    assert Ledger(tmp_path / "ledger.json").get(identity.run_id).identity == identity


def test_run_ids_are_stable() -> None:
    assert RunIdentity.for_task("baseline", "ner").run_id == "baseline-ner"
    assert RunIdentity.pretraining("gpt", 2, 80).run_id == "pretrain-gpt-seed2"
    assert GRID.run_id == "finetune-ner-bert-p0-lr0.001-seed0"  # the final checkpoint: no step in the id
    probe = RunIdentity.finetuning("bert", "ner", 1, 2, 3e-4, False, 4, False)
    assert probe.run_id == "finetune-ner-bert-p2-step4-lr0.0003-seed1"
    assert RunIdentity.finetuning("gpt", "ner", 1, 0, 3e-4, True, 8, True).run_id == "control-ner-gpt-lr0.0003-seed1"


def test_search_runs_are_the_first_seeds_final_checkpoint_at_any_rate_in_either_group() -> None:
    assert GRID.is_grid_run(0, 0)
    assert RunIdentity.finetuning("bert", "ner", 0, 0, 9e-5, False, 8, True).is_grid_run(0, 0)  # an extension
    assert not GRID.is_grid_run(1, 0) and not GRID.is_grid_run(0, 1)
    assert not RunIdentity.finetuning("bert", "ner", 0, 0, 1e-3, False, 4, False).is_grid_run(0, 0)  # a probe
    control = RunIdentity.finetuning("bert", "ner", 0, 0, 1e-3, True, 8, True)
    assert control.is_grid_run(0, 0)  # a random-init control searches its own rate
    assert control.run_id == grid_run_id("ner", "bert", 1e-3, 0, 0, random_init=True)
    assert not RunIdentity.finetuning("bert", "ner", 1, 0, 1e-3, True, 8, True).is_grid_run(0, 0)
    assert not RunIdentity.pretraining("bert", 0, 8).is_grid_run(0, 0)


def test_a_meta_that_does_not_fit_its_stage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown run stage 'x'"):
        RunIdentity.from_dict({"stage": "x"})
    with pytest.raises(ValueError, match=r"lacks \['max_steps'\]"):
        RunIdentity.from_dict({"stage": "pretrain", "family": "bert", "seed": 0})
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps({"runs": {"a": {"run_id": "a", "status": "done", "meta": {"stage": "pretrain"}}}}))
    with pytest.raises(ValueError, match="not a readable run ledger"):
        Ledger(path)


def test_tokens_after_a_logged_step_and_at_a_checkpoint_count_different_batches() -> None:
    # A row logged at step 3 has seen its own batch (4 batches); the checkpoint of step 4 was saved after 4 updates.
    points = curve([{"step": 3.0, "train/loss": 1.0}], tokens_per_step=10)
    assert points[0]["tokens"] == 40
    assert tokens_at_checkpoint([], 4, tokens_per_step=10) == 40.0
    logged = [{"step": 1, "train/tokens_seen": 18.0}, {"step": 5, "train/tokens_seen": 55.0}]
    assert tokens_at_checkpoint(logged, 4, tokens_per_step=10) == 18.0  # the count logged by then
