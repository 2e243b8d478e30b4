"""`make gpu-check` on a machine without CUDA: it exits at once, non-zero, with one line saying so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pretrain.bench import gpu_check

REPO = Path(__file__).resolve().parents[1]


def test_without_cuda_the_script_exits_non_zero_with_one_line() -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "scripts/gpu_check.py")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == "" and done.stderr.strip().splitlines() == [gpu_check.NO_CUDA]


def test_without_cuda_no_part_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ran = []
    monkeypatch.setattr(gpu_check, "cuda_tests", lambda settings: ran.append("tests"))
    assert gpu_check.main([str(tmp_path / "out")]) == 1
    assert ran == [] and not (tmp_path / "out").exists()


def test_the_makefile_target_runs_the_script() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "gpu-check:" in makefile and "scripts/gpu_check.py" in makefile.split("gpu-check:")[1].split("\n\n")[0]


def test_the_resume_part_compares_the_losses_after_the_checkpoint(tmp_path: Path) -> None:
    """The check's pretraining + resume through the `pretrain` command, on the CPU trainer: exact, as on any CPU."""
    settings = gpu_check.CheckSettings(out=tmp_path, pretrain_steps=8, resume_at=4, log_every=2,
                                       trainer="configs/trainer/cpu.yaml", part_timeout_s=600)
    result = gpu_check.pretrain_resume(settings)
    assert result["ok"], result
    assert len(result["steps_compared"]) >= 2 and min(result["steps_compared"]) >= 4  # only steps after the checkpoint
    assert result["exact"] and result["max_abs_loss_diff"] == 0.0
