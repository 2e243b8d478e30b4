"""Execute a validated plan, then aggregate and write the report. The runs, and what each waits for:

    baselines        trivial baselines of every task (on the same test rows the models are scored on)
    references       classical references (TF-IDF + logistic regression, TF-IDF retrieval) on those rows:
                     shown beside the scores, not judged against (pretrain.compare.analysis.references)
    pretrain         each arm (pretrain.arms: bert and gpt, and any other objective the plan names) x
                     pretraining seed, the same budget (tokens seen, or FLOPs)
    grid             each (task, arm, pretrained | random-init) group x learning rate, first seed, final
                     checkpoint: after the arm's first pretraining seed; a group whose best rate is an
                     edge of its grid runs one rate further (analysis.selection.bracket) and chooses again
    seeds            the group's rate: the remaining seeds (and pretraining seeds and probes) of the
                     pretrained group, the remaining `controls` seeds of the random-init one

Up to `parallel_runs` runs go side by side, each starting as soon as what it waits for has finished; with
`device_slots`, a pretraining run takes every slot and a fine-tuning run one (pretrain.compare.running.slots).
Every run goes through the ledger, so a re-run resumes: finished runs are skipped, failed ones retried.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from pretrain.arms import arm_record
from pretrain.blocks.config import TransformerConfig
from pretrain.checkpoint import HF_PREFIX, load_backbone
from pretrain.compare.analysis.baselines import task_baseline
from pretrain.compare.analysis.references import REFERENCE_TASKS, task_reference
from pretrain.compare.analysis.selection import Bracket, bracket
from pretrain.compare.planning.cores import preparation_processes, side_by_side
from pretrain.compare.planning.plan import ResolvedPlan
from pretrain.compare.reporting.report import write_report
from pretrain.compare.reporting.results import aggregate, environment
from pretrain.compare.reporting.wandb_summary import log_summary
from pretrain.compare.running.ledger import Ledger
from pretrain.compare.running.pool import Job, Progress, run_jobs
from pretrain.compare.running.run_identity import RunIdentity, grid_run_id, pretrain_run_id
from pretrain.compare.running.runs import (
    Cli,
    attention_example,
    call,
    curve,
    final_metrics,
    finetune_args,
    model_facts,
    predicted_fraction,
    pretrain_args,
    probe_checkpoints,
    read_metrics_csv,
    tokens_at_checkpoint,
)
from pretrain.compare.running.slots import EVERY_SLOT, slot_names
from pretrain.compare.schema import ComparisonResults, PretrainResult, RunRecord
from pretrain.data.caching import atomic_write
from pretrain.data.datamodules import BertDataModule
from pretrain.family import family_record
from pretrain.models import count_parameters, flops_per_token
from pretrain.run_layout import RunLayout
from tasks.outputs import FinetuneResults, read_results

ATTENTION_TEXT = "Return the number of items in a container, counting each key once."


def check_matched_parameters(resolved: ResolvedPlan) -> dict[str, int]:
    """Non-embedding parameters per family, from the presets, before any training; refuse a gap above
    `param_tolerance`. Kaplan et al. (2020, arXiv:2001.08361) show loss tracks non-embedding parameters;
    a comparison at unequal counts would measure size, not objective."""
    counts = {family: facts["non_embedding_params"] for family, facts in preset_facts(resolved).items()}
    gap = abs(counts["bert"] - counts["gpt"]) / max(counts.values())
    if gap > resolved.plan.param_tolerance:
        raise ValueError(
            f"non-embedding parameters differ by {gap:.1%} (bert {counts['bert']:,}, gpt {counts['gpt']:,}), more than "
            f"param_tolerance={resolved.plan.param_tolerance}; choose presets of matching size"
        )
    return counts


def preset_config(resolved: ResolvedPlan, family: str) -> TransformerConfig:
    """A family's preset with the plan's vocabulary size (the tokenizer's, set at run time)."""
    return TransformerConfig(**{**TransformerConfig.from_yaml(resolved.model_presets[family]).to_dict(),
                                "vocab_size": resolved.plan.pretrain.vocab_size})


def preset_facts(resolved: ResolvedPlan, seq_len: int | None = None) -> dict[str, dict[str, int]]:
    """Parameters, non-embedding parameters and training FLOPs per token (at `seq_len`, default the plan's
    pretraining length) of each arm's preset (its family's; meta device: no memory), or of each family's
    Hugging Face folder (`pretrain.from_pretrained`)."""
    facts = {}
    for arm in resolved.plan.arms:
        family = arm_record(arm).family
        record = family_record(family)
        if resolved.pretrained:
            backbone = load_backbone(f"{HF_PREFIX}{resolved.pretrained[family]}", family)
            model, config = backbone.model, backbone.config
        else:
            config = preset_config(resolved, family)
            with torch.device("meta"):
                model = record.build(config, nsp=arm_record(arm).nsp and resolved.plan.pretrain.nsp)
        facts[arm] = {
            "params": count_parameters(model),
            "non_embedding_params": count_parameters(model, exclude_embeddings=True),
            "flops_per_token": flops_per_token(model, config, seq_len or resolved.plan.pretrain.seq_len,
                                               arm_predicted_fraction(resolved, arm)),
        }
    return facts


def arm_predicted_fraction(resolved: ResolvedPlan, arm: str) -> float:
    """The share of positions `arm`'s objective predicts, at the plan's causal share."""
    return arm_record(arm).predicted_fraction(resolved.plan.pretrain.arm_causal_share(arm))


def pretrain_steps(resolved: ResolvedPlan, fill: Mapping[str, float] | None = None) -> dict[str, int]:
    """Steps per arm. `match: tokens`: the plan's steps for all. `match: real_tokens`: the plan's steps over each
    arm's `fill` (real_token_fill: real tokens per position), rounded up, so every arm reads at least the real
    tokens of a full-sequence arm; without `fill` (an estimate, before any data is prepared) the plan's steps.
    `match: flops`: the arm with the most FLOPs per token gets the plan's steps, the others proportionally more,
    so all spend the same FLOPs."""
    p = resolved.plan.pretrain
    if p.match == "real_tokens" and fill is not None:
        return {arm: math.ceil(p.max_steps / fill[arm]) for arm in resolved.plan.arms}
    if p.match in ("tokens", "real_tokens"):
        return {arm: p.max_steps for arm in resolved.plan.arms}
    flops = {arm: facts["flops_per_token"] for arm, facts in preset_facts(resolved).items()}
    most = max(flops.values())
    return {arm: round(p.max_steps * most / flops[arm]) for arm in resolved.plan.arms}


def execute(resolved: ResolvedPlan, pretrain_cli: Cli, finetune_cli: Cli) -> ComparisonResults:
    """Run (or resume) every run of the plan and write reports/<experiment>/; returns the results.

    `pretrain_cli` and `finetune_cli` run the commands on the argv of runs.py: in-process `pretrain.cli.run`
    and `tasks.cli.run` (the latter returns the run's FinetuneResults), or `runs.subprocess_cli` (returns
    nothing: the results file is read with the same typed reader)."""
    plan = resolved.plan
    arms = plan.arms
    layout = plan.layout()
    layout.runs.mkdir(parents=True, exist_ok=True)
    plan_dict = asdict(plan)
    _check_same_plan(layout.plan_file, plan_dict)
    atomic_write(layout.plan_file, lambda tmp: tmp.write_text(json.dumps(plan_dict, indent=2)))
    ledger = Ledger(layout.ledger_file)
    p, f = plan.pretrain, plan.finetune
    fill = real_token_fill(resolved) if p.match == "real_tokens" and not resolved.pretrained else None
    steps = pretrain_steps(resolved, fill)
    workers, threads = side_by_side(plan)  # validate() resolved them: the plan's numbers, typed
    progress = Progress(total=count_runs(resolved), workers=workers)
    start = time.perf_counter()

    extensions: set[str] = set()
    groups = [(task, random_init) for task in f.tasks for random_init in ((False, True) if f.controls else (False,))]

    def grid_job(task: str, arm: str, lr: float, random_init: bool) -> Job | None:
        """A run of a group's learning-rate search: first seed, first pretraining seed, final checkpoint."""
        return _finetune_job(resolved, ledger, finetune_cli, task, arm, p.seeds[0], None, f.seeds[0], lr, random_init)

    def grid_jobs(arm: str) -> list[Job | None]:
        """The starting grid of every (task, pretrained | random-init) group of an arm."""
        return [grid_job(task, arm, lr, random_init) for task, random_init in groups for lr in f.lrs]

    def search(task: str, arm: str, random_init: bool) -> Bracket:
        return bracket(f.lrs, (f.lr_bounds[0], f.lr_bounds[1]),
                       lambda lr: ledger.get(grid_id(resolved, task, arm, lr, random_init)))

    def after_search(task: str, arm: str, random_init: bool, pretrain_seeds: list[int]) -> list[Job | None]:
        """What a group's search makes runnable: the next rate past an edge; once chosen, the rate's remaining
        seeds (and probes) on these pretraining seeds, or a control's remaining seeds."""
        state = search(task, arm, random_init)
        if state.pending or (state.lr is None and state.next_lr is None):
            return []  # runs still going, or every run of the group failed: nothing to choose from
        if state.next_lr is not None:
            extension = grid_id(resolved, task, arm, state.next_lr, random_init)
            if extension not in extensions:  # the grid grew by one rate: one more run to count
                extensions.add(extension)
                progress.total += 1
            return [grid_job(task, arm, state.next_lr, random_init)]
        assert state.lr is not None
        if random_init:
            return [_finetune_job(resolved, ledger, finetune_cli, task, arm, p.seeds[0], None, seed, state.lr, True)
                    for seed in f.seeds[: f.controls]]
        return [_finetune_job(resolved, ledger, finetune_cli, task, arm, pretrain_seed, probe, seed, state.lr, False)
                for pretrain_seed in pretrain_seeds for probe in resolved.plan.pretrain.probe_steps(steps[arm])
                for seed in f.seeds]

    def pretrained(arm: str) -> list[int]:
        return [s for s in p.seeds if (r := ledger.get(pretrain_run_id(arm, s))) is not None and r.status == "done"]

    def shared_pretraining(arm: str, seed: int) -> Job:
        """The pretraining record of an arm that shares another's runs: that run's result, under its own id."""
        run = RunIdentity.pretraining(arm, seed, steps[arm])
        source = ledger.get(pretrain_run_id(arm_record(arm).pretraining_arm, seed))
        assert source is not None and isinstance(source.result, PretrainResult)  # it has just finished
        return Job(run.run_id, _shared_pretraining, (source.result,), run)

    def then(job: Job, record: RunRecord) -> list[Job]:
        """What a finished run makes runnable: pretraining -> its grid (or, for later pretraining seeds, their
        seeds once the rate is chosen); a search run -> the group's next rate, or its seeds and controls."""
        run, follow = job.identity, []
        if run.stage == "pretrain" and record.status == "done":
            assert run.family is not None and run.seed is not None
            arm = run.family
            follow += [shared_pretraining(sharer, run.seed) for sharer in arms
                       if arm_record(sharer).pretrained_with == arm]
            if run.seed == p.seeds[0]:
                follow += grid_jobs(arm)
            else:
                follow += [j for task in f.tasks if search(task, arm, False).lr is not None
                          for j in after_search(task, arm, False, [run.seed])]
        elif run.is_grid_run(f.seeds[0], p.seeds[0]):
            assert run.task is not None and run.family is not None
            follow = after_search(run.task, run.family, bool(run.random_init), pretrained(run.family))
        return [j for j in follow if j is not None]

    task_runs = [(RunIdentity.for_task("baseline", task), task_baseline) for task in f.tasks]
    task_runs += [(RunIdentity.for_task("reference", task), task_reference) for task in f.tasks
                  if task in REFERENCE_TASKS]
    task_jobs = [Job(run.run_id, fn, (run.task, resolved.task_data[str(run.task)]), run) for run, fn in task_runs]
    pretrain_runs = [RunIdentity.pretraining(arm, seed, steps[arm]) for seed in p.seeds for arm in arms
                     if arm_record(arm).pretrained_with is None]  # the others follow the runs they share
    pretraining = [Job(run.run_id, _pretrain, (resolved, run.family, run.seed, run.max_steps, pretrain_cli), run,
                       layout.run(run.run_id).run_log, slots=EVERY_SLOT) for run in pretrain_runs]
    if any(not ledger.done(job.run_id) for job in pretraining):
        prepare_shared_data(resolved)
    run_jobs(task_jobs + pretraining, ledger, progress, workers=workers, threads=threads,
             subprocess_runs=plan.subprocess_runs, then=then, slots=slot_names(plan.device_slots))
    for arm in arms:  # runs that could not start because their pretraining failed: recorded as skipped
        if not pretrained(arm):
            grid_jobs(arm)
    results = aggregate(plan_dict, list(ledger.records.values()), environment(), time.perf_counter() - start)
    written = write_report(results, layout.reports)
    if plan.wandb.mode != "disabled":
        log_summary(results, plan.wandb.project, plan.experiment, plan.wandb.mode, layout.runs,
                    [w for w in written if w.suffix == ".png"], layout.reports)
    print(f"report: {', '.join(str(w) for w in written)}", flush=True)
    return results


def real_token_fill(resolved: ResolvedPlan) -> dict[str, float]:
    """Real (non-padding) tokens per position of each arm's training examples, for `match: real_tokens`.

    GPT-style data packs its blocks full (1.0). A BERT-style arm's examples end where their document's text does
    and pad the rest; its fill is measured on the first pretraining seed's first copy of training examples, built
    here with the run's own settings, so the run finds that copy in the cache rather than building it again.
    """
    p = resolved.plan.pretrain
    fill: dict[str, float] = {}
    for arm in resolved.plan.arms:
        record = arm_record(arm)
        if record.family != "bert":
            fill[arm] = 1.0
            continue
        data = BertDataModule(resolved.pretrain_data, family_record("bert").tokenizer_kind, vocab_size=p.vocab_size,
                              max_length=p.seq_len, seed=p.seeds[0], nsp=p.nsp and record.nsp, dupe_factor=1,
                              num_proc=preparation_processes(resolved.plan))
        fill[arm] = data.example_statistics("train").mean_tokens / p.seq_len
        print(f"[compare] {arm}: {fill[arm]:.1%} of its training positions are real tokens; matching real tokens, "
              f"it trains {math.ceil(p.max_steps / fill[arm])} steps to the full-sequence arms' {p.max_steps}",
              flush=True)
    return fill


def prepare_shared_data(resolved: ResolvedPlan) -> None:
    """Read the pretraining corpus and train the shared tokenizer once, here, before the pretraining runs start side
    by side: each would otherwise parse the same corpus and train the same tokenizer at the same time (the built-in
    corpus's dependencies take minutes on 2 cores). The runs then find both in the cache the data modules share."""
    p = resolved.plan.pretrain
    if resolved.pretrained or not p.shared_tokenizer:
        return  # released models bring their tokenizers; per-family tokenizers are each run's own
    print("[compare] preparing the pretraining corpus and the shared tokenizer once, before the runs", flush=True)
    tokenizer = BertDataModule(resolved.pretrain_data, family_record("bert").tokenizer_kind, vocab_size=p.vocab_size,
                               max_length=p.seq_len).tokenizer
    print(f"[compare] shared tokenizer ready: {len(tokenizer):,} tokens", flush=True)


def baseline_runs(tasks: list[str]) -> int:
    """The runs with no model: a trivial-baseline run per task and a classical-reference run where one exists."""
    return len(tasks) + sum(task in REFERENCE_TASKS for task in tasks)


def count_runs(resolved: ResolvedPlan) -> int:
    """Every run the plan makes before any grid extension (each extension adds one run as it is planned); the
    chosen rate's search run is reused as its group's first seed."""
    p, f = resolved.plan.pretrain, resolved.plan.finetune
    baselines = baseline_runs(f.tasks)
    pretrained = len(p.seeds) * p.probes * len(f.seeds) + len(f.lrs) - 1
    controls = f.controls + len(f.lrs) - 1 if f.controls else 0
    return baselines + len(resolved.plan.arms) * (len(p.seeds) + len(f.tasks) * (pretrained + controls))


def grid_id(resolved: ResolvedPlan, task: str, arm: str, lr: float, random_init: bool = False) -> str:
    """The search run of a (task, arm, pretrained | random-init) group at one rate: first seed, first pretraining
    seed, final checkpoint."""
    return grid_run_id(task, arm, lr, resolved.plan.finetune.seeds[0], resolved.plan.pretrain.seeds[0], random_init)


def _finetune_job(resolved: ResolvedPlan, ledger: Ledger, cli: Cli, task: str, arm: str, pretrain_seed: int,
                  probe: int | None, seed: int, lr: float, random_init: bool) -> Job | None:
    """The job of one fine-tuning run (probe None = the final checkpoint); None when its pretraining failed."""
    pre = ledger.get(pretrain_run_id(arm, pretrain_seed))
    max_steps = pre.identity.max_steps if pre is not None else None
    steps = resolved.plan.pretrain.probe_steps(max_steps) if max_steps is not None else []
    probe = steps[-1] if probe is None and steps else probe
    run = RunIdentity.finetuning(arm, task, seed, pretrain_seed, lr, random_init, probe,
                                 final=probe == (steps or [None])[-1])
    if pre is None or pre.status != "done":
        ledger.skip(run.run_id, f"pretraining {pretrain_run_id(arm, pretrain_seed)} did not finish", run)
        return None
    assert isinstance(pre.result, PretrainResult) and probe is not None  # a finished pretraining run's result
    # A Hugging Face folder (from_pretrained) saw no tokens in this plan; its publishers' count is not known here.
    tokens = (0.0 if resolved.pretrained else
              tokens_at_checkpoint(pre.result.curve, probe, resolved.plan.pretrain.tokens_per_step))
    run = run.with_probe_budget(tokens, tokens * pre.result.model.flops_per_token)
    checkpoint = Path(pre.result.checkpoints[str(probe)])
    out = resolved.plan.layout().run(run.run_id)
    return Job(run.run_id, _finetune, (resolved, arm, task, checkpoint, seed, lr, random_init, out.root, cli), run,
               out.run_log, slots=1)


def _check_same_plan(path: Path, plan: dict[str, Any]) -> None:
    """Resuming is only sound for the same plan: finished runs of another budget must not be reused.

    Seeds may change: every run id names its seeds and the rate search runs on the first ones, so a plan with
    more seeds (pretrain-seeds.yaml over a copy of the default's run folder) reuses exactly the runs it shares.
    The experiment's name may change for the same reason (the folder is the experiment)."""
    if not path.is_file():
        return
    stored = json.loads(path.read_text())
    # how runs are launched, logged or named: not their results; a ladder's sizes are each their own plan and folder
    ignored = ("experiment", "wandb", "parallel_runs", "threads_per_run", "device_slots", "sizes",
               "tokens_per_parameter")
    ignored_keys = {("pretrain", "seeds"), ("finetune", "seeds"), ("finetune", "pretraining_spread")}
    changed = sorted(
        f"{section}.{key}" if isinstance(value, dict) else section
        for section, value in plan.items() if section not in ignored and stored.get(section) != value
        for key in (value if isinstance(value, dict) else [None])
        if not isinstance(value, dict)
        or ((section, key) not in ignored_keys and stored.get(section, {}).get(key) != value[key])
    )
    if changed:
        raise ValueError(
            f"{path.parent} holds runs of a different plan (changed: {', '.join(changed)}); "
            "choose another --experiment name, or delete that folder to start over"
        )


def _pretrain(resolved: ResolvedPlan, arm: str, seed: int, max_steps: int, cli: Cli) -> PretrainResult:
    p = resolved.plan.pretrain
    if resolved.pretrained:
        return _from_pretrained(resolved, arm, max_steps)
    out = resolved.plan.layout().run(pretrain_run_id(arm, seed)).root
    start = time.perf_counter()
    call(cli, pretrain_args(resolved, arm, seed, max_steps, out))
    wall = time.perf_counter() - start
    points = curve(read_metrics_csv(out), p.tokens_per_step)
    probes = resolved.plan.pretrain.probe_steps(max_steps)
    checkpoints = probe_checkpoints(out, probes)
    final = checkpoints[probes[-1]]
    last = points[-1] if points else {}
    return PretrainResult(
        metrics=final_metrics(points),
        curve=points,
        tokens_seen=max((pt.get("train/tokens_seen", 0.0) for pt in points), default=0.0),
        supervised_tokens=last.get("train/supervised_tokens"),
        train_tokens=max((pt["data/train_tokens"] for pt in points if "data/train_tokens" in pt), default=None),
        steps=max_steps,
        checkpoints={str(k): str(v) for k, v in checkpoints.items()},
        model=model_facts(final, resolved.model_presets[arm_record(arm).family], p.seq_len,
                          predicted_fraction(arm, out, p.arm_causal_share(arm))),
        attention=attention_example(final, ATTENTION_TEXT),
        train_wall_s=wall,
    )


def _from_pretrained(resolved: ResolvedPlan, arm: str, max_steps: int) -> PretrainResult:
    """The stand-in for a pretraining run when the plan names a Hugging Face folder: no training, no curve;
    the folder (`hf:DIR`) is the checkpoint every fine-tuning run of the arm starts from, at the one probe
    step the rest of the pipeline keys runs by."""
    folder = resolved.pretrained[arm]
    checkpoint = Path(f"{HF_PREFIX}{folder}")
    return PretrainResult(
        metrics={}, curve=[], tokens_seen=0.0, supervised_tokens=None, steps=0,  # the suite trained it for 0 steps
        checkpoints={str(resolved.plan.pretrain.probe_steps(max_steps)[-1]): str(checkpoint)},
        model=model_facts(checkpoint, folder, resolved.plan.pretrain.seq_len, arm_predicted_fraction(resolved, arm)),
        attention=attention_example(checkpoint, ATTENTION_TEXT), train_wall_s=0.0,
    )


def _shared_pretraining(result: PretrainResult) -> PretrainResult:
    """A pretraining run shared with another arm (Arm.pretrained_with): its result as it is, nothing trained."""
    return result


def _finetune(resolved: ResolvedPlan, arm: str, task: str, checkpoint: Path, seed: int, lr: float,
              random_init: bool, out: Path, cli: Cli) -> FinetuneResults:
    results_file = RunLayout(out).results_file
    returned = call(cli, finetune_args(resolved, arm, task, checkpoint, seed, lr, random_init, out, results_file))
    # In-process, tasks.cli.run returns the results; a subprocess leaves them in the file it was given.
    return returned if isinstance(returned, FinetuneResults) else read_results(results_file)
