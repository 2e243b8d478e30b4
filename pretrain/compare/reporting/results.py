"""The comparison's results from the run ledger: every run's metrics, per-task statistics over seeds,
baselines, budgets and provenance (the typed structure and its file, results.json: pretrain.compare.schema).

The report, the plots and the W&B summary table are all rendered from this one
structure, so what a reader sees is exactly what was measured and saved.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from pretrain.arms import MISSION_ARMS
from pretrain.compare.analysis.arms import compare_arms
from pretrain.compare.analysis.bootstrap import PairedDifference, SeededRun, paired_difference
from pretrain.compare.analysis.metrics import TASK_METRICS, arm_pretrain_metrics
from pretrain.compare.analysis.pretraining_spread import pretraining_spread
from pretrain.compare.analysis.selection import settled_choice, validation_score
from pretrain.compare.analysis.stats import summarize
from pretrain.compare.analysis.verdict import compare
from pretrain.compare.planning.cores import usable_cores
from pretrain.compare.running.run_identity import RunIdentity
from pretrain.compare.schema import (
    ComparisonResults,
    Convergence,
    Counts,
    Environment,
    FamilyPretraining,
    GridPoint,
    Group,
    LrChoice,
    MetricVerdict,
    PretrainingEffect,
    PretrainResult,
    Probe,
    ProbeGroup,
    RunRecord,
    SeedRun,
    TaskResults,
    WallTimes,
)
from pretrain.run_config import REPO
from tasks.metric_spec import MetricSpec
from tasks.outputs import FinetuneResults
from tasks.per_example import statistics

PACKAGES = (
    "torch", "lightning", "transformers", "datasets", "tokenizers", "torchmetrics", "torchdata", "wandb",
    "seqeval", "scipy", "scikit-learn", "matplotlib", "jsonargparse",
)



def environment(repo: Path = REPO) -> Environment:
    """Versions, git commit and machine: what a reader needs to reproduce or distrust a number."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return Environment(
        versions=versions,
        git_commit=_git(repo, "rev-parse", "HEAD"),
        git_dirty=bool(_git(repo, "status", "--porcelain", "--untracked-files=no")),
        platform=platform.platform(),
        cpu_count=os.cpu_count(),
        accelerator=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        usable_cores=usable_cores(),
    )


def aggregate(plan: dict[str, Any], records: list[RunRecord], env: Environment,
              elapsed_s: float | None = None) -> ComparisonResults:
    """Turn the ledger's run records into the results structure (pure: no I/O).

    Records carry their identity's stage: "pretrain" (per family and pretraining seed), "finetune" (per
    family, task, pretraining seed, probe step, learning rate, seed), "control" (random-init
    fine-tuning, per family, task, learning rate, seed), "baseline" or "reference" (per task; a reference is
    kept apart from the baselines, and no verdict reads it). Runs of seeds the plan no longer has (a run folder
    resumed with other seeds) stay in the ledger and are left out here.
    """
    records = [r for r in records if _in_plan(r.identity, plan)]
    baselines, references = ({str(r.identity.task): r.result for r in records if r.identity.stage == stage
                              and r.status == "done"} for stage in ("baseline", "reference"))
    arms = list(plan.get("arms", MISSION_ARMS))
    pretraining: dict[str, FamilyPretraining] = {}
    for arm in arms:
        runs = sorted((r for r in records if r.identity.stage == "pretrain" and r.identity.family == arm),
                      key=lambda r: r.identity.seed or 0)
        if not runs:
            continue
        first = runs[0]  # curves, model facts and attention of the first pretraining seed
        pretraining[arm] = FamilyPretraining(
            first.status, first.wall_s, first.error, _pretrain_result(first),
            {str(r.identity.seed): SeedRun(r.status, r.wall_s, p.metrics if (p := _pretrain_result(r)) else {})
             for r in runs})
    tasks = {task: _task(task, plan, records, baselines.get(task, {}), references.get(task, {}))
             for task in plan["finetune"]["tasks"]}
    pretrain_verdicts: dict[str, str] = {}
    for arm in arms:
        entry = pretraining.get(arm)
        if entry is not None and entry.result is not None and entry.result.metrics:
            # the headline metric
            pretrain_verdicts[arm] = _against_baseline(arm_pretrain_metrics(arm)[0], entry.result.metrics)
            if "val/nsp_acc" in entry.result.metrics:
                pretrain_verdicts[arm] += " " + nsp_note(entry.result.metrics["val/nsp_acc"])
    walls: dict[str, float] = {}
    for record in records:
        stage = record.identity.stage
        walls[stage] = walls.get(stage, 0.0) + record.wall_s
    return ComparisonResults(
        experiment=plan["experiment"], plan=plan, environment=env, pretraining=pretraining,
        pretraining_verdicts=pretrain_verdicts, tasks=tasks, runs=list(records),
        counts=Counts(*(sum(r.status == s for r in records) for s in ("done", "failed", "skipped"))),
        wall_s=WallTimes(elapsed_s, walls),
    )


