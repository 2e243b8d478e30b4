"""Runs side by side and threads per run follow the machine's cores unless the plan sets them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from pretrain.compare.planning import cores
from pretrain.compare.planning.cores import preparation_processes, side_by_side, usable_cores, widest_stage
from pretrain.compare.planning.plan import ComparePlan, FinetunePlan, parse_plan, validate
from pretrain.compare.running.pool import capture
from pretrain.compare.running.runs import pretrain_args

REPO = Path(__file__).resolve().parents[1]
# The default plan with its runs side by side left to the machine (what `parallel_runs: null` gives).
DEFAULT = ["--config", str(REPO / "configs/compare/default.yaml"), "--parallel_runs", "null"]


def test_the_default_plan_follows_the_cores() -> None:
    plan = parse_plan(DEFAULT)
    assert (plan.parallel_runs, plan.threads_per_run) == (None, None)
    # 3 tasks x 2 families, each searching 3 rates for the pretrained model and 3 for its random-init control: 36.
    assert widest_stage(plan) == 36
    assert side_by_side(plan, cores=2) == (2, 1)  # the 2-core machine: as before the rule
    assert side_by_side(plan, cores=8) == (8, 1)  # a laptop uses all of its cores
    assert side_by_side(plan, cores=64) == (36, 1)  # no more runs than a stage holds
    assert side_by_side(plan, cores=1) == (1, 1)


def test_values_the_plan_sets_are_kept() -> None:
    assert side_by_side(ComparePlan(parallel_runs=4), cores=8) == (4, 2)
    assert side_by_side(ComparePlan(parallel_runs=1, threads_per_run=3), cores=8) == (1, 3)
    assert side_by_side(ComparePlan(threads_per_run=2), cores=8) == (4, 2)  # runs = cores // threads
    narrow = ComparePlan(finetune=FinetunePlan(tasks=["ner"], seeds=[0], lrs=[1e-3], controls=0))
    assert widest_stage(narrow) == 2 and side_by_side(narrow, cores=8) == (2, 4)  # two pretrainings


def test_validate_records_the_resolved_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "usable_cores", lambda: 8)
    resolved = validate(parse_plan(DEFAULT), REPO, check_data=False)
    assert (resolved.plan.parallel_runs, resolved.plan.threads_per_run) == (8, 1)  # what plan.json records
    with pytest.raises(ValueError, match=r"threads_per_run=0 must be > 0"):
        validate(ComparePlan(threads_per_run=0), REPO, check_data=False)


def test_usable_cores_reads_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    assert usable_cores() == 3  # taskset / cpuset, not the machine's total
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cores() == 1


def test_a_run_gets_its_threads_and_the_plans_process_keeps_its_own() -> None:
    before = torch.get_num_threads()
    status, _, result, _ = capture(torch.get_num_threads, (), threads=before + 1)
    assert (status, result) == ("done", before + 1)
    assert torch.get_num_threads() == before  # one run at a time in the plan's process leaves it as it was


def test_pretraining_prepares_its_data_with_every_core_it_has(monkeypatch: pytest.MonkeyPatch) -> None:
    real = validate(parse_plan(["--config", str(REPO / "configs/compare/real.yaml")]), REPO, check_data=False)
    assert preparation_processes(real.plan, cores=32) == 32  # device slots: a pretraining run has the node
    default = ComparePlan()
    assert preparation_processes(default, cores=2) == 1  # two pretraining runs side by side share the cores
    assert preparation_processes(ComparePlan(parallel_runs=1), cores=8) == 8
    monkeypatch.setattr(cores, "usable_cores", lambda: 16)
    args = pretrain_args(real, "bert", 0, 100, Path("run"))
    assert args[args.index("--data.init_args.num_proc") + 1] == "16"
    two = validate(parse_plan(DEFAULT), REPO, check_data=False)
    monkeypatch.setattr(cores, "usable_cores", lambda: 2)
    assert "--data.init_args.num_proc" not in pretrain_args(two, "bert", 0, 100, Path("run"))
