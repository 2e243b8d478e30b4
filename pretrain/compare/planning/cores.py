"""How many runs of a plan go side by side, and with how many threads each, on the machine it runs on.

A plan's `parallel_runs` and `threads_per_run` are null by default, which means derived from the machine:

    cores   = the CPU cores this process may use: os.sched_getaffinity (so taskset, Slurm and container
              cpusets are respected), os.cpu_count() where that does not exist
    runs    = min(cores, the plan's widest stage)
    threads = max(1, cores // runs)

Small models use one core better than two (per-op threading overhead dominates at d_model 128; pool.py),
so a machine runs as many single-threaded runs as it has cores, and a plan with fewer runs that can go
side by side than cores gives each the spare cores as threads. The widest stage is the most runs of one
stage that can wait at once (pretrain.compare.running.pipeline): the learning-rate searches (families x tasks x
rates, twice with random-init controls) or the chosen rates' further seeds, probes and controls;
pretraining is narrower (one run per family and pretraining seed), so cores beyond it idle there. On the
2-core machine the default plan gets 2 runs x 1 thread; on 8 cores, 8 x 1. Either value set in the plan is
kept (a plan on accelerators sets parallel_runs: 1, configs/compare/real.yaml); with only threads_per_run
set, runs = min(cores // threads_per_run, the widest stage), at least 1. Threads apply to in-process runs;
a subprocess run (subprocess_runs) picks its own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # plan.py resolves a plan with this module: a runtime import would be circular
    from pretrain.compare.planning.plan import ComparePlan


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux: the affinity mask, not the machine's total
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def widest_stage(plan: ComparePlan) -> int:
    """The most runs of one stage of `plan` that can wait at once (see the module docstring)."""
    p, f = plan.pretrain, plan.finetune
    groups = len(plan.arms) * len(f.tasks)  # (task, arm) pairs
    searches = len(f.lrs) * (2 if f.controls else 1)  # the pretrained model's search and the control's own
    further = len(p.seeds) * p.probes * len(f.seeds) - 1 + max(0, f.controls - 1)  # per group, after its searches
    return max(len(plan.arms) * len(p.seeds), groups * searches, groups * further)


def side_by_side(plan: ComparePlan, cores: int | None = None) -> tuple[int, int]:
    """(runs side by side, threads per run) of `plan` on `cores` cores (default: this machine's): the plan's
    own values where it sets them, the rule of the module docstring where it leaves them null."""
    cores = usable_cores() if cores is None else cores
    runs = plan.parallel_runs
    if runs is None:  # as many as the cores hold (at the plan's threads per run, if set), at most the widest stage
        fit = cores if plan.threads_per_run is None else cores // plan.threads_per_run
        runs = max(1, min(fit, widest_stage(plan)))
    threads = plan.threads_per_run if plan.threads_per_run is not None else max(1, cores // runs)
    return runs, threads


def preparation_processes(plan: ComparePlan, cores: int | None = None) -> int:
    """Processes a pretraining run tokenizes and builds its examples with (the data module's num_proc): every
    core where a pretraining run has the node to itself (device slots: it takes every device, one run at a time),
    else its share of the cores (the runs' threads). The examples do not depend on it (pretrain.data)."""
    cores = usable_cores() if cores is None else cores
    return cores if plan.device_slots else side_by_side(plan, cores)[1]

