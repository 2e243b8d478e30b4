"""Execute a validated plan: baselines, pretraining per family, fine-tuning per task, probe and seed;
then aggregate and write the report. Every run goes through the ledger, so a re-run resumes."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import yaml

from pretrain.blocks.config import TransformerConfig
from pretrain.compare.baselines import builtin_baseline
from pretrain.compare.ledger import Ledger
from pretrain.compare.plan import FAMILIES, ResolvedPlan
from pretrain.compare.report import LEDGER_FILE, PLAN_FILE, write_report
from pretrain.compare.results import aggregate, environment
from pretrain.compare.runs import (
    Cli, attention_example, call, curve, final_metrics, finetune_args, model_facts, pretrain_args, probe_checkpoints,
    read_finetune_results, read_metrics_csv,
)
from pretrain.compare.wandb_summary import log_summary
from pretrain.data.caching import atomic_write

ATTENTION_TEXT = "Return the number of items in a container, counting each key once."


def check_matched_parameters(resolved: ResolvedPlan) -> dict[str, int]:
    """Build both models from their presets and compare non-embedding parameters, before any training.

    Kaplan et al. (2020, arXiv:2001.08361) show loss tracks non-embedding parameters; a comparison at
    unequal counts would measure size, not objective.
    """
    from pretrain.models import BertModel, GptModel, count_parameters

    counts = {}
    for family, model_class in (("bert", BertModel), ("gpt", GptModel)):
        path = resolved.model_presets[family]
        raw = yaml.safe_load(path.read_text()) or {}
        raw = raw.get("init_args", raw) if isinstance(raw, dict) else raw
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a mapping of TransformerConfig fields")
        try:
            config = TransformerConfig(**{**raw, "vocab_size": resolved.plan.pretrain.vocab_size})
        except TypeError as error:
            raise ValueError(f"{path}: {error}") from None
        with torch.device("meta"):  # shapes only: counting bert-base takes milliseconds, allocates nothing
            counts[family] = count_parameters(model_class(config), exclude_embeddings=True)
    gap = abs(counts["bert"] - counts["gpt"]) / max(counts.values())
    if gap > resolved.plan.param_tolerance:
        raise ValueError(
            f"non-embedding parameters differ by {gap:.1%} (bert {counts['bert']:,}, gpt {counts['gpt']:,}), more than "
            f"param_tolerance={resolved.plan.param_tolerance}; choose presets of matching size"
        )
    return counts


def execute(resolved: ResolvedPlan, pretrain_cli: Cli, finetune_cli: Cli) -> dict[str, Any]:
    """Run (or resume) every run of the plan and write reports/<experiment>/; returns the results."""
    plan = resolved.plan
    run_dir, report_dir = plan.run_dir(), plan.report_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    plan_dict = asdict(plan)
    _check_same_plan(run_dir / PLAN_FILE, plan_dict)
    atomic_write(run_dir / PLAN_FILE, lambda tmp: tmp.write_text(json.dumps(plan_dict, indent=2)))
    ledger = Ledger(run_dir / LEDGER_FILE)
    p, f = plan.pretrain, plan.finetune
    total = len(f.tasks) + len(FAMILIES) * (1 + len(f.tasks) * p.probes * len(f.seeds))
    counter = {"i": 0}

    def step(run_id: str, fn: Any, meta: dict[str, Any]) -> None:
        counter["i"] += 1
        if ledger.done(run_id):
            print(f"[{counter['i']}/{total}] {run_id}: already done, skipped", flush=True)
            return
        print(f"[{counter['i']}/{total}] {run_id} ...", flush=True)
        record = ledger.run(run_id, fn, meta)
        note = f" -- {record.error.splitlines()[-1]}" if record.error else ""
        print(f"[{counter['i']}/{total}] {run_id}: {record.status} ({record.wall_s:.0f} s){note}", flush=True)

    for task in f.tasks:
        if resolved.task_data[task].is_builtin:
            step(f"baseline-{task}", lambda t=task: builtin_baseline(t), {"stage": "baseline", "task": task})
    for family in FAMILIES:
        step(f"pretrain-{family}", lambda fam=family: _pretrain(resolved, fam, pretrain_cli),
             {"stage": "pretrain", "family": family})
    for task in f.tasks:
        for family in FAMILIES:
            pre = ledger.get(f"pretrain-{family}")
            for probe in p.probe_steps():
                for seed in f.seeds:
                    run_id = f"finetune-{task}-{family}-step{probe}-seed{seed}"
                    meta = {"stage": "finetune", "family": family, "task": task, "seed": seed, "probe_step": probe}
                    if pre is None or pre.status != "done":
                        counter["i"] += 1
                        ledger.skip(run_id, f"pretraining of {family} did not finish", meta)
                        continue
                    meta["probe_tokens"] = _tokens_at(pre.result["curve"], probe, p.tokens_per_step)
                    meta["probe_flops"] = {family: meta["probe_tokens"] * pre.result["model"]["flops_per_token"]}
                    ckpt = Path(pre.result["checkpoints"][str(probe)])
                    step(run_id, lambda fam=family, t=task, c=ckpt, s=seed, r=run_id:
                         _finetune(resolved, fam, t, c, s, run_dir / r, finetune_cli), meta)
    results = aggregate(plan_dict, list(ledger.records.values()), environment())
    written = write_report(results, report_dir)
    if plan.wandb.mode != "disabled":
        log_summary(results, plan.wandb.project, plan.experiment, plan.wandb.mode, run_dir,
                    [w for w in written if w.suffix == ".png"])
    print(f"report: {', '.join(str(w) for w in written)}", flush=True)
    return results


def _check_same_plan(path: Path, plan: dict[str, Any]) -> None:
    """Resuming is only sound for the same plan: finished runs of another budget must not be reused."""
    if not path.is_file():
        return
    stored = json.loads(path.read_text())
    changed = sorted(
        f"{section}.{key}" if isinstance(value, dict) else section
        for section, value in plan.items() if section != "wandb" and stored.get(section) != value
        for key in (value if isinstance(value, dict) else [None])
        if not isinstance(value, dict) or stored.get(section, {}).get(key) != value[key]
    )
    if changed:
        raise ValueError(
            f"{path.parent} holds runs of a different plan (changed: {', '.join(changed)}); "
            "choose another --experiment name, or delete that folder to start over"
        )


def _pretrain(resolved: ResolvedPlan, family: str, cli: Cli) -> dict[str, Any]:
    p = resolved.plan.pretrain
    out = resolved.plan.run_dir() / f"pretrain-{family}"
    start = time.perf_counter()
    call(cli, pretrain_args(resolved, family, out))
    wall = time.perf_counter() - start
    points = curve(read_metrics_csv(out), p.tokens_per_step)
    checkpoints = probe_checkpoints(out, p.probe_steps())
    final = checkpoints[p.probe_steps()[-1]]
    return {
        "metrics": final_metrics(points),
        "curve": points,
        "tokens_seen": max((pt.get("train/tokens_seen", 0.0) for pt in points), default=0.0),
        "checkpoints": {str(k): str(v) for k, v in checkpoints.items()},
        "model": model_facts(final, resolved.model_presets[family], p.seq_len),
        "attention": attention_example(final, ATTENTION_TEXT),
        "train_wall_s": wall,
    }


def _finetune(resolved: ResolvedPlan, family: str, task: str, checkpoint: Path, seed: int, out: Path,
              cli: Cli) -> dict[str, Any]:
    results_file = out / "results.json"
    call(cli, finetune_args(resolved, family, task, checkpoint, seed, out, results_file))
    return read_finetune_results(results_file)


def _tokens_at(points: list[dict[str, float]], step: int, tokens_per_step: int) -> float:
    """Tokens seen when the checkpoint of `step` was saved (logged), else step * tokens per step."""
    logged = [pt["train/tokens_seen"] for pt in points if pt["step"] <= step and "train/tokens_seen" in pt]
    return max(logged) if logged else float(step * tokens_per_step)
