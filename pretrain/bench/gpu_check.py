"""The one-GPU check (`make gpu-check`, `python scripts/gpu_check.py`): what a GPU owner runs on one GPU, in at most
8 minutes, before renting many. It prints one JSON object:

- cuda_tests: the tests marked `cuda` (bf16 autocast, flash SDPA, torch.compile, fused AdamW on CUDA), run by pytest;
- plan_throughput: the real plan's presets (configs/compare/real.yaml: bert-base-matched / gpt-base-matched at its
  seq_len, batch and vocabulary size) trained through the `pretrain` command on configs/trainer/gpu.yaml with
  compile on: the logged tokens/s and MFU of the steps after the first few (compilation); the goal on a Hopper GPU
  is the GPT preset at 40% MFU or more (`mfu_goal`);
- throughput: the classic layouts beside them, gpt2-small (seq 1024) and bert-base (seq 512), ours next to the same
  model from Hugging Face (`pretrain.bench.training.bench_family`), bf16 autocast and torch.compile;
- pretrain_resume: a 100-step GPT pretraining through the `pretrain` command with a checkpoint at step 50, and a
  second run resumed from that checkpoint: the training losses of steps 51-100 compared with the first run's;
- ddp_nccl: a one-rank DDP launch (configs/trainer/ddp.yaml, NCCL) of 10 steps.

Every part runs in its own process, killed when the check's 8 minutes (`budget_s`) are spent: a part that has not
finished by then is reported as timed out, one that could not start as skipped. MFU divides by the dense bf16 peak
(pretrain.lightning.peaks) and counts BERT's vocabulary projection at its masked positions only. Without CUDA it
exits at once with status 1 and one line saying so. `ok` is true when every part ran and passed (the MFU goal is
reported, not required). The check has not been run on a GPU where it was written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import yaml

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
    plan: str = "configs/compare/real.yaml"  # whose presets, seq_len, batch and vocabulary plan_throughput trains
    plan_steps: int = 30  # per preset; the first `plan_warmup` (compilation, the data loader's start) are left out
    plan_warmup: int = 10
    plan_compile: bool = True  # torch.compile per block, as a GPU run would (a CPU test turns it off)
    part_timeout_s: int = 240  # any one subprocess at most
    budget_s: float = 480.0  # the whole check: every part is a subprocess, given at most what is left of it
    deadline: float = float("inf")  # time.monotonic() by which everything should have ended; set by main


PART_FLAG = "--part"  # `gpu_check.py --part NAME FILE`: run one in-process part, its JSON into FILE (how main runs it)


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    if not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 1
    if argv[:1] == [PART_FLAG]:
        name, out = argv[1], Path(argv[2])
        out.write_text(json.dumps(IN_PROCESS_PARTS[name](CheckSettings(out=out.parent))))
        return 0
    settings = CheckSettings(**({"out": Path(argv[0])} if argv else {}))
    settings = replace(settings, deadline=time.monotonic() + settings.budget_s)
    settings.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
        "flash_sdp_enabled": torch.backends.cuda.flash_sdp_enabled(),
    }
    parts = {"cuda_tests": cuda_tests, "plan_throughput": plan_throughput, "throughput": in_subprocess("throughput"),
             "pretrain_resume": pretrain_resume, "ddp_nccl": ddp_one_rank}
    for name, part in parts.items():
        report[name] = _timed(part, settings)
    gpt = report["plan_throughput"].get("gpt", {})
    report["mfu_goal"] = {"model": gpt.get("preset"), "goal": MFU_GOAL, "mfu": gpt.get("mfu"),
                          "met": gpt.get("mfu") is not None and gpt["mfu"] >= MFU_GOAL}
    report["ok"] = all(report[k].get("ok", False) for k in parts)
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


IN_PROCESS_PARTS = {"throughput": throughput}


def in_subprocess(name: str) -> Callable[[CheckSettings], dict[str, Any]]:
    """The in-process part `name` run as `gpu_check.py --part NAME FILE`, so the budget bounds it as the others."""
    def part(settings: CheckSettings) -> dict[str, Any]:
        out = settings.out / f"{name}.json"
        out.unlink(missing_ok=True)
        done = _run(["-m", "pretrain.bench.gpu_check", PART_FLAG, name, str(out)], settings)
        if done["rc"] != 0 or not out.is_file():
            return {**done, "ok": False}
        return json.loads(out.read_text())
    return part


def plan_throughput(settings: CheckSettings) -> dict[str, Any]:
    """The plan's presets at its seq_len, batch and vocabulary through the `pretrain` command (gpu.yaml, compile on):
    the median logged tokens/s and MFU of the steps after the warm-up ones."""
    from pretrain.compare.running.runs import read_metrics_csv

    plan = yaml.safe_load((REPO / settings.plan).read_text())
    p = plan["pretrain"]
    result: dict[str, Any] = {"plan": settings.plan, "seq_len": p["seq_len"], "batch_size": p["batch_size"]}
    for family in ("bert", "gpt"):
        preset = plan[f"{family}_model"]
        root = settings.out / f"plan-{family}"
        done = _run(["-m", "pretrain.cli", "fit", "--config", f"configs/pretrain/{family}.yaml", "--config",
                     settings.trainer, "--model.init_args.config", f"configs/model/{preset}.yaml",
                     "--model.init_args.compile", str(settings.plan_compile).lower(),
                     "--model.init_args.warmup_steps", "2",
                     "--model.init_args.max_steps", str(settings.plan_steps),
                     "--data.init_args.max_length", str(p["seq_len"]), "--data.init_args.batch_size",
                     str(p["batch_size"]), "--data.init_args.vocab_size", str(p["vocab_size"]),
                     "--trainer.max_steps", str(settings.plan_steps), "--trainer.log_every_n_steps", "1",
                     "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false",
                     "--trainer.default_root_dir", str(root)], settings)
        rows = [r for r in read_metrics_csv(root) if "train/tokens_per_sec" in r] if done["rc"] == 0 else []
        later = [r for r in rows if r.get("step", 0) >= settings.plan_warmup]
        rate = _median([r["train/tokens_per_sec"] for r in later])
        mfu = _median([r["train/mfu"] for r in later if "train/mfu" in r])
        result[family] = {"preset": preset, "rc": done["rc"], "wall_s": done["wall_s"], "steps_timed": len(later),
                          "tokens_per_s": rate, "mfu": mfu, **({"tail": done["tail"]} if done["rc"] else {})}
    result["ok"] = all(result[f]["rc"] == 0 and result[f]["tokens_per_s"] for f in ("bert", "gpt"))
    return result


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


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
    left = settings.deadline - time.monotonic()
    if left < 1.0:
        return {"rc": 125, "wall_s": 0.0, "tail": f"skipped: the check's budget of {settings.budget_s:.0f} s is spent"}
    timeout = min(settings.part_timeout_s, left)
    start = time.perf_counter()
    # Its own process group, so a timeout ends what it started too (DataLoader workers, DDP ranks, compile workers).
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        output, _ = child.communicate(timeout=timeout)
        rc = child.returncode
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
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
