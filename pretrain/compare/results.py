"""results.json: every run's metrics, per-task statistics over seeds, baselines, budgets and provenance.

The report, the plots and the W&B summary table are all rendered from this one
structure, so what a reader sees is exactly what was measured and saved.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pretrain.compare.ledger import RunRecord
from pretrain.compare.metrics import PRETRAIN_METRICS, TASK_METRICS
from pretrain.compare.plan import FAMILIES
from pretrain.compare.stats import Summary, summarize
from pretrain.compare.verdict import compare
from pretrain.data.caching import atomic_write

PACKAGES = (
    "torch", "lightning", "transformers", "datasets", "tokenizers", "torchmetrics", "torchdata", "wandb",
    "seqeval", "scipy", "matplotlib", "jsonargparse",
)


# The checkout the code runs from (an editable install), whatever the working directory is.
CODE_ROOT = Path(__file__).resolve().parents[2]


def environment(repo: Path = CODE_ROOT) -> dict[str, Any]:
    """Versions, git commit and machine: what a reader needs to reproduce or distrust a number."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "git_commit": _git(repo, "rev-parse", "HEAD"),
        "git_dirty": bool(_git(repo, "status", "--porcelain", "--untracked-files=no")),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "accelerator": _accelerator(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def aggregate(plan: dict[str, Any], records: list[RunRecord], env: dict[str, Any]) -> dict[str, Any]:
    """Turn the ledger's run records into the results structure (pure: no I/O).

    Records carry `meta["stage"]`: "pretrain" (per family), "finetune" (per family, task, probe
    step, seed) or "baseline" (per task; result = {baseline key: value}).
    """
    baselines = {r.meta["task"]: r.result for r in records if r.meta.get("stage") == "baseline" and r.status == "done"}
    pretraining: dict[str, Any] = {}
    for record in records:
        if record.meta.get("stage") == "pretrain":
            pretraining[record.meta["family"]] = {"status": record.status, "wall_s": record.wall_s,
                                                  "error": record.error, **record.result}
    tasks = {task: _task(task, records, baselines.get(task, {})) for task in plan["finetune"]["tasks"]}
    pretrain_verdicts: dict[str, str] = {}
    for family, specs in PRETRAIN_METRICS.items():
        metrics = pretraining.get(family, {}).get("metrics")
        if metrics:  # the headline metric against its trivial baseline
            spec = specs[0]
            pretrain_verdicts[family] = _against_baseline(
                spec.label, metrics, spec.key, spec.baseline_key, spec.higher_is_better
            )
    return {
        "experiment": plan["experiment"],
        "plan": plan,
        "environment": env,
        "pretraining": pretraining,
        "pretraining_verdicts": pretrain_verdicts,
        "tasks": tasks,
        "runs": [asdict(r) for r in records],
        "counts": {s: sum(r.status == s for r in records) for s in ("done", "failed", "skipped")},
    }


def write_results(results: dict[str, Any], path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(results, indent=2, default=str)))


def _task(task: str, records: list[RunRecord], baselines: dict[str, float]) -> dict[str, Any]:
    runs = [r for r in records if r.meta.get("stage") == "finetune" and r.meta.get("task") == task]
    probes: list[dict[str, Any]] = []
    for step in sorted({r.meta["probe_step"] for r in runs}):
        at_step = [r for r in runs if r.meta["probe_step"] == step]
        families: dict[str, dict[str, Any]] = {}
        for family in FAMILIES:
            of_family = [r for r in at_step if r.meta["family"] == family]
            done = [r for r in of_family if r.status == "done"]
            keys = sorted({k for r in done for k in r.result.get("metrics", {})})
            meta = of_family[0].meta if of_family else {}  # each family's own pretraining tokens and FLOPs
            families[family] = {
                "seeds": [r.meta["seed"] for r in done],
                "failed_seeds": [r.meta["seed"] for r in of_family if r.status != "done"],
                "tokens": meta.get("probe_tokens"),
                "flops": meta.get("probe_flops", {}).get(family),
                "metrics": {k: summarize([r.result["metrics"][k] for r in done if k in r.result["metrics"]]).to_dict()
                            for k in keys},
            }
        probes.append({"step": step, "families": families})
    verdicts = []
    if probes:
        final = probes[-1]["families"]
        for spec in TASK_METRICS[task]:
            a, b = (final[f]["metrics"].get(spec.key) for f in FAMILIES)
            if a is None or b is None:
                continue
            baseline = baselines.get(spec.baseline_key) if spec.baseline_key else None
            verdict = compare(spec.label, ("BERT", Summary.from_dict(a)), ("GPT", Summary.from_dict(b)),
                              higher_is_better=spec.higher_is_better, baseline=baseline)
            verdicts.append({"metric": spec.key, **verdict.to_dict()})
    return {"baselines": baselines, "probes": probes, "verdicts": verdicts,
            "failed": [r.run_id for r in runs if r.status != "done"]}


def _against_baseline(label: str, metrics: dict[str, float], key: str, baseline_key: str | None,
                      higher_is_better: bool) -> str:
    if key not in metrics:
        return f"{label}: not logged."
    value = metrics[key]
    if baseline_key is None or baseline_key not in metrics:
        return f"{label}: {value:.4g} (no baseline logged)."
    base = metrics[baseline_key]
    beats = (value > base) == higher_is_better
    return f"{label}: {value:.4g} vs trivial baseline {base:.4g} -- {'better' if beats else 'NOT better'} than the baseline."


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _accelerator() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