# NSP validation accuracy within this distance of chance (0.5, balanced labels) counts as not learning: about
# twice the standard error of an accuracy over 160 examples (10 validation batches of 16), the fewest a plan
# validates on; the default plan validates on the whole built-in split (666 examples, standard error 0.02).
NSP_CHANCE_MARGIN = 0.08


def _in_plan(run: RunIdentity, plan: dict[str, Any]) -> bool:
    """Whether `run` belongs to the plan's seeds (random-init controls start from no pretraining seed)."""
    if run.stage == "pretrain":
        return run.seed in plan["pretrain"]["seeds"]
    if run.is_finetuning:
        return run.seed in plan["finetune"]["seeds"] and (bool(run.random_init)
                                                          or run.pretrain_seed in plan["pretrain"]["seeds"])
    return True


def nsp_note(accuracy: float) -> str:
    """Whether BERT's second objective learned: an NSP at chance is a bug to fix, not a result to report."""
    if accuracy < 0.5 + NSP_CHANCE_MARGIN:
        return (f"NSP accuracy {accuracy:.3f} is at chance (0.5): next-sentence prediction learned nothing, so this "
                "BERT is an MLM model with a noise loss; check the NSP examples before reading its results.")
    return f"NSP accuracy {accuracy:.3f} (chance 0.5): next-sentence prediction learns."


def _pretrain_result(record: RunRecord) -> PretrainResult | None:
    return record.result if isinstance(record.result, PretrainResult) else None


def _finetune_result(record: RunRecord) -> FinetuneResults | None:
    return record.result if record.status == "done" and isinstance(record.result, FinetuneResults) else None


def _chosen_lrs(plan: dict[str, Any], runs: list[RunRecord]) -> tuple[dict[str, LrChoice], list[GridPoint]]:
    """The learning rate each arm's pretrained and random-init groups chose on validation, and every search run
    it was chosen from (the plan's grid and its extensions)."""
    p, f = plan["pretrain"], plan["finetune"]
    bounds = tuple(f.get("lr_bounds") or (min(f["lrs"]), max(f["lrs"])))
    chosen: dict[str, LrChoice] = {}
    grid: list[GridPoint] = []
    for family in plan.get("arms", MISSION_ARMS):
        states: dict[bool, tuple[float | None, bool]] = {}
        for random_init in (False, True):
            by_lr = {r.identity.lr: r for r in runs if r.identity.family == family
                     and bool(r.identity.random_init) == random_init and r.identity.is_grid_run(f["seeds"][0],
                                                                                              p["seeds"][0])}
            if not by_lr:
                continue
            for lr, record in sorted(by_lr.items()):
                score = validation_score(record)
                result = _finetune_result(record)
                steps = result.steps if result is not None else None
                epochs = (steps * f["batch_size"] / result.train_examples
                          if result is not None and steps is not None and result.train_examples else None)
                grid.append(GridPoint(family, lr, record.status, score[0] if score else None,
                                      score[1] if score else None, random_init, steps, epochs))
            states[random_init] = settled_choice(f["lrs"], (bounds[0], bounds[1]), by_lr)
        if False in states:
            control = states.get(True, (None, False))
            chosen[family] = LrChoice(states[False][0], control[0], states[False][1], control[1])
    return chosen, grid


