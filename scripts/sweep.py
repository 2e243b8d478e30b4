"""Run a W&B sweep file online (wandb.sweep + wandb.agent) or the same grid/random search offline.

    python scripts/sweep.py configs/sweeps/pretrain_lr.yaml                    # online: needs W&B credentials
    python scripts/sweep.py configs/sweeps/pretrain_lr.yaml --local --count 2  # offline, here, one trial at a time
"""

from __future__ import annotations

import sys

from pretrain.compare.sweeps.sweep_command import main

if __name__ == "__main__":
    sys.exit(main())
