"""The comparison as a command (`python scripts/compare.py`, `make compare`): validate the plan, check
the presets' sizes, run every run through the pretrain and finetune commands, print the answer.

Exit status: 0 when every run finished, 1 when some failed or were skipped (the report says which),
2 when the plan is invalid or the run folder holds another plan (nothing was run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

import pretrain.cli
import tasks.cli
from pretrain.compare.pipeline import check_matched_parameters, execute, pretrain_steps
from pretrain.compare.plan import ResolvedPlan, parse_plan, validate
from pretrain.compare.runs import subprocess_cli
from pretrain.compare.schema import ComparisonResults


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    try:
        plan = parse_plan(args)
        resolved = validate(plan, Path.cwd())
        counts = check_matched_parameters(resolved)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if plan.wandb.mode == "offline":
        os.environ.setdefault("WANDB_MODE", "offline")
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    steps = pretrain_steps(resolved)
    pretraining = (f"no pretraining: fine-tuning {resolved.pretrained['bert']} / {resolved.pretrained['gpt']}"
                   if resolved.pretrained else f"pretraining steps bert {steps['bert']} / gpt {steps['gpt']} x "
                   f"{plan.pretrain.tokens_per_step} positions")
    print(f"[compare] {plan.experiment} ({plan.architecture} architecture): non-embedding parameters "
          f"bert {counts['bert']:,} / gpt {counts['gpt']:,}; {pretraining}; tasks {', '.join(plan.finetune.tasks)}; "
          "learning rates "
          f"{plan.finetune.lrs}; seeds {plan.finetune.seeds}; {plan.parallel_runs} run(s) at a time", flush=True)

    try:
        results = run(resolved)
    except ValueError as error:  # e.g. the run folder holds another plan: nothing was run
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n== summary ==")
    for family, text in results.pretraining_verdicts.items():
        print(f"pretrain {family}: {text}")
    for task, entry in results.tasks.items():
        for verdict in entry.verdicts[:1]:
            print(f"{task}: {verdict.verdict.text}")
        if not entry.verdicts:
            print(f"{task}: no result (see the failed runs in the report)")
        for family, effect in entry.pretraining_effect.items():
            d = effect.paired
            print(f"{task}: pretraining effect {family.upper()} {d.difference:+.3g} "
                  f"[{d.ci_low:+.3g}, {d.ci_high:+.3g}] (pretrained minus random-init)")
    done = results.counts
    print(f"runs: {done.done} done, {done.failed} failed, {done.skipped} skipped; "
          f"report in {plan.report_dir()}/report.md")
    return 1 if done.failed or done.skipped else 0


def run(resolved: ResolvedPlan) -> ComparisonResults:
    """Every run of the plan: in-process through the commands' `run` functions, or (`subprocess_runs`, for
    multi-GPU DDP) as `python -m pretrain.cli` / `python -m tasks.cli` child processes on the same argv."""
    if resolved.plan.subprocess_runs:
        return execute(resolved, subprocess_cli("pretrain.cli"), subprocess_cli("tasks.cli"))
    return execute(resolved, pretrain.cli.run, tasks.cli.run)
