"""The report folder (reports/<experiment>/): results.json, report.md and PNG plots, from the run ledger."""

from __future__ import annotations

import json
from pathlib import Path

from pretrain.compare.planning.plan import WandbPlan
from pretrain.compare.reporting.markdown import render
from pretrain.compare.reporting.plots import render_all
from pretrain.compare.reporting.results import aggregate, environment
from pretrain.compare.reporting.wandb_report import report_spec, save_spec
from pretrain.compare.running.experiment_layout import ExperimentLayout
from pretrain.compare.running.ledger import Ledger
from pretrain.compare.schema import ComparisonResults, write_comparison
from pretrain.data.caching import atomic_write


def write_report(results: ComparisonResults, out_dir: Path) -> list[Path]:
    """Write results.json, the plots and report.md (each atomically); returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results_file, report_file = out_dir / ExperimentLayout.RESULTS_FILE, out_dir / ExperimentLayout.REPORT_FILE
    write_comparison(results, results_file)
    plots = render_all(results, out_dir)
    text = render(results, plots)
    atomic_write(report_file, lambda tmp: tmp.write_text(text))
    return [results_file, report_file, *plots]


def rebuild(layout: ExperimentLayout) -> ComparisonResults:
    """Re-aggregate a plan's finished (and failed) runs from its run folder and rewrite the report, and the W&B
    Report spec when the plan logs to W&B (what `scripts/report.py --publish` sends)."""
    for path in (layout.plan_file, layout.ledger_file):
        if not path.is_file():
            raise ValueError(f"{path} does not exist: {layout.runs} is not the run folder of a compare plan")
    plan = json.loads(layout.plan_file.read_text())
    results = aggregate(plan, list(Ledger(layout.ledger_file).records.values()), environment())
    write_report(results, layout.reports)
    wandb = plan.get("wandb") or {}
    if wandb.get("mode", WandbPlan.mode) != "disabled":
        # No entity offline: publishing saves the report under the credentials' default entity.
        save_spec(report_spec(results, wandb.get("project", WandbPlan.project)), layout.reports)
    return results
