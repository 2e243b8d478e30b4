"""The experiment's W&B summary: one run in the experiment's group holding a table of every
task x metric x arm (mean, 95% CI, n, strongest trivial baseline, classical reference) and the
verdicts, plus the report's plots, and one run per task's baselines (job type `baseline`) and per
task's classical references (job type `reference`, kept apart: not baselines), so a dashboard can
group every run of the experiment by job type: pretrain, finetune, baseline, reference, summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pretrain.compare.analysis.metrics import TASK_METRICS
from pretrain.compare.reporting.wandb_report import publish, report_spec, save_spec
from pretrain.compare.running.experiment_layout import ExperimentLayout
from pretrain.compare.schema import ComparisonResults
from pretrain.lightning.wandb_mode import ensure_wandb_mode

COLUMNS = ["task", "metric", "family", "mean", "ci_low", "ci_high", "n", "baseline", "reference", "verdict"]


def summary_rows(results: ComparisonResults) -> list[list[Any]]:
    rows = []
    for task, entry in results.tasks.items():
        final = entry.final()
        if final is None:
            continue
        verdicts = {v.metric: v.verdict.text for v in entry.verdicts}
        for spec in TASK_METRICS[task]:
            for family in results.arms:
                s = final[family].metrics.get(spec.key) if family in final else None
                if s is not None:
                    strongest = spec.strongest_baseline(entry.baselines)
                    baseline = strongest[1] if strongest else None
                    reference = entry.references.get(spec.reference_key) if spec.reference_key else None
                    rows.append([task, spec.key, family, s.mean, s.ci_low, s.ci_high, s.n, baseline, reference,
                                 verdicts.get(spec.key, "")])
    return rows


def log_summary(results: ComparisonResults, project: str, group: str, mode: str, save_dir: Path,
                plots: list[Path] | None = None, report_dir: Path | None = None) -> None:
    """Log the summary run (results table, plots, results.json as an artifact) and the baseline runs, and
    save the W&B Report spec in `report_dir`, published at once when W&B is online. A W&B failure is
    reported, never fatal (the local report is already written)."""
    import wandb  # only when W&B is enabled: a slow import that disabled plans never pay

    if mode == "offline":
        os.environ.setdefault("WANDB_MODE", "offline")
    online = ensure_wandb_mode() == "online"
    try:
        run = wandb.init(project=project, group=group, name=f"{group}-summary", job_type="summary",
                         dir=str(save_dir), config=results.plan, reinit="finish_previous")
        run.log({"summary": wandb.Table(columns=COLUMNS, data=summary_rows(results))})
        for plot in plots or []:
            run.log({f"plots/{plot.stem}": wandb.Image(str(plot))})
        results_file = report_dir / ExperimentLayout.RESULTS_FILE if report_dir is not None else None
        if results_file is not None and results_file.is_file():
            artifact = wandb.Artifact(f"{group}-results", type="results", description="results.json of the comparison")
            artifact.add_file(str(results_file))
            run.log_artifact(artifact)
        entity = run.entity if online else None
        run.finish()
        for task, entry in results.tasks.items():
            for job_type, values in (("baseline", entry.baselines), ("reference", entry.references)):
                numbers = {k: v for k, v in values.items() if isinstance(v, int | float)}
                if numbers:
                    run = wandb.init(project=project, group=group, name=f"{job_type}-{task}", job_type=job_type,
                                     dir=str(save_dir), tags=[task], config={"job_type": job_type, "task": task},
                                     reinit="finish_previous")
                    run.summary.update(numbers)  # keys are already "baseline/<name>" or "reference/<name>"
                    run.finish()
        if report_dir is not None:
            spec = report_spec(results, project, entity)
            path = save_spec(spec, report_dir)
            if online:
                print(f"W&B Report: {publish(spec)}", flush=True)
            else:
                # The summary runs are in save_dir; each run of the plan logs in its own folder below it.
                print(f"W&B Report saved as {path}; publish it once online: wandb sync {save_dir}/wandb/offline-run-* "
                      f"{save_dir}/*/wandb/offline-run-* && python scripts/report.py --experiment {group} --publish",
                      flush=True)
    except Exception as error:  # noqa: BLE001 - the report on disk is the source of truth
        print(f"warning: W&B summary not logged ({type(error).__name__}: {error})", flush=True)
