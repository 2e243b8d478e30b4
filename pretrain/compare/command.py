"""The comparison as a command (`python scripts/compare.py`, `make compare`): validate the plan, check
the presets' sizes, run every run through the pretrain and finetune commands, print the answer.

Exit status: 0 when every run finished, 1 when some failed or were skipped (the report says which),
2 when the plan is invalid or the run folder holds another plan (nothing was run), 128 + the signal's number when
SIGTERM or SIGINT stopped it (143, 130: its runs stopped too, and a re-run resumes; running/stopping.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

import pretrain.cli
import tasks.cli
from pretrain.compare.analysis.ladder import ladder_tasks
from pretrain.compare.planning.ladder import ResolvedRung, resolve_rungs
from pretrain.compare.planning.plan import ComparePlan, ResolvedPlan, parse_plan, validate
from pretrain.compare.reporting.ladder_report import write_ladder_report
from pretrain.compare.running.pipeline import check_matched_parameters, execute, pretrain_steps
from pretrain.compare.running.runs import subprocess_cli
from pretrain.compare.running.stopping import PlanStopped
from pretrain.compare.schema import ComparisonResults

ESTIMATE = "--estimate"
HELP = ("-h", "--help")


def estimate_parser() -> argparse.ArgumentParser:
    """The estimator's flags, read before the plan's (pretrain.compare.planning.estimate)."""
    # No abbreviations: `--gp` must not silently become --gpus while the plan's parser reads the rest.
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, usage=argparse.SUPPRESS)
    group = parser.add_argument_group(f"cost estimate ({ESTIMATE}: no training; the other options here need it)")
    group.add_argument(ESTIMATE, action="store_true", help="print what the plan costs; train nothing")
    group.add_argument("--gpu", default="h100", help="accelerator: h100, h200, a100, ... or cpu (measured) "
                                                     "(default: %(default)s)")
    group.add_argument("--gpus", type=int, default=8, help="devices on the node (default: %(default)s)")
    group.add_argument("--mfu", type=float, default=0.3, help="assumed model FLOPs utilisation on a GPU "
                                                              "(default: %(default)s)")
    group.add_argument("--gpu-memory-gib", type=float, default=None, help="device memory, if not the table's")
    group.add_argument("--json", type=Path, default=None, help="also write the estimate to this file")
    return parser


def estimate_only_options(args: list[str]) -> list[str]:
    """The estimator's options among `args` other than --estimate itself (`--gpu h100` or `--gpu=h100`)."""
    given = {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
    options = [option for action in estimate_parser()._actions for option in action.option_strings]
    return [option for option in options if option in given and option != ESTIMATE]


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    if any(arg in HELP for arg in args):
        try:
            parse_plan(args)  # prints the plan's options and exits
        except SystemExit:
            print("\n" + estimate_parser().format_help(), flush=True)
            raise
        except ValueError as error:  # e.g. an overlay plan without its base
            print(f"error: {error}", file=sys.stderr)
            return 2
    flags, plan_args = estimate_parser().parse_known_args(args)
    if flags.estimate:
        return estimate_main(flags, plan_args)
    stray = estimate_only_options(args)
    if stray:
        # Without --estimate these would be ignored and the plan would train: a user asking for a cost.
        print(f"error: {', '.join(stray)} {'is an option' if len(stray) == 1 else 'are options'} of the cost "
              f"estimate; add {ESTIMATE} to print what the plan costs (nothing is trained), or drop "
              f"{'it' if len(stray) == 1 else 'them'} to run the plan", file=sys.stderr)
        return 2
    args = plan_args
    try:
        plan = parse_plan(args)
        resolved = validate(plan, Path.cwd(), check_data=not plan.sizes)  # a ladder checks each size's data
        rungs = resolve_rungs(plan, Path.cwd()) if plan.sizes else []
        counts = {} if rungs else check_matched_parameters(resolved)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if plan.wandb.mode == "offline":
        os.environ.setdefault("WANDB_MODE", "offline")
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    if rungs:
        return run_ladder(plan, rungs)
    steps = pretrain_steps(resolved)
    per_arm = " / ".join(f"{arm} {n}" for arm, n in steps.items()) + f" x {plan.pretrain.tokens_per_step} positions"
    if plan.pretrain.match == "real_tokens":
        per_arm += " (matching real tokens: a BERT-style arm's grow by its padding once its examples are built)"
    pretraining = (f"no pretraining: fine-tuning {resolved.pretrained['bert']} / {resolved.pretrained['gpt']}"
                   if resolved.pretrained else f"pretraining steps {per_arm}")
    # Released pairs bring their own architecture: the match check (check_matched_architecture) is not made.
    architecture = "architectures as released" if resolved.pretrained else f"{plan.architecture} architecture"
    print(f"[compare] {plan.experiment} ({architecture}): non-embedding parameters "
          f"bert {counts['bert']:,} / gpt {counts['gpt']:,}; {pretraining}; tasks {', '.join(plan.finetune.tasks)}; "
          f"learning rates {plan.finetune.lrs}; seeds {plan.finetune.seeds}; {resolved.plan.parallel_runs} run(s) at "
          f"a time, {resolved.plan.threads_per_run} thread(s) each", flush=True)

    try:
        results = run(resolved)
    except ValueError as error:  # e.g. the run folder holds another plan: nothing was run
        print(f"error: {error}", file=sys.stderr)
        return 2
    except PlanStopped as stop:
        print(f"[compare] {stop}; the same command resumes the plan (finished runs are kept, a stopped pretraining "
              "continues from its last checkpoint)", file=sys.stderr, flush=True)
        return stop.exit_status
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
                  f"[{d.ci_low:+.3g}, {d.ci_high:+.3g}] (pretrained minus random-init; the interval covers {d.covers})")
    done = results.counts
    print(f"runs: {done.done} done, {done.failed} failed, {done.skipped} skipped; "
          f"report in {plan.layout().report_file}")
    return 1 if done.failed or done.skipped else 0


