"""`make gpu-check` on a machine without CUDA: it exits at once, non-zero, with one line saying so."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning_fakes import tiny_config

from pretrain.bench import gpu_check
from pretrain.compare.planning.estimate import accelerator
from pretrain.lightning import BertPretraining, ClmMlmPretraining, GptPretraining
from pretrain.lightning.peaks import device_peak_flops
from pretrain.models import flops_per_token

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


def test_a_part_past_the_budget_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    grandchild = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}]); time.sleep(60)"
    settings = gpu_check.CheckSettings(out=tmp_path, budget_s=3.0, deadline=time.monotonic() + 3.0)
    start = time.monotonic()
    done = gpu_check._run(["-c", script], settings)
    assert done["rc"] == 124 and "timed out" in done["tail"] and time.monotonic() - start < 20
    time.sleep(0.5)
    stat = Path(f"/proc/{pid_file.read_text()}/stat")
    # The grandchild went with its parent's process group: gone, or a zombie not yet reaped by the container's init.
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    late = gpu_check._run(["-c", "print(1)"], replace(settings, deadline=time.monotonic() - 1))
    assert late["rc"] == 125 and late["tail"].startswith("skipped")  # nothing starts once the budget is spent


def test_the_plan_presets_train_through_the_pretrain_command(tmp_path: Path) -> None:
    """plan_throughput on the CPU trainer with a miniature plan: both presets run, tokens/s read from their logs
    (no MFU on a CPU: no honest peak)."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("bert_model: bert-tiny-matched\ngpt_model: gpt-tiny-matched\n"
                    "pretrain: {seq_len: 32, batch_size: 4, vocab_size: 512}\n")
    settings = gpu_check.CheckSettings(out=tmp_path, plan=str(plan), plan_steps=4, plan_warmup=2, plan_compile=False,
                                       trainer="configs/trainer/cpu.yaml", part_timeout_s=600)
    result = gpu_check.plan_throughput(settings)
    assert result["ok"], result
    for family in ("bert", "gpt"):
        assert result[family]["preset"] == f"{family}-tiny-matched" and result[family]["tokens_per_s"] > 0
        assert result[family]["steps_timed"] >= 1 and result[family]["mfu"] is None


def test_mfu_divides_by_dense_bf16_peaks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert accelerator("h100", 1, 0.3).peak_flops == pytest.approx(989.4e12)
    assert accelerator("h200", 1, 0.3).peak_flops == pytest.approx(989.5e12)  # Lightning's 2e15 is with sparsity
    assert device_peak_flops(torch.device("cpu"), torch.bfloat16) is None
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert device_peak_flops(torch.device("cuda"), torch.bfloat16) == pytest.approx(989.5e12)


def test_berts_flop_count_projects_only_its_masked_positions() -> None:
    config = tiny_config("bert", dropout=0.0)
    bert, mlm = BertPretraining(config), BertPretraining(config, nsp=False)
    assert bert.predicted_fraction() == pytest.approx(0.15)  # BERT's rate without data
    assert GptPretraining(tiny_config("gpt")).predicted_fraction() == 1.0
    mlm.attach(SimpleNamespace(mlm_probability=0.3, tokenizer=None))  # type: ignore[arg-type]
    assert mlm.predicted_fraction() == pytest.approx(0.3)
    clm_mlm = ClmMlmPretraining(tiny_config("gpt"), causal_share=0.5)
    clm_mlm.attach(SimpleNamespace(mlm_probability=0.3, tokenizer=None))  # type: ignore[arg-type]
    assert clm_mlm.predicted_fraction() == pytest.approx(0.5 + 0.5 * 0.3)
    full, masked = (flops_per_token(bert.model, config, 32, fraction) for fraction in (1.0, bert.predicted_fraction()))
    assert masked < full
