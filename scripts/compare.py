"""The comparison, end to end: pretrain BERT and GPT on equal budgets, fine-tune both on every task
with several seeds, and write reports/<experiment>/ (report.md, results.json, plots) plus W&B runs.

    python scripts/compare.py --config configs/compare/default.yaml       # `make compare`
    python scripts/compare.py --config configs/compare/default.yaml --pretrain.tokens 200000
    python scripts/compare.py --config configs/compare/default.yaml --print_config

Re-running the same plan resumes: finished runs are skipped, failed ones retried.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from pretrain.compare.pipeline import check_matched_parameters, execute, pretrain_steps
from pretrain.compare.plan import ResolvedPlan, parse_plan, validate
from pretrain.compare.runs import subprocess_cli


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
    print(f"[compare] {plan.experiment} ({plan.architecture} architecture): non-embedding parameters "
          f"bert {counts['bert']:,} / gpt {counts['gpt']:,}; pretraining steps bert {steps['bert']} / gpt {steps['gpt']} "
          f"x {plan.pretrain.tokens_per_step} positions; tasks {', '.join(plan.finetune.tasks)}; learning rates "
          f"{plan.finetune.lrs}; seeds {plan.finetune.seeds}; {plan.parallel_runs} run(s) at a time", flush=True)

    try:
        results = _execute(resolved, plan.subprocess_runs)
    except ValueError as error:  # e.g. the run folder holds another plan: nothing was run
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n== summary ==")
    for family, text in results["pretraining_verdicts"].items():
        print(f"pretrain {family}: {text}")
    for task, entry in results["tasks"].items():
        for verdict in entry["verdicts"][:1]:
            print(f"{task}: {verdict['text']}")
        if not entry["verdicts"]:
            print(f"{task}: no result (see the failed runs in the report)")
        for family, effect in entry.get("pretraining_effect", {}).items():
            print(f"{task}: pretraining effect {family.upper()} {effect['difference']:+.3g} "
                  f"[{effect['ci_low']:+.3g}, {effect['ci_high']:+.3g}] (pretrained minus random-init)")
    counts_ = results["counts"]
    print(f"runs: {counts_['done']} done, {counts_['failed']} failed, {counts_['skipped']} skipped; "
          f"report in {plan.report_dir()}/report.md")
    return 1 if counts_["failed"] or counts_["skipped"] else 0


def _execute(resolved: ResolvedPlan, subprocess_runs: bool) -> dict[str, Any]:
    if subprocess_runs:
        return execute(resolved, subprocess_cli("pretrain.cli"), subprocess_cli("tasks.cli"))
    from pretrain.cli import main as pretrain_main
    from tasks.cli import main as finetune_main

    return execute(resolved, pretrain_main, finetune_main)


if __name__ == "__main__":
    sys.exit(main())