def run_ladder(plan: ComparePlan, rungs: list[ResolvedRung]) -> int:
    """Every size's plan in turn (smallest first, as the plan lists them), then the ladder's report. A size that
    stops the ladder keeps its finished runs: the same command resumes it and skips the sizes already done."""
    for rung in rungs:
        params = " / ".join(f"{family} {n:,}" for family, n in rung.non_embedding_params.items())
        print(f"[ladder] {rung.rung.name}: {rung.rung.bert_model} / {rung.rung.gpt_model}, non-embedding parameters "
              f"{params}, {rung.resolved.plan.pretrain.tokens:,} pretraining tokens per family", flush=True)
    results: dict[str, ComparisonResults] = {}
    for i, rung in enumerate(rungs, 1):
        print(f"[ladder] size {i}/{len(rungs)}: {rung.rung.name} (experiment {rung.resolved.plan.experiment})",
              flush=True)
        try:
            results[rung.rung.name] = run(rung.resolved)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except PlanStopped as stop:
            print(f"[ladder] {stop}; the same command resumes the ladder", file=sys.stderr, flush=True)
            return stop.exit_status
    ladders = ladder_tasks(list(results.items()))  # the sizes in the plan's order
    written = write_ladder_report(plan.experiment, rungs, results, ladders, plan.layout().reports)
    print("\n== ladder ==")
    for task, ladder in ladders.items():
        print(f"{task}: {ladder.sentence()}")
    print(f"report: {', '.join(str(w) for w in written)}")
    incomplete = [name for name, result in results.items() if result.counts.failed or result.counts.skipped]
    return 1 if incomplete else 0


def run(resolved: ResolvedPlan) -> ComparisonResults:
    """Every run of the plan: in-process through the commands' `run` functions, or (`subprocess_runs`, for
    multi-GPU DDP) as `python -m pretrain.cli` / `python -m tasks.cli` child processes on the same argv."""
    if resolved.plan.subprocess_runs:
        return execute(resolved, subprocess_cli("pretrain.cli"), subprocess_cli("tasks.cli"))
    return execute(resolved, pretrain.cli.run, tasks.cli.run)


def estimate_main(flags: argparse.Namespace, args: list[str]) -> int:
    """`--estimate`: validate the plan (not its data: no hub needed), print and optionally write its cost."""
    from pretrain.compare.planning.estimate import (
        accelerator,
        check_fits,
        estimate,
        format_estimate,
        measure_cpu,
        write_json,
    )

    root = Path.cwd()
    try:
        plan = parse_plan(args)
        resolved = validate(plan, root, check_data=False)
        plans = [rung.resolved for rung in resolve_rungs(plan, root, check_data=False)] if plan.sizes else [resolved]
        estimates = []
        for each in plans:
            check_matched_parameters(each)
            device = (measure_cpu(each, root) if flags.gpu == "cpu" else
                      accelerator(flags.gpu, flags.gpus, flags.mfu, flags.gpu_memory_gib))
            estimates.append((each, estimate(each, device, root)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for each, result in estimates:
        print(format_estimate(result))
        if flags.json:
            path = flags.json if len(estimates) == 1 else flags.json.with_name(
                f"{flags.json.stem}-{each.plan.experiment}{flags.json.suffix}")
            write_json(result, path)
            print(f"wrote {path}")
    if len(estimates) > 1:
        wall = sum(result.total.wall_s for _, result in estimates)
        hours = [result.total.gpu_hours for _, result in estimates]
        print(f"[estimate] the ladder {plan.experiment}: {len(estimates)} sizes one after another, "
              f"{wall / 3600:.1f} h wall"
              + (f", {sum(h for h in hours if h is not None):.1f} GPU-hours" if all(h is not None for h in hours)
                 else ""))
    try:
        for each, result in estimates:
            check_fits(result, each)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
