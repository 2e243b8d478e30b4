"""The report folder (reports/<experiment>/): results.json, report.md and PNG plots, from the run ledger."""

from __future__ import annotations

import json
from pathlib import Path

from pretrain.compare.ledger import Ledger
from pretrain.compare.markdown import render
from pretrain.compare.plots import render_all
from pretrain.compare.results import aggregate, environment
from pretrain.compare.schema import ComparisonResults, write_comparison
from pretrain.data.caching import atomic_write

PLAN_FILE = "plan.json"
LEDGER_FILE = "ledger.json"


def write_report(results: ComparisonResults, out_dir: Path) -> list[Path]:
    """Write results.json, the plots and report.md (each atomically); returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_comparison(results, out_dir / "results.json")
    plots = render_all(results, out_dir)
    text = render(results, plots)
    atomic_write(out_dir / "report.md", lambda tmp: tmp.write_text(text))
    return [out_dir / "results.json", out_dir / "report.md", *plots]


def rebuild(run_dir: Path, out_dir: Path) -> ComparisonResults:
    """Re-aggregate a plan's finished (and failed) runs from its run folder and rewrite the report."""
    plan_path, ledger_path = run_dir / PLAN_FILE, run_dir / LEDGER_FILE
    for path in (plan_path, ledger_path):
        if not path.is_file():
            raise ValueError(f"{path} does not exist: {run_dir} is not the run folder of a compare plan")
    plan = json.loads(plan_path.read_text())
    results = aggregate(plan, list(Ledger(ledger_path).records.values()), environment())
    write_report(results, out_dir)
    return results
