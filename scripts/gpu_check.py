"""The one-GPU check before renting many (`make gpu-check`): CUDA-only tests, throughput and MFU of gpt2-small and
bert-base next to Hugging Face's, a 100-step pretraining with checkpoint and exact resume, a one-rank NCCL DDP
launch; one JSON on stdout. Without CUDA it exits at once with status 1. The logic: pretrain/bench/gpu_check.py.

    python scripts/gpu_check.py [OUT_DIR]    # default runs/gpu-check
"""

from __future__ import annotations

import sys

from pretrain.bench.gpu_check import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