def _task(task: str, plan: dict[str, Any], records: list[RunRecord], baselines: dict[str, float],
          references: dict[str, float]) -> TaskResults:
    runs = [r for r in records if r.identity.is_finetuning and r.identity.task == task]
    chosen, grid = _chosen_lrs(plan, runs)
    arms = list(plan.get("arms", MISSION_ARMS))

    def selected(family: str, random_init: bool) -> list[RunRecord]:
        choice = chosen.get(family)
        lr = None if choice is None else choice.random_init if random_init else choice.pretrained
        return [r for r in runs if r.identity.family == family and r.identity.random_init == random_init
                and r.identity.lr == lr]

    probes: list[Probe] = []  # one entry per probe index; the families' step counts may differ (FLOPs)
    steps = {family: sorted({r.identity.probe_step for r in selected(family, False)}) for family in arms}
    for index in range(max(len(s) for s in steps.values())):
        families: dict[str, ProbeGroup] = {}
        for family in arms:
            pretrained = selected(family, False)
            family_steps = steps[family]
            step = family_steps[index] if index < len(family_steps) else None
            group = _group([r for r in pretrained if r.identity.probe_step == step])
            families[family] = ProbeGroup(**vars(group), step=step)
        if any(entry.runs or entry.failed_seeds for entry in families.values()):
            probes.append(Probe(max(e.step or 0 for e in families.values()), families))
    controls = {family: _group(selected(family, True)) for family in arms if selected(family, True)}
    final = {family: [r for r in selected(family, False) if r.identity.final] for family in arms}
    verdicts: list[MetricVerdict] = []
    effects: dict[str, PretrainingEffect] = {}
    headline = TASK_METRICS[task][0]
    if probes:
        last = probes[-1].families
        for spec in TASK_METRICS[task]:
            a, b = (last[f].metrics.get(spec.key) for f in MISSION_ARMS)
            if a is None or b is None:
                continue
            strongest = spec.strongest_baseline(baselines)
            baseline = strongest[1] if strongest else None
            paired = _paired(task, final["bert"], final["gpt"]) if spec is headline else None
            # One pretraining run per family: the gap is also judged against the spread a plan with several
            # pretraining seeds measured (the plan's pretraining_spread), which nothing here can see.
            measured = plan["finetune"].get("pretraining_spread", {}).get(task)
            one_run = len(plan["pretrain"]["seeds"]) == 1
            verdict = compare(spec.label, ("BERT", a), ("GPT", b), higher_is_better=spec.higher_is_better,
                              baseline=baseline, paired=paired,
                              pretraining_spread=measured if spec is headline and one_run else None)
            verdicts.append(MetricVerdict(spec.key, verdict, paired))
    for family in arms:
        control = selected(family, True)
        effect = _paired(task, final[family], control)
        if effect is not None:
            effects[family] = PretrainingEffect(headline.key, effect)
    summaries = {arm: summary for arm, group in (probes[-1].families.items() if probes else ())
                 if (summary := group.metrics.get(headline.key)) is not None}
    comparisons = compare_arms(arms, headline.key, summaries,
                               lambda arm, against: _paired(task, final[arm], final[against]))
    scores = {family: _scores_by_pretraining_seed(final[family], headline.key) for family in MISSION_ARMS}
    cap = plan["finetune"].get("task_steps", {}).get(task, plan["finetune"]["max_steps"])
    return TaskResults(baselines=baselines, probes=probes, controls=controls, lr=chosen, grid=grid,
                       pretraining_effect=effects, verdicts=verdicts,
                       failed=[r.run_id for r in runs if r.status != "done"], references=references,
                       arm_comparisons=comparisons, pretraining_spread=pretraining_spread(headline.key, scores),
                       convergence=_convergence(runs, cap))


