"""Rebuild a comparison's report from its finished (and failed) runs, without training anything.

    python scripts/report.py                                  # experiment "default"
    python scripts/report.py --experiment real --runs_dir runs --reports_dir reports
"""

from __future__ import annotations

import sys
from pathlib import Path

from jsonargparse import ArgumentParser

from pretrain.compare.report import rebuild


def main(args: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", type=str, default="default", help="the plan's experiment name")
    parser.add_argument("--runs_dir", type=str, default="runs", help="where the plan's runs and ledger live")
    parser.add_argument("--reports_dir", type=str, default="reports", help="where reports/<experiment>/ is written")
    cfg = parser.parse_args(args)
    out = Path(cfg.reports_dir) / cfg.experiment
    try:
        results = rebuild(Path(cfg.runs_dir) / cfg.experiment, out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"report rebuilt from {sum(results['counts'].values())} runs: {out}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
