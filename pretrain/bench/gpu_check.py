"""The one-GPU check (`make gpu-check`, `python scripts/gpu_check.py`): what a GPU owner runs on one GPU, in a few
minutes, before renting many. It prints one JSON object:

- cuda_tests: the tests marked `cuda` (bf16 autocast, flash SDPA, torch.compile, fused AdamW on CUDA), run by pytest;
- throughput: training tokens/s, MFU and peak memory of gpt2-small (seq 1024) and bert-base (seq 512) under bf16
  autocast and torch.compile (SDPA picks its flash kernel where the inputs allow), next to the same model from
  Hugging Face (`pretrain.bench.training.bench_family`, MFU from Lightning's peak table); the goal on a Hopper
  GPU is gpt2-small at 40% MFU or more (`mfu_goal`);
- pretrain_resume: a 100-step GPT pretraining through the `pretrain` command with a checkpoint at step 50, and a
  second run resumed from that checkpoint: the training losses of steps 51-100 compared with the first run's;
- ddp_nccl: a one-rank DDP launch (configs/trainer/ddp.yaml, NCCL) of 10 steps.

Without CUDA it exits at once with status 1 and one line saying so. `ok` is true when every part ran and passed
(the MFU goal is reported, not required). The check has not been run on a GPU where it was written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from pretrain.run_config import REPO
from pretrain.run_layout import RunLayout

MFU_GOAL = 0.40  # gpt2-small on a Hopper GPU (the goal; nanoGPT-style training reaches it there)
RESUME_CHECKPOINTS = "resume"  # the first run's checkpoints the second resumes from
NO_CUDA = "gpu-check: no CUDA device (torch.cuda.is_available() is False); run it on a machine with an NVIDIA GPU"


@dataclass(frozen=True)
class CheckSettings:
    out: Path = REPO / "runs" / "gpu-check"
    gpt_batch: int = 16  # x 1024 positions
    bert_batch: int = 32  # x 512 positions
    bench_steps: int = 5  # timed steps per round
    bench_rounds: int = 3
    pretrain_steps: int = 100
    resume_at: int = 50
    log_every: int = 10
    trainer: str = "configs/trainer/gpu.yaml"  # the pretraining and resume runs (a test runs them with cpu.yaml)
    ddp_trainer: str = "configs/trainer/ddp.yaml"
    part_timeout_s: int = 240  # any one subprocess at most
    budget_s: float = 480.0  # the whole check; a subprocess gets what is left (the throughput part runs in process)
    deadline: float = float("inf")  # time.monotonic() by which everything should have ended; set by main


def main(argv: list[str] | None = None) -> int:
    if not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 1
    settings = CheckSettings(**({"out": Path(argv[0])} if argv else {}))
    settings = replace(settings, deadline=time.monotonic() + settings.budget_s)
    settings.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
        "flash_sdp_enabled": torch.backends.cuda.flash_sdp_enabled(),
    }
    report["cuda_tests"] = _timed(cuda_tests, settings)
    report["throughput"] = _timed(throughput, settings)
    report["pretrain_resume"] = _timed(pretrain_resume, settings)
    report["ddp_nccl"] = _timed(ddp_one_rank, settings)
    rows = report["throughput"].get("rows", [])
    gpt = next((r for r in rows if r["family"] == "gpt" and r["implementation"] == "ours"), None)
    report["mfu_goal"] = {"model": "gpt2-small", "goal": MFU_GOAL, "mfu": gpt and gpt["mfu"],
                          "met": bool(gpt and gpt["mfu"] is not None and gpt["mfu"] >= MFU_GOAL)}
    report["ok"] = all(report[k].get("ok", False) for k in ("cuda_tests", "throughput", "pretrain_resume", "ddp_nccl"))
    report["elapsed_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


def cuda_tests(settings: CheckSettings) -> dict[str, Any]:
    """pytest -m cuda: the counts from its summary line."""
    done = _run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "tests"], settings)
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)",
                                                     done["tail"])}
    return {**done, **counts, "ok": done["rc"] == 0 and counts.get("passed", 0) > 0 and not counts.get("failed")}


def throughput(settings: CheckSettings) -> dict[str, Any]:
    """Ours vs Hugging Face, bf16 autocast + torch.compile, on the base presets at their full length."""
    from pretrain.bench.training import BenchSettings, bench_family
    from pretrain.blocks.config import TransformerConfig

    rows = []
    for family, preset, seq, batch in (("gpt", "gpt2-small", 1024, settings.gpt_batch),
                                       ("bert", "bert-base", 512, settings.bert_batch)):
        config = TransformerConfig.from_yaml(REPO / "configs/model" / f"{preset}.yaml")
        bench = BenchSettings(seq_len=seq, batch_size=batch, steps=settings.bench_steps, rounds=settings.bench_rounds,
                              warmup=3, compile=True)  # the warm-up steps pay for compilation
        for row in bench_family(family, config, bench, torch.device("cuda")):
            rows.append({**asdict(row), "preset": preset})
        torch.cuda.empty_cache()
    return {"rows": rows, "ok": all(r["tokens_per_s"] > 0 for r in rows)}


def pretrain_resume(settings: CheckSettings) -> dict[str, Any]:
    """100 steps with a checkpoint at step 50, then steps 51-100 again from that checkpoint: same losses?"""
    from pretrain.compare.running.runs import read_metrics_csv

    full, resumed = settings.out / "pretrain-full", settings.out / "pretrain-resumed"
    first = _run(_pretrain_args(full, settings) + [
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.every_n_train_steps", str(settings.resume_at), "--trainer.callbacks.save_top_k", "-1",
        "--trainer.callbacks.filename", RunLayout.step_checkpoint_filename(RESUME_CHECKPOINTS)], settings)
    checkpoint = next(iter(RunLayout(full).checkpoints_at_step(RESUME_CHECKPOINTS, settings.resume_at)), None)
    if first["rc"] != 0 or checkpoint is None:
        return {"first": first, "ok": False, "error": "the first run failed or saved no step-50 checkpoint"}
    second = _run(_pretrain_args(resumed, settings) + ["--ckpt_path", str(checkpoint)], settings)
    if second["rc"] != 0:
        return {"first": first, "second": second, "ok": False}
    losses = [{int(r["step"]): r["train/loss"] for r in read_metrics_csv(d) if "train/loss" in r and "step" in r}
              for d in (full, resumed)]
    steps = sorted(s for s in losses[1] if s in losses[0] and s >= settings.resume_at)
    diffs = [abs(losses[0][s] - losses[1][s]) for s in steps]
    worst = max(diffs, default=float("nan"))
    # Bitwise on the CPU (tests/test_lightning_resume.py); on a GPU, kernels with atomics may differ in the last bits.
    return {"first_wall_s": first["wall_s"], "second_wall_s": second["wall_s"], "steps_compared": steps,
            "max_abs_loss_diff": worst, "exact": bool(steps) and worst == 0.0,
            "ok": bool(steps) and worst <= 1e-3}


def ddp_one_rank(settings: CheckSettings) -> dict[str, Any]:
    """configs/trainer/ddp.yaml (NCCL) on one device: the launcher, the process group and a few steps."""
    root = settings.out / "ddp"
    done = _run(["-m", "pretrain.cli", "fit", "--config", "configs/pretrain/gpt.yaml", "--config",
                 settings.ddp_trainer, "--trainer.devices", "1", "--trainer.max_steps", "10",
                 "--model.init_args.warmup_steps", "2", "--model.init_args.max_steps", "10",
                 "--trainer.val_check_interval", "10", "--trainer.limit_val_batches", "2",
                 "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false"], settings)
    return {**done, "ok": done["rc"] == 0 and RunLayout(root).metrics_file.is_file()}


def _pretrain_args(root: Path, settings: CheckSettings) -> list[str]:
    return ["-m", "pretrain.cli", "fit", "--config", "configs/pretrain/gpt.yaml", "--config", settings.trainer,
            "--trainer.max_steps", str(settings.pretrain_steps), "--model.init_args.max_steps",
            str(settings.pretrain_steps), "--model.init_args.warmup_steps", str(settings.pretrain_steps // 10),
            "--trainer.val_check_interval", str(settings.resume_at),
            "--trainer.limit_val_batches", "2", "--trainer.log_every_n_steps", str(settings.log_every),
            "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false"]


def _run(args: list[str], settings: CheckSettings) -> dict[str, Any]:
    """A subprocess from the repository root (python itself when args start with -m or a flag); its status,
    wall time and the last lines of its output."""
    command = [sys.executable, *args] if args[0].startswith("-") else args
    timeout = max(1.0, min(settings.part_timeout_s, settings.deadline - time.monotonic()))
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        rc, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        rc, output = 124, f"timed out after {timeout:.0f} s (the check's budget is {settings.budget_s:.0f} s)"
    return {"rc": rc, "wall_s": round(time.perf_counter() - start, 1), "tail": "\n".join(output.splitlines()[-8:])}


def _timed(part: Any, settings: CheckSettings) -> dict[str, Any]:
    """One part of the check; an exception is recorded, not raised, so the other parts still run."""
    start = time.perf_counter()
    try:
        result = part(settings)
    except Exception as error:  # a failing part must not hide the others' results
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {**result, "part_wall_s": round(time.perf_counter() - start, 1)}
