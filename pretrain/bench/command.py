"""The benchmark command (`python scripts/bench.py`): options, the printed table and the JSON rows.

    python scripts/bench.py                      # CPU fp32, the standard config (bert-mini / gpt-mini shape)
    python scripts/bench.py --cpu-bf16           # the same with bf16 autocast on the CPU
    python scripts/bench.py --json bench.json    # also write the rows
    python scripts/bench.py --bert-config configs/model/bert-base.yaml --gpt-config configs/model/gpt2-small.yaml \\
        --seq-len 1024 --batch-size 8 --device cuda --compile   # GPU: bf16 autocast, MFU
    python scripts/bench.py --prepare wiki.test.raw --prepare-copies 420   # preparing a WikiText-103-sized corpus

Each model trains (forward, backward, AdamW step) on random tokens. Rounds alternate ours/HF
so that load from other processes hits both alike; the median round is reported. The HF
model is `pretrain.hf.to_hf(ours)`: same architecture, same initial weights.

Memory: on CUDA the peak of torch.cuda.max_memory_allocated over a step. On CPU there is no
allocator statistic, so the column is the bytes of activations saved for backward during one
step (unique storages, parameters excluded): the dominant, model-dependent part of training memory.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from pretrain.bench.data import data_throughput
from pretrain.bench.preparation import preparation_cost
from pretrain.bench.training import BenchSettings, Row, bench_family
from pretrain.blocks.config import TransformerConfig
from pretrain.data.caching import atomic_write
from pretrain.family import FAMILIES
from pretrain.run_config import REPO


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bert-config", default=str(REPO / "configs/model/bert-mini.yaml"))
    p.add_argument("--gpt-config", default=str(REPO / "configs/model/gpt-mini.yaml"))
    p.add_argument("--families", default="bert,gpt", help="comma-separated: bert, gpt")
    p.add_argument("--seq-len", type=int, default=BenchSettings.seq_len)
    p.add_argument("--batch-size", type=int, default=BenchSettings.batch_size)
    p.add_argument("--steps", type=int, default=BenchSettings.steps, help="timed training steps per model per round")
    p.add_argument("--rounds", type=int, default=BenchSettings.rounds, help="interleaved rounds; medians are reported")
    p.add_argument("--warmup", type=int, default=BenchSettings.warmup, help="untimed steps per model first")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--fp32", action="store_true", help="on CUDA, train in fp32 instead of bf16 autocast")
    p.add_argument("--cpu-bf16", action="store_true",
                   help="on CPU, train with bf16 autocast (fast on CPUs with AVX512-BF16 or AMX; "
                        "compare with a run without)")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--peak-flops", type=float, default=None, help="device peak FLOP/s for MFU (default: by GPU name)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--seed", type=int, default=BenchSettings.seed)
    p.add_argument("--data", action="store_true", help="also time tokenization and the data modules")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    p.add_argument("--prepare", type=Path, default=None, metavar="FILE",
                   help="instead of training: time and peak memory of preparing FILE x --prepare-copies as a "
                        "WikiText-format pretraining corpus (the real plan's 32,768-token vocabulary, 512 positions)")
    p.add_argument("--prepare-copies", type=int, default=1, help="copies of --prepare's file in the corpus")
    p.add_argument("--prepare-dupe-factor", type=int, default=10, help="BERT's copies of its NSP pairs")
    p.add_argument("--num-proc", type=int, default=None, help="tokenization processes (default: none)")
    args = p.parse_args(argv)
    for name in ("seq_len", "batch_size", "steps", "rounds", "prepare_copies", "prepare_dupe_factor"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    if not families or set(families) - set(FAMILIES):
        p.error(f"--families {args.families!r}: choose from {', '.join(FAMILIES)}")
    args.families = families
    return args


def settings_of(args: argparse.Namespace) -> BenchSettings:
    return BenchSettings(
        seq_len=args.seq_len, batch_size=args.batch_size, steps=args.steps, rounds=args.rounds, warmup=args.warmup,
        fp32=args.fp32, cpu_bf16=args.cpu_bf16, compile=args.compile, peak_flops=args.peak_flops, seed=args.seed,
    )


def print_rows(rows: list[Row]) -> None:
    print(f"{'family':<6} {'impl':<5} {'tokens/s':>10} {'ours/HF':>8} {'memory MiB':>11} {'MFU':>6}  memory kind")
    for r in rows:
        ratio = f"{r.ratio_ours_over_hf:.2f}x" if r.ratio_ours_over_hf else ""
        mfu = f"{r.mfu:.1%}" if r.mfu is not None else "-"
        print(f"{r.family:<6} {r.implementation:<5} {r.tokens_per_s:>10,.0f} {ratio:>8} {r.memory_mib:>11.1f} "
              f"{mfu:>6}  {r.memory_kind}")
    for r in rows:
        if r.note:
            print(f"note ({r.family}): {r.note}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.prepare is not None:
        if not args.prepare.is_file():
            raise SystemExit(f"bench.py: --prepare {args.prepare}: no such file")
        cost = preparation_cost(args.prepare, args.prepare_copies, args.families, dupe_factor=args.prepare_dupe_factor,
                                num_proc=args.num_proc)
        text = json.dumps(cost, indent=2)
        print(text)
        if args.json:
            atomic_write(args.json, lambda tmp: tmp.write_text(text))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    configs = {"bert": args.bert_config, "gpt": args.gpt_config}
    settings = settings_of(args)
    rows: list[Row] = []
    for family in args.families:
        rows += bench_family(family, TransformerConfig.from_yaml(configs[family]), settings, device)
    print_rows(rows)
    payload: dict[str, Any] = {"rows": [asdict(r) for r in rows], "args": {k: str(v) for k, v in vars(args).items()}}
    if args.data:
        payload["data"] = data_throughput(args.cache_dir)
        print(json.dumps(payload["data"], indent=2))
    if args.json:
        text = json.dumps(payload, indent=2)
        atomic_write(args.json, lambda tmp: tmp.write_text(text))
        print(f"wrote {args.json}")
