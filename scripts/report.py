"""Rebuild a comparison's report from its finished (and failed) runs, without training anything.

    python scripts/report.py                                  # experiment "default"
    python scripts/report.py --experiment real --runs_dir runs --reports_dir reports
    python scripts/report.py --experiment default --publish   # the saved W&B Report spec -> W&B (online)
"""

from __future__ import annotations

import sys

from pretrain.compare.reporting.report_command import main

if __name__ == "__main__":
    sys.exit(main())