def _convergence(runs: list[RunRecord], cap: int) -> Convergence | None:
    """Which finished runs validation ended (or whose best checkpoint came before `cap`), and which the cap did."""
    finished = [(r.run_id, result) for r in runs if (result := _finetune_result(r)) is not None
                and result.best_step is not None and result.steps is not None]
    if not finished:
        return None
    return Convergence(len(finished), sum(result.steps < cap for _, result in finished),
                       sorted(run_id for run_id, result in finished if result.best_step >= cap))


def _scores_by_pretraining_seed(runs: list[RunRecord], metric: str) -> dict[int, list[float]]:
    """The finished runs' `metric`, by the pretraining seed they start from."""
    scores: dict[int, list[float]] = {}
    for record in runs:
        result = _finetune_result(record)
        if result is not None and metric in result.metrics and record.identity.pretrain_seed is not None:
            scores.setdefault(record.identity.pretrain_seed, []).append(result.metrics[metric])
    return scores


def _group(runs: list[RunRecord]) -> Group:
    """Seeds, budgets and metric summaries of a group of runs (pretraining seeds x fine-tuning seeds)."""
    done = [(r, result) for r in runs if (result := _finetune_result(r)) is not None]
    keys = sorted({k for _, result in done for k in result.metrics})
    first = runs[0].identity if runs else None
    return Group(
        seeds=[r.identity.seed for r, _ in done],
        pretrain_seeds=sorted({seed for r, _ in done if (seed := r.identity.pretrain_seed) is not None}),
        runs=[r.run_id for r, _ in done],
        failed_seeds=[r.identity.seed for r in runs if r.status != "done"],
        lr=first.lr if first else None,
        tokens=first.probe_tokens if first else None,
        flops=first.probe_flops if first else None,
        metrics={k: summarize([result.metrics[k] for _, result in done if k in result.metrics]) for k in keys},
    )


def _paired(task: str, first: list[RunRecord], second: list[RunRecord]) -> PairedDifference | None:
    """Paired hierarchical bootstrap of the task's headline metric between two groups (pretraining seeds,
    fine-tuning seeds, test documents: pretrain.compare.analysis.bootstrap), when both recorded per-example
    scores. A random-init control has no pretraining seed to resample."""
    groups = [[(SeededRun(statistics(task, result.per_example), r.identity.seed,
                          None if r.identity.random_init else r.identity.pretrain_seed), result.documents)
               for r in group if (result := _finetune_result(r)) is not None and result.per_example]
              for group in (first, second)]
    if not groups[0] or not groups[1]:
        return None
    named = {tuple(documents) for group in groups for _, documents in group if documents is not None}
    if len(named) > 1:
        raise ValueError(f"{task}: fine-tuning runs name different test documents; a paired bootstrap needs one test "
                         "set (were they tested on different data?)")
    documents = list(named.pop()) if named else None  # results written before documents were: one row each
    return paired_difference([run for run, _ in groups[0]], [run for run, _ in groups[1]], documents=documents)


def _against_baseline(spec: MetricSpec, metrics: dict[str, float]) -> str:
    if spec.key not in metrics:
        return f"{spec.label}: not logged."
    value = metrics[spec.key]
    strongest = spec.strongest_baseline(metrics)
    if strongest is None:
        return f"{spec.label}: {value:.4g} (no baseline logged)."
    beats = (value > strongest[1]) == spec.higher_is_better
    return (f"{spec.label}: {value:.4g} vs trivial baseline {strongest[1]:.4g} -- "
            f"{'better' if beats else 'NOT better'} than the baseline.")


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()
