"""The report command (`python scripts/report.py`): rebuild a comparison's report from its finished (and failed)
runs without training anything, or publish its saved W&B Report spec.

    python scripts/report.py                                  # experiment "default"
    python scripts/report.py --experiment real --runs_dir runs --reports_dir reports
    python scripts/report.py --experiment default --publish   # the saved W&B Report spec -> W&B (online)
"""

from __future__ import annotations

import sys

from jsonargparse import ArgumentParser

from pretrain.compare.reporting.report import rebuild
from pretrain.compare.reporting.wandb_report import load_spec, publish
from pretrain.compare.running.experiment_layout import ExperimentLayout


def main(args: list[str] | None = None) -> int:
    """Exit code: 0 done, 2 with a one-line error (no run folder, or the W&B Report not published)."""
    parser = ArgumentParser(description="Rebuild a comparison's report from its finished (and failed) runs, "
                                        "without training anything.")
    parser.add_argument("--experiment", type=str, default="default", help="the plan's experiment name")
    parser.add_argument("--runs_dir", type=str, default="runs", help="where the plan's runs and ledger live")
    parser.add_argument("--reports_dir", type=str, default="reports", help="where reports/<experiment>/ is written")
    parser.add_argument("--publish", action="store_true",
                        help="publish reports/<experiment>/wandb_report.json as a W&B Report instead of rebuilding "
                             "(needs credentials; upload the offline runs first with `wandb sync`)")
    cfg = parser.parse_args(args)
    layout = ExperimentLayout.of(cfg.runs_dir, cfg.reports_dir, cfg.experiment)
    out = layout.reports
    if cfg.publish:
        try:
            print(f"W&B Report: {publish(load_spec(out))}")
        except Exception as error:  # noqa: BLE001 - no credentials, no network, or a rejected spec: one line
            print(f"error: W&B Report not published ({type(error).__name__}: {error})", file=sys.stderr)
            return 2
        return 0
    try:
        results = rebuild(layout)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = results.counts
    print(f"report rebuilt from {counts.done + counts.failed + counts.skipped} runs: {layout.report_file}")
    return 0
