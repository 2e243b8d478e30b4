"""The comparison, end to end: pretrain BERT and GPT on equal budgets, fine-tune both on every task
with several seeds, and write reports/<experiment>/ (report.md, results.json, plots) plus W&B runs.

    python scripts/compare.py --config configs/compare/default.yaml       # `make compare`
    python scripts/compare.py --config configs/compare/default.yaml --pretrain.tokens 200000
    python scripts/compare.py --config configs/compare/default.yaml --print_config
    python scripts/compare.py --config configs/compare/real.yaml --estimate --gpu h100 --gpus 8  # cost only

Re-running the same plan resumes: finished runs are skipped, failed ones retried.
The command itself is pretrain.compare.command.
"""

from __future__ import annotations

import sys

from pretrain.compare.command import main

if __name__ == "__main__":
    sys.exit(main())
