"""The miniature compare plan the end-to-end tests run (tiny models, a few steps), written as a plan YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def mini_plan_file(folder: Path, *, pretrain: dict[str, Any] | None = None, finetune: dict[str, Any] | None = None,
                   **plan: Any) -> Path:
    """folder/plan.yaml: the miniature plan with `pretrain` / `finetune` fields and top-level `plan` fields changed."""
    base = {
        "experiment": "mini", "bert_model": "bert-tiny", "gpt_model": "gpt-tiny", "architecture": "classic",
        "model_dir": str(REPO / "configs/model"), "runs_dir": str(folder / "runs"),
        "reports_dir": str(folder / "reports"),
        # The standard library's docstrings alone: the dependencies' (the default corpus) take minutes to tokenize.
        "pretrain": {"data": "builtin-stdlib", "tokens": 8 * 64 * 6, "seq_len": 64, "batch_size": 8, "vocab_size": 512,
                     "warmup_steps": 1,
                     "val_check_interval": 3, "limit_val_batches": 2, "log_every_n_steps": 1,
                     "trainer": str(REPO / "configs/trainer/cpu.yaml"),
                     "bert_config": str(REPO / "configs/pretrain/bert.yaml"),
                     "gpt_config": str(REPO / "configs/pretrain/gpt.yaml"), **(pretrain or {})},
        "finetune": {"tasks": ["classification"], "seeds": [0, 1], "max_steps": 2, "batch_size": 8, "max_length": 64,
                     # Bounds at the grid's own edges: no extension runs (the search is tested on its own).
                     "lrs": [1e-3, 3e-3], "lr_bounds": [1e-3, 3e-3], "controls": 1, "val_check_interval": 1,
                     "trainer": str(REPO / "configs/trainer/cpu.yaml"), "configs_dir": str(REPO / "configs/finetune"),
                     **(finetune or {})},
        "wandb": {"mode": "disabled"},
        **plan,
    }
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(base))
    return path
