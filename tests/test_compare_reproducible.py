"""The same miniature comparison, run twice from empty caches, gives every metric to the last digit.

The two runs are separate processes with different hash seeds (set and dict order of strings),
different tokenizer thread counts and their own cache and run folders, as two users on one
machine would have: every number under ``pretraining`` and ``tasks`` in results.json (built-in
corpus, tokenizer, data splits and batches, both pretrainings, baselines, fine-tuning) must match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mini_plans import mini_plan_file

from pretrain.compare.reporting.results_diff import leaves
from pretrain.data.caching import CACHE_ENV_VAR

REPO = Path(__file__).resolve().parents[1]
# Wall times and rates depend on the machine's load; checkpoint paths on the run folder. Matched on the last
# part of a metric name ("train/tokens_per_sec").
def _plan(folder: Path) -> Path:
    return mini_plan_file(folder, experiment="repro", runs_dir="runs", reports_dir="reports",
                          pretrain={"tokens": 8 * 64 * 4, "val_check_interval": 2},
                          finetune={"seeds": [0], "lrs": [1e-3], "controls": 0, "val_check_interval": 2})


def _run(folder: Path, hash_seed: int, tokenizer_threads: int) -> dict[str, object]:
    folder.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "PYTHONHASHSEED": str(hash_seed),
        "RAYON_NUM_THREADS": str(tokenizer_threads),
        "OMP_NUM_THREADS": "1",
        CACHE_ENV_VAR: str(folder / ".cache"),  # the tasks' cache; the pretraining configs use ./.cache too
        "HF_DATASETS_CACHE": str(folder / "hf"),
        "WANDB_MODE": "disabled",
    }
    done = subprocess.run([sys.executable, str(REPO / "scripts/compare.py"), "--config", str(_plan(folder))],
                          cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((folder / "reports/repro/results.json").read_text())


def test_two_runs_from_empty_caches_give_identical_results(tmp_path: Path) -> None:
    first, second = _run(tmp_path / "a", 1, 1), _run(tmp_path / "b", 2, 2)
    a = dict(leaves({"pretraining": first["pretraining"], "tasks": first["tasks"]}))
    b = dict(leaves({"pretraining": second["pretraining"], "tasks": second["tasks"]}))
    assert "/pretraining/bert/metrics/val/baseline_mlm_acc" in a and "/pretraining/gpt/metrics/val/loss" in a
    assert any(key.startswith("/tasks/classification/") and key.endswith("test/acc/mean") for key in a)
    differing = sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))
    assert not differing, f"{len(differing)} of {len(a)} values differ, e.g. " + "; ".join(
        f"{key}: {a.get(key)} vs {b.get(key)}" for key in differing[:8])
