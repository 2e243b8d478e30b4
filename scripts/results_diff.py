"""Compare two comparisons' results.json to the digit (wall-clock values left out); exit 1 if any differs.

    python scripts/results_diff.py BEFORE/reports/digit-check/results.json AFTER/reports/digit-check/results.json
"""

from __future__ import annotations

import sys

from pretrain.compare.reporting.results_diff import main

if __name__ == "__main__":
    sys.exit(main())
